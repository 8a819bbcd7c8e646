using System.Diagnostics;
using System.Text;

namespace Tailor.Bench;

/// <summary>
/// Debian's PyTorch (python3-torch) as a peer that benchmarks and the parity tool run beside Tailor — never a dependency of
/// Tailor, its tests or CI. The interpreter is <c>/usr/bin/python3</c> (the system one that Debian's packages install into),
/// or <c>$TAILOR_TORCH_PYTHON</c> when set.
/// </summary>
internal static class PyTorchPeer
{
    public const string Variable = "TAILOR_TORCH_PYTHON";

    public const string InstallHint = "sudo apt-get install python3-torch python3-torchvision python3-onnx";

    public static string Python => Environment.GetEnvironmentVariable(Variable) is { Length: > 0 } p ? p : "/usr/bin/python3";

    /// <summary>The folder of the python scripts (bench/parity, copied beside the benchmark's binary).</summary>
    public static string ScriptFolder => Path.Combine(AppContext.BaseDirectory, "parity");

    /// <summary>Null when <c>import torch, onnx</c> works in <see cref="Python"/>; otherwise why not, with the install line.</summary>
    public static string? Unavailable()
    {
        if (!File.Exists(Python))
            return $"PyTorch not measured: {Python} does not exist. Install Debian's PyTorch: {InstallHint}.";
        var run = RunPython(["-c", "import torch, onnx; print(torch.__version__)"], null, TimeSpan.FromMinutes(2));
        return run.ExitCode == 0 ? null
            : $"PyTorch not measured: {Python} cannot import torch and onnx ({LastLine(run.Stderr)}). Install them: {InstallHint}.";
    }

    /// <summary>torch.__version__ (for the output's header).</summary>
    public static string Version() => RunPython(["-c", "import torch; print(torch.__version__)"], null, TimeSpan.FromMinutes(2)).Stdout.Trim();

    public sealed record Result(int ExitCode, string Stdout, string Stderr);

    /// <summary>Runs the python interpreter with <paramref name="args"/>, <paramref name="stdin"/> as its input.</summary>
    public static Result RunPython(IReadOnlyList<string> args, string? stdin, TimeSpan timeout)
    {
        var psi = new ProcessStartInfo(Python)
        {
            RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true,
            StandardOutputEncoding = Encoding.UTF8, StandardErrorEncoding = Encoding.UTF8, UseShellExecute = false,
        };
        foreach (var a in args) psi.ArgumentList.Add(a);
        // The system interpreter with its own packages only: no user site, no PYTHONPATH of a pyenv shell.
        psi.Environment.Remove("PYTHONPATH");
        psi.Environment.Remove("PYTHONHOME");
        psi.Environment["PYTHONNOUSERSITE"] = "1";
        using var p = Process.Start(psi) ?? throw new InvalidOperationException($"Could not start {Python}.");
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (stdin is not null) p.StandardInput.Write(stdin);
        p.StandardInput.Close();
        if (!p.WaitForExit(timeout))
        {
            p.Kill(true);
            throw new TimeoutException($"{Python} {string.Join(" ", args)} ran longer than {timeout}.");
        }
        return new Result(p.ExitCode, stdout.Result, stderr.Result);
    }

    public static string LastLine(string text) =>
        text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault() ?? "no message";
}
