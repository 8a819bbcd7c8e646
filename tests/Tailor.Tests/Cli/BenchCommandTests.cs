using System.Text.Json;
using Tailor.Tests.Images;

namespace Tailor.Tests.Cli;

/// <summary>
/// A smoke run of the training benchmark (bench/Tailor.Bench <c>train</c>): it completes and prints the JSON contract.
/// Nothing here asserts on time — benchmarks measure performance, tests check that the benchmark works. The tool's
/// <c>tailor bench train</c> only says where the benchmark is.
/// </summary>
[Trait("Category", "Slow")]
public class BenchCommandTests
{
    /// <summary>Runs bench/Tailor.Bench (built beside the tests' configuration) in its own process.</summary>
    private static CliRunner.Result RunBench(params string[] args)
    {
        string configuration = new DirectoryInfo(Path.TrimEndingDirectorySeparator(AppContext.BaseDirectory)).Parent!.Name;
        string dll = Path.Combine(ReadmeTests.RepositoryRoot(), "bench", "Tailor.Bench", "bin", configuration, "net10.0", "Tailor.Bench.dll");
        Assert.True(File.Exists(dll), $"{dll} is not built");
        var psi = CliRunner.StartInfo(null, args);
        psi.ArgumentList[0] = dll;
        using var p = System.Diagnostics.Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromMinutes(10))) { p.Kill(true); throw new TimeoutException("Tailor.Bench " + string.Join(" ", args)); }
        return new CliRunner.Result(p.ExitCode, stdout.Result, stderr.Result);
    }

    [Fact]
    public void TailorBenchTrain_SaysWhereTheBenchmarkIs()
    {
        var run = CliRunner.Run("bench", "train", "--epochs", "3");
        Assert.NotEqual(0, run.ExitCode);
        Assert.Contains("dotnet run -c Release --project bench/Tailor.Bench -- train --epochs 3", run.Stderr);
    }

    [Fact]
    public void BenchTrain_Json_SmallData_HasEveryKeyWithSaneValues()
    {
        // Two photos per label keep the run to a few seconds; the figures themselves mean nothing at this size.
        using var data = new TempFolder();
        foreach (var labelDir in Directory.GetDirectories(TestData.HandsTrain))
        {
            string target = Directory.CreateDirectory(Path.Combine(data.Path, Path.GetFileName(labelDir))).FullName;
            foreach (var file in Directory.GetFiles(labelDir).Order(StringComparer.Ordinal).Take(2))
                File.Copy(file, Path.Combine(target, Path.GetFileName(file)));
        }

        var run = RunBench("train", "--json", "--data", data.Path, "--epochs", "1", "--tasks", "2", "--repeats", "1");

        Assert.True(run.ExitCode == 0, run.Stderr);
        Assert.Contains("bench train:", run.Stderr); // progress goes to stderr, so stdout is the JSON alone
        using var doc = JsonDocument.Parse(run.Stdout);
        var root = doc.RootElement;
        foreach (var key in new[] { "feature_seconds", "epoch_seconds_cached", "recompute_epoch_seconds", "speedup_10_epochs",
                     "images_per_second", "ort_images_per_second", "throughput_ratio", "peak_memory_mb", "ort_peak_memory_mb",
                     "memory_growth_mb", "memory_slope_mb_per_task" })
        {
            Assert.True(root.TryGetProperty(key, out var value), key);
            Assert.True(double.IsFinite(value.GetDouble()), $"{key} = {value}");
        }
        Assert.Equal(6, root.GetProperty("images").GetInt32());
        Assert.Equal(3, root.GetProperty("labels").GetInt32());
        Assert.Equal(1, root.GetProperty("speedup_scaled_from_epochs").GetInt32()); // fewer than 10 epochs: says it scaled
        Assert.Equal(2, root.GetProperty("rss_mb").GetArrayLength());
        foreach (var key in new[] { "feature_seconds", "epoch_seconds_cached", "recompute_epoch_seconds", "speedup_10_epochs", "throughput_ratio" })
            Assert.True(root.GetProperty(key).GetDouble() > 0, key);
        // The same comparison for the reference app's model (classifier only, SGD, batch 8), measured in the same run.
        var reference = root.GetProperty("reference");
        foreach (var key in new[] { "feature_seconds", "epoch_seconds_cached", "recompute_epoch_seconds", "speedup_10_epochs", "peak_memory_mb" })
            Assert.True(reference.GetProperty(key).GetDouble() > 0, "reference." + key);
        Assert.Equal(8, reference.GetProperty("batch_size").GetInt32());
        Assert.Contains("training classifier", reference.GetProperty("model").GetString());
        Assert.Contains("Convolution387", root.GetProperty("model").GetString());
        // A process that loaded ResNet18 holds tens of MB at least, and nothing here should come near 16 GB.
        Assert.InRange(root.GetProperty("peak_memory_mb").GetDouble(), 50, 16_384);
        Assert.InRange(root.GetProperty("ort_peak_memory_mb").GetDouble(), 50, 16_384);
    }

    [Fact]
    public void BenchTrain_MissingDataFolder_FailsWithAClearError()
    {
        var run = RunBench("train", "--data", "/nonexistent/tailor-bench-data");
        Assert.NotEqual(0, run.ExitCode);
        Assert.Contains("/nonexistent/tailor-bench-data", run.Stderr);
    }
}
