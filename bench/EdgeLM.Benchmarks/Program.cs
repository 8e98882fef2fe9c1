// Entry point: BenchmarkDotNet's switcher, so the usual options work, e.g.
//   dotnet run -c Release --project bench/EdgeLM.Benchmarks -- --filter '*MatVec*' --job short
// Add --inProcess to skip building a separate benchmark process per job (quicker, a little noisier).
using BenchmarkDotNet.Running;

namespace EdgeLM.Benchmarks;

public static class Program
{
    public static void Main(string[] args) => BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
}
