using System.Diagnostics;
using System.Globalization;
using System.Text.Json;

namespace Tailor.Bench;

/// <summary>
/// Peak memory of the README's C# sample (samples/Quickstart: prepare, train, save, predict and evaluate in one
/// process) against the same work as the CLI's three steps, each in its own process (the baseline, measured in the
/// same run). Every workload runs in a fresh process whose peak resident set (VmHWM) is read from /proc while it runs:
/// a process that ran other work first keeps memory that neither the GC nor the native allocators hand back.
/// </summary>
internal static class MemoryBenchmarks
{
    internal sealed record Workload(string Name, double PeakMb, double Seconds);

    public static int Run(bool json)
    {
        if (!OperatingSystem.IsLinux())
        {
            Console.Error.WriteLine("bench memory reads /proc/PID/status (VmHWM): Linux only.");
            return 1;
        }
        string hands = FeatureSets.HandsRoot();
        string train = Path.Combine(hands, "train"), test = Path.Combine(hands, "test");
        string dir = Directory.CreateTempSubdirectory("tailor-bench-memory").FullName;
        try
        {
            string bin = AppContext.BaseDirectory;
            string quickstart = Path.Combine(bin, "Quickstart.dll"), cli = Path.Combine(bin, "Tailor.Cli.dll");
            string model = Path.Combine(dir, "hands.onnx");
            var sample = Measure("README sample, one process (prepare, train, save, predict, evaluate)", quickstart, train, test, Path.Combine(dir, "sample.onnx"));
            var steps = new[]
            {
                Measure("tailor prepare", cli, "prepare", "--labels", "✊,✋,✌️", "--out", model),
                Measure("tailor train (with --validation)", cli, "train", model, "--data", train, "--validation", test),
                Measure("tailor evaluate", cli, "evaluate", model, "--data", test),
            };
            double baseline = steps.Max(s => s.PeakMb);
            if (json)
            {
                Console.WriteLine(JsonSerializer.Serialize(new { sample, steps, ratio = sample.PeakMb / baseline, target_mb = 700 }));
                return 0;
            }
            var c = CultureInfo.InvariantCulture;
            Console.WriteLine($"bench memory: peak resident memory (VmHWM) of fresh processes, hands data ({train})");
            foreach (var w in steps.Prepend(sample))
                Console.WriteLine(string.Create(c, $"  {w.Name,-72} {w.PeakMb,6:F0} MB  ({w.Seconds:F1} s)"));
            Console.WriteLine(string.Create(c, $"  README sample ÷ the largest CLI step: {sample.PeakMb / baseline:F2}×  (target: sample ≤ 700 MB)"));
            Console.WriteLine("Figures from this run only; on a shared machine, rerun before quoting them.");
            return 0;
        }
        finally
        {
            try { Directory.Delete(dir, recursive: true); } catch (IOException) { }
        }
    }

    /// <summary>Runs <c>dotnet DLL ARGS</c> and returns its peak resident memory, polled every 10 ms (VmHWM only grows,
    /// so the last reading before the exit misses at most the final 10 ms).</summary>
    private static Workload Measure(string name, string dll, params string[] args)
    {
        Console.Error.WriteLine($"[memory] {name}…");
        var psi = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        psi.ArgumentList.Add(dll);
        foreach (var a in args) psi.ArgumentList.Add(a);
        var clock = Stopwatch.StartNew();
        using var process = Process.Start(psi) ?? throw new InvalidOperationException($"Could not start {dll}.");
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        double peakKb = 0;
        string status = $"/proc/{process.Id}/status";
        while (!process.HasExited)
        {
            try
            {
                foreach (var line in File.ReadLines(status))
                    if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
                        peakKb = Math.Max(peakKb, double.Parse(line[6..].Trim().Split(' ')[0], CultureInfo.InvariantCulture));
            }
            catch (IOException) { }   // the process exited between the check and the read
            Thread.Sleep(10);
        }
        process.WaitForExit();
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"{name} failed (exit {process.ExitCode}):\n{output.Result}\n{errors.Result}");
        return new Workload(name, peakKb / 1024, clock.Elapsed.TotalSeconds);
    }
}
