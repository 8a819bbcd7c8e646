using Tailor.Bench;
using Tailor.Tests.Cli;

namespace Tailor.Tests.Bench;

/// <summary>
/// The parity tool's own logic (bench/Tailor.Bench/ParityReport.cs, compiled into the tests), which needs no PyTorch:
/// the relative error of an update, the verdicts and the table; and that the tool says how to install PyTorch when the
/// interpreter cannot import it.
/// </summary>
public class ParityReportTests
{
    [Fact]
    public void RelativeError_IsTheLargestDeviationOfTheUpdate_OverTheLargestUpdate()
    {
        float[] before = [1f, 2f, 3f];
        float[] torch = [1.1f, 2f, 2.8f];      // Δtorch = [0.1, 0, −0.2]: max |Δtorch| = 0.2
        float[] close = [1.1f, 2.001f, 2.8f];  // off by 0.001 where PyTorch did not move: 0.005
        float[] far = [1.1f, 2f, 2.81f];       // off by 0.01 on the largest update: 0.05

        Assert.Equal(0.005, ParityReport.RelativeError(before, close, torch), 4);
        Assert.True(ParityReport.Passes(ParityReport.RelativeError(before, close, torch)));
        Assert.Equal(0.05, ParityReport.RelativeError(before, far, torch), 4);
        Assert.False(ParityReport.Passes(ParityReport.RelativeError(before, far, torch)));
    }

    [Fact]
    public void RelativeError_NoUpdateOnEitherSide_IsZero_OnlyTailorMoving_IsInfinite_NaNNeverPasses()
    {
        float[] before = [1f, -2f];
        Assert.Equal(0, ParityReport.RelativeError(before, before, before));
        double moved = ParityReport.RelativeError(before, [1f, -1.9f], before);
        Assert.True(double.IsPositiveInfinity(moved));
        Assert.False(ParityReport.Passes(moved));
        double nan = ParityReport.RelativeError(before, [float.NaN, -2f], [1.1f, -2f]);
        Assert.True(double.IsNaN(nan));
        Assert.False(ParityReport.Passes(nan));
        Assert.Throws<ArgumentException>(() => ParityReport.RelativeError(before, [1f], before));
    }

    [Fact]
    public void Verdicts_MatchNeedsBothErrorsAndFrozenTensors_RefusalIsNotAFailure()
    {
        string[] layers = ["fc"];
        Assert.Equal("match", new ParityReport.Row("m", layers, 1e-5, 9e-3, true).Verdict);
        Assert.Equal("MISMATCH", new ParityReport.Row("m", layers, 1e-5, 2e-2, true).Verdict);
        Assert.Equal("MISMATCH", new ParityReport.Row("m", layers, 1e-5, 1e-5, false).Verdict);
        Assert.Equal("MISMATCH", new ParityReport.Row("m", layers, double.NaN, 1e-5, true).Verdict);
        var refused = new ParityReport.Row("m", layers, null, null, null, Refusal: "op type 'HardSwish' is not supported");
        Assert.Equal("cannot train yet", refused.Verdict);
        Assert.True(refused.Ok);
        var failed = new ParityReport.Row("m", layers, null, null, null, Refusal: "IndexOutOfRangeException", Failed: true);
        Assert.Equal("Tailor failed", failed.Verdict);
        Assert.False(failed.Ok);
        Assert.False(new ParityReport.Row("m", layers, 1, 1, true).Ok);
    }

    [Fact]
    public void MaskedRelativeError_LeavesOutNoiseFloorGradients_ButNotAWrongUpdateOfARealGradient()
    {
        // Three elements after one Adam step of lr 0.01: a real gradient (1.0), one at the noise floor (1e-6: rounding,
        // which Adam turns into ±lr), one exactly zero in both engines (a dead ReLU: no update on either side).
        float[] before = [0f, 0f, 0f];
        float[] torch = [-0.01f, 0.01f, 0f];
        float[] noiseFlipped = [-0.01f, -0.01f, 0f];   // the noise-floor element went the other way
        float[] wrong = [-0.012f, 0.01f, 0f];          // the real gradient's update is 20% off (a broken op or optimizer)
        float[][] tailorG = [[1f, -1e-6f, 0f]], torchG = [[1f, 1e-6f, 0f]];

        // Unmasked, rounding noise looks like a 200% error; masked, it is left out (and counted).
        Assert.Equal(2.0, ParityReport.RelativeError(before, noiseFlipped, torch), 6);
        var (noise, masked) = ParityReport.MaskedRelativeError(before, noiseFlipped, torch, tailorG, torchG);
        Assert.Equal(0, noise);
        Assert.Equal(1, masked);
        // A wrong update of an element above the floor still fails.
        var (error, _) = ParityReport.MaskedRelativeError(before, wrong, torch, tailorG, torchG);
        Assert.Equal(0.2, error, 4);
        Assert.False(ParityReport.Passes(error));
        // An element is left out when it is at the floor at ANY step so far, in either engine (the floor is relative to
        // each step's largest gradient).
        float[][] tailor2 = [[1f, 0.5f, 0f], [100f, 5e-3f, 0f]], torch2 = [[1f, 0.5f, 0f], [100f, 5e-3f, 0f]];
        Assert.Equal(1, ParityReport.MaskedRelativeError(before, noiseFlipped, torch, tailor2, torch2).Masked);
        Assert.Throws<ArgumentException>(() => ParityReport.MaskedRelativeError(before, torch, torch, tailorG, [[1f]]));
    }

    [Fact]
    public void GradientError_IsTheLargestDeviation_OverTheLargestGradient_AndAMatchNeedsItWithinItsTolerance()
    {
        Assert.Equal(0.01, ParityReport.GradientError([2f, -0.01f], [2f, 0.01f]), 6);
        Assert.True(double.IsPositiveInfinity(ParityReport.GradientError([1e-3f], [0f])));
        string[] layers = ["fc"];
        Assert.Equal("match", new ParityReport.Row("m", layers, 1e-5, 1e-5, true, GradientError: 5e-4).Verdict);
        Assert.Equal("MISMATCH", new ParityReport.Row("m", layers, 1e-5, 1e-5, true, GradientError: 2e-3).Verdict);
        Assert.Equal("MISMATCH", new ParityReport.Row("m", layers, 1e-5, 1e-5, true, GradientError: double.NaN).Verdict);
    }

    [Fact]
    public void Table_IsMarkdown_OneRowPerModel_WithTheRefusalInItsCell()
    {
        string table = ParityReport.Table([
            new ParityReport.Row("squeezenet", ["/a/Conv", "/b/Conv"], 7.9e-6, 4.4e-3, true, GradientError: 1.2e-5, AdamDrift: 0.1),
            new ParityReport.Row("efficientnet", ["/c/Gemm"], 2e-1, 1e-3, true, WorstTensor: "c.weight"),
            new ParityReport.Row("mobilenet", ["/d/Conv"], null, null, null, Refusal: "Clip node 'x|y': min must be a frozen initializer"),
        ]);
        var lines = table.TrimEnd().Split('\n');
        Assert.Equal(5, lines.Length);
        Assert.StartsWith("| model | layers trained | gradient rel. error (4 steps) | SGD rel. error (1 step) | Adam rel. error (3 steps) | Adam free-run drift | frozen unchanged | verdict |", lines[0]);
        Assert.Equal("| squeezenet | `/a/Conv`, `/b/Conv` | 1.2e-5 | 7.9e-6 | 4.4e-3 | 1.0e-1 | yes | match |", lines[2]);
        Assert.Equal("| efficientnet | `/c/Gemm` | — | 2.0e-1 | 1.0e-3 | — | yes | MISMATCH (worst: `c.weight`) |", lines[3]);
        Assert.Equal(@"| mobilenet | `/d/Conv` | — | — | — | — | — | cannot train yet: Clip node 'x\|y': min must be a frozen initializer |", lines[4]);
    }

    [Fact]
    public void Parity_WithoutPyTorch_SaysHowToInstallIt_AndFails()
    {
        var run = BenchRunner.Run(new Dictionary<string, string> { ["TAILOR_TORCH_PYTHON"] = "/nonexistent/python3" }, "parity");
        Assert.Equal(2, run.ExitCode);
        Assert.Contains("apt-get install python3-torch python3-torchvision python3-onnx", run.Stderr);
        Assert.DoesNotContain("   at ", run.Stderr);
        Assert.Equal("", run.Stdout);
    }
}

/// <summary>bench/Tailor.Bench (built beside the tests' configuration) in its own process.</summary>
internal static class BenchRunner
{
    public static CliRunner.Result Run(IReadOnlyDictionary<string, string>? environment, params string[] args)
    {
        string configuration = new DirectoryInfo(Path.TrimEndingDirectorySeparator(AppContext.BaseDirectory)).Parent!.Name;
        string dll = Path.Combine(ReadmeTests.RepositoryRoot(), "bench", "Tailor.Bench", "bin", configuration, "net10.0", "Tailor.Bench.dll");
        Assert.True(File.Exists(dll), $"{dll} is not built");
        var psi = CliRunner.StartInfo(environment, args);
        psi.ArgumentList[0] = dll;
        using var p = System.Diagnostics.Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromMinutes(20))) { p.Kill(true); throw new TimeoutException("Tailor.Bench " + string.Join(" ", args)); }
        return new CliRunner.Result(p.ExitCode, stdout.Result, stderr.Result);
    }
}
