using System.Globalization;
using System.Diagnostics;

namespace Tailor.Bench;

/// <summary>Seconds per call of an operation: the median over samples, with the fastest and slowest.</summary>
internal readonly record struct Timing(double Median, double Min, double Max, int Samples, long CallsPerSample)
{
    /// <summary>Relative spread (max − min) / median: how noisy the machine was while this was measured.</summary>
    public double Spread => (Max - Min) / Median;
}

/// <summary>
/// A small Stopwatch harness (BenchmarkDotNet's process-per-benchmark runs would take minutes for these few
/// shapes): warm up until the JIT has settled, calibrate how many calls make one sample last
/// <c>sampleSeconds</c>, then take samples and report the median, which a busy neighbour disturbs least.
/// </summary>
internal static class Measure
{
    public static Timing Time(Action operation, double sampleSeconds = 0.02, int samples = 15, double warmupSeconds = 0.5)
    {
        // Warm-up: at least three calls and warmupSeconds. Tiered compilation promotes a method to optimized code only
        // after 30 calls and a quiet 100 ms, compiling in the background: a shorter warm-up times tier-0 code.
        var clock = Stopwatch.StartNew();
        long calls = 0;
        while (calls < 3 || clock.Elapsed.TotalSeconds < warmupSeconds)
        {
            operation();
            calls++;
        }
        double perCall = clock.Elapsed.TotalSeconds / calls;
        long perSample = Math.Max(1, (long)Math.Ceiling(sampleSeconds / Math.Max(perCall, 1e-9)));
        var times = new double[samples];
        for (int s = 0; s < samples; s++)
        {
            clock.Restart();
            for (long i = 0; i < perSample; i++) operation();
            times[s] = clock.Elapsed.TotalSeconds / perSample;
        }
        Array.Sort(times);
        return new Timing(times[samples / 2], times[0], times[^1], samples, perSample);
    }

    /// <summary>JSON as the tool's own --json output writes it: snake_case keys, indented, labels unescaped.</summary>
    public static readonly System.Text.Json.JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = System.Text.Json.JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    public static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        int mid = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    }

    /// <summary>Whether Tailor.dll was compiled with optimizations (a Debug build runs the engine unoptimized).</summary>
    public static bool TailorIsOptimized =>
        typeof(Tailor.UpdatableModel).Assembly.GetCustomAttributes(typeof(DebuggableAttribute), false) is not [DebuggableAttribute { IsJITOptimizerDisabled: true }];

    /// <summary>Warns on stderr when the numbers would mean little.</summary>
    public static void WarnIfDebug()
    {
        if (!TailorIsOptimized)
            Console.Error.WriteLine("warning: Debug build; run with -c Release for figures (the JIT does not optimize Debug assemblies).");
    }

    /// <summary>"1 image", "3 images".</summary>
    public static string Count(int n, string noun) => $"{n.ToString(CultureInfo.InvariantCulture)} {noun}{(n == 1 ? "" : "s")}";
}
