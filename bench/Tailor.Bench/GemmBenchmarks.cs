using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;

namespace Tailor.Bench;

/// <summary>
/// The GEMM shapes of <see cref="KernelBenchmarks"/> under BenchmarkDotNet, for when its statistics are worth the
/// wait. Each shape's baseline is the single-thread FMA peak loop doing the same number of FLOPs, so BenchmarkDotNet's
/// Ratio column is (GEMM time) / (peak time) = 1 / (fraction of one core's peak); below 1 means the GEMM split the
/// work across cores (shapes above its parallel threshold do).
/// </summary>
public class GemmBenchmarks
{
    private Action _gemm = () => { };
    private long _iterations;

    /// <summary>A shape id of <see cref="KernelBenchmarks.Shapes"/>.</summary>
    [ParamsSource(nameof(ShapeIds))]
    public string Shape { get; set; } = "";

    public static IEnumerable<string> ShapeIds => KernelBenchmarks.Shapes.Select(s => s.Id);

    [GlobalSetup]
    public void Setup()
    {
        var shape = KernelBenchmarks.Shapes.Single(s => s.Id == Shape);
        _gemm = KernelBenchmarks.GemmCall(shape);
        _iterations = Math.Max(1, (long)Math.Round(shape.Flop / KernelBenchmarks.PeakFlopPerIteration));
    }

    [Benchmark(Baseline = true, Description = "FMA peak, same FLOPs, 1 thread")]
    public float FmaPeak() => KernelBenchmarks.PeakLoop(_iterations);

    [Benchmark(Description = "Tailor GEMM")]
    public void Gemm() => _gemm();

    /// <summary>Runs in this process (no generated project to build) with a short job: a few minutes for all shapes.</summary>
    public static int Run(string[] args)
    {
        // Reports go next to the binary (under bin/, which git ignores), not into whatever folder it was started from.
        var config = DefaultConfig.Instance.AddJob(Job.ShortRun.WithToolchain(InProcessEmitToolchain.Instance))
            .WithArtifactsPath(Path.Combine(AppContext.BaseDirectory, "BenchmarkDotNet.Artifacts"));
        BenchmarkSwitcher.FromTypes([typeof(GemmBenchmarks)]).Run(args.Length == 0 ? ["--filter", "*"] : args, config);
        return 0;
    }
}
