using System.Diagnostics;
using System.Text.Json;

namespace Tailor.Tests.Bench;

/// <summary>
/// A fact that runs only where Debian's PyTorch is installed (<c>/usr/bin/python3</c>, or <c>$TAILOR_TORCH_PYTHON</c>,
/// imports torch and onnx); elsewhere — CI — it is reported as skipped with the reason.
/// </summary>
public sealed class TorchFactAttribute : FactAttribute
{
    private static readonly Lazy<string?> Missing = new(() =>
    {
        string python = Environment.GetEnvironmentVariable("TAILOR_TORCH_PYTHON") is { Length: > 0 } p ? p : "/usr/bin/python3";
        if (!File.Exists(python)) return $"PyTorch is not installed ({python} does not exist): apt-get install python3-torch python3-torchvision python3-onnx";
        var psi = new ProcessStartInfo(python) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { "-c", "import torch, onnx" }) psi.ArgumentList.Add(a);
        psi.Environment["PYTHONNOUSERSITE"] = "1";
        psi.Environment.Remove("PYTHONPATH");
        using var process = Process.Start(psi)!;
        process.StandardOutput.ReadToEnd();
        process.StandardError.ReadToEnd();
        process.WaitForExit();
        return process.ExitCode == 0 ? null : $"{python} cannot import torch and onnx: apt-get install python3-torch python3-torchvision python3-onnx";
    });

    public TorchFactAttribute()
    {
        if (Missing.Value is string why) Skip = why;
    }
}

/// <summary>The parity tool (bench/Tailor.Bench <c>parity</c>) against PyTorch on one exported squeezenet; never in CI
/// (no PyTorch there: skipped).</summary>
[Trait("Category", "Slow")]
public class TorchParityTests
{
    [TorchFact]
    public void Parity_SqueezeNetOpset9_SgdAndEachAdamStepMatchPyTorch_AndFrozenTensorsStay()
    {
        const string model = "squeezenet1_1-opset9";
        using var models = new Images.TempFolder();
        // A folder with the one model: a link to the shared export, never a copy in the repository.
        File.CreateSymbolicLink(Path.Combine(models.Path, model + ".onnx"), Path.Combine(SharedData.Models, model + ".onnx"));

        var run = BenchRunner.Run(null, "parity", "--models", models.Path, "--json");

        Assert.True(run.ExitCode is 0 or 1, run.Stderr);   // 1: a mismatch, reported in the table, not a crash
        using var doc = JsonDocument.Parse(run.Stdout);
        var row = Assert.Single(doc.RootElement.GetProperty("models").EnumerateArray());
        Assert.Equal(model, row.GetProperty("model").GetString());
        Assert.Equal(4, row.GetProperty("layers").GetArrayLength());   // fire module 12 (3 convolutions) + the classifier
        Assert.True(row.GetProperty("frozen_unchanged").GetBoolean());
        double sgd = row.GetProperty("sgd_error").GetDouble();
        Assert.True(sgd <= 1e-2, $"SGD relative error {sgd}\n{run.Stdout}");
        // Every trained tensor is compared: the fire module's weights and biases and the classifier's.
        Assert.Equal(8, row.GetProperty("tensors").GetProperty("sgd").EnumerateObject().Count());
        // Three Adam steps, each from Tailor's weights before it: the gradients at the same point agree to float noise,
        // and the updates within 1e-2 with the noise-floor elements left out (on the two free-running trajectories this
        // export drifted to 0.10: Adam turns rounding-level gradients into ±lr, the drift feeds the later steps).
        double gradients = row.GetProperty("gradient_error").GetDouble();
        Assert.True(gradients <= 1e-3, $"gradient relative error {gradients}\n{run.Stdout}");
        double adam = row.GetProperty("adam_error").GetDouble();
        Assert.True(adam <= 1e-2, $"Adam relative error {adam}\n{run.Stdout}");
        Assert.Equal(8, row.GetProperty("tensors").GetProperty("adam_steps").EnumerateObject().Count());
        Assert.True(row.TryGetProperty("adam_drift", out _));
    }
}
