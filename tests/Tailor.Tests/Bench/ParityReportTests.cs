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
    public void Table_IsMarkdown_OneRowPerModel_WithTheRefusalInItsCell()
    {
        string table = ParityReport.Table([
            new ParityReport.Row("squeezenet", ["/a/Conv", "/b/Conv"], 7.9e-6, 4.4e-3, true),
            new ParityReport.Row("efficientnet", ["/c/Gemm"], 2e-1, 1e-3, true, WorstTensor: "c.weight"),
            new ParityReport.Row("mobilenet", ["/d/Conv"], null, null, null, Refusal: "Clip node 'x|y': min must be a frozen initializer"),
        ]);
        var lines = table.TrimEnd().Split('\n');
        Assert.Equal(5, lines.Length);
        Assert.StartsWith("| model | layers trained | SGD rel. error (1 step) | Adam rel. error (3 steps) | frozen unchanged | verdict |", lines[0]);
        Assert.Equal("| squeezenet | `/a/Conv`, `/b/Conv` | 7.9e-6 | 4.4e-3 | yes | match |", lines[2]);
        Assert.Equal("| efficientnet | `/c/Gemm` | 2.0e-1 | 1.0e-3 | yes | MISMATCH (worst: `c.weight`) |", lines[3]);
        Assert.Equal(@"| mobilenet | `/d/Conv` | — | — | — | cannot train yet: Clip node 'x\|y': min must be a frozen initializer |", lines[4]);
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
