// edgelm: the command-line tool. stdout carries only results; progress and diagnostics go to stderr.
using System.CommandLine;
using System.Runtime.InteropServices;
using EdgeLM.Cli;

var root = new RootCommand("EdgeLM: run, inspect and convert small language models on the CPU, in managed code.");
foreach (var command in Commands.All()) root.Subcommands.Add(command);
var parse = root.Parse(args);

// Ctrl+C (and SIGTERM) cancel the command's token instead of killing the process: the command stops
// at its next check, removes any half-written file, and exits with 130. A second Ctrl+C kills.
using var cancel = new CancellationTokenSource();
void Stop(PosixSignalContext context)
{
    if (cancel.IsCancellationRequested) return;
    context.Cancel = true;
    cancel.Cancel();
}
using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);
try
{
    return await parse.InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null }, cancel.Token);
}
catch (OperationCanceledException)
{
    Console.Error.WriteLine("cancelled");
    return 130;
}
