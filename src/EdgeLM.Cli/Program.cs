// edgelm: the command-line tool. stdout carries only results; progress and diagnostics go to stderr.
using System.CommandLine;
using EdgeLM.Cli;

var root = new RootCommand("EdgeLM: run, inspect and convert small language models on the CPU, in managed code.");
foreach (var command in Commands.All()) root.Subcommands.Add(command);
var parse = root.Parse(args);
try
{
    return await parse.InvokeAsync();
}
catch (OperationCanceledException)
{
    Console.Error.WriteLine("cancelled");
    return 130;
}
