using System.Text.Json;
using Tailor.Tests.Images;

namespace Tailor.Tests.Cli;

/// <summary>
/// A smoke run of <c>tailor bench train</c>: it completes and prints the JSON contract. Nothing here asserts on
/// time — benchmarks measure performance, tests check that the benchmark works.
/// </summary>
public class BenchCommandTests
{
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

        var run = CliRunner.Run("bench", "train", "--json", "--data", data.Path, "--epochs", "1", "--tasks", "2", "--repeats", "1");

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
        var run = CliRunner.Run("bench", "train", "--data", "/nonexistent/tailor-bench-data");
        Assert.NotEqual(0, run.ExitCode);
        Assert.Contains("/nonexistent/tailor-bench-data", run.Stderr);
    }
}
