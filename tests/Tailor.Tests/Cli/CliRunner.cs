using System.Diagnostics;
using System.Text;

namespace Tailor.Tests.Cli;

/// <summary>Runs the real <c>tailor</c> CLI (Tailor.Cli.dll next to the tests) in its own process, so
/// exit codes, stdout and stderr are exactly what a user sees.</summary>
public static partial class CliRunner
{
    public sealed record Result(int ExitCode, string Stdout, string Stderr);

    static CliRunner() => RestoreDefaultInterruptHandling();

    /// <summary>A process started in the background by a shell without job control (<c>dotnet test … &amp;</c> in a
    /// script) has SIGINT and SIGQUIT ignored, and every child inherits that through exec: the CLI's Ctrl+C tests would
    /// then see their signal ignored. Children get the default disposition back, as a terminal would give them.</summary>
    private static void RestoreDefaultInterruptHandling()
    {
        if (!OperatingSystem.IsLinux()) return;
        const int SigInt = 2, SigQuit = 3;
        string? ignored = File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith("SigIgn:", StringComparison.Ordinal));
        if (ignored is null) return;
        ulong mask = Convert.ToUInt64(ignored["SigIgn:".Length..].Trim(), 16);
        foreach (int signal in new[] { SigInt, SigQuit })
            if ((mask & (1UL << (signal - 1))) != 0)
                SetSignal(signal, IntPtr.Zero);   // SIG_DFL
    }

    [System.Runtime.InteropServices.LibraryImport("libc", EntryPoint = "signal")]
    private static partial IntPtr SetSignal(int signal, IntPtr handler);

    public static Result Run(params string[] args) => RunWith(null, args);

    /// <summary>Runs with extra environment variables (COLUMNS is 200 unless given).</summary>
    public static Result RunWith(IReadOnlyDictionary<string, string>? environment, params string[] args)
    {
        using var p = Process.Start(StartInfo(environment, args))!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromMinutes(5))) { p.Kill(true); throw new TimeoutException("tailor " + string.Join(" ", args)); }
        return new Result(p.ExitCode, stdout.Result, stderr.Result);
    }

    internal static ProcessStartInfo StartInfo(IReadOnlyDictionary<string, string>? environment, params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
        };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Tailor.Cli.dll"));
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["COLUMNS"] = "200";
        if (environment is not null)
            foreach (var (name, value) in environment) psi.Environment[name] = value;
        return psi;
    }

    /// <summary>
    /// Runs the CLI and sends it SIGINT (what Ctrl+C sends) as soon as a line of its stdout or stderr satisfies
    /// <paramref name="interruptWhen"/>; returns what it printed in all. Waits on output, never on time.
    /// </summary>
    public static Result RunAndInterrupt(Func<string, bool> interruptWhen, params string[] args) =>
        RunAndSignal("INT", [interruptWhen], args);

    /// <summary>
    /// Runs the CLI in its own process and sends it <paramref name="signal"/> (INT, TERM) once for each condition, in
    /// order: the n-th signal when a line of stdout or stderr (seen after the previous signal) satisfies the n-th
    /// condition. Fails unless every signal was sent. Waits on output, never on time.
    /// </summary>
    public static Result RunAndSignal(string signal, IReadOnlyList<Func<string, bool>> when, params string[] args)
    {
        using var p = new Process { StartInfo = StartInfo(null, args) };
        var stdout = new StringBuilder();
        var stderr = new StringBuilder();
        var gate = new object();
        int sent = 0;
        void OnLine(StringBuilder into, string? line)
        {
            if (line is null) return;
            lock (gate)
            {
                into.Append(line).Append('\n');
                if (sent >= when.Count || !when[sent](line)) return;
                sent++;
                using var kill = Process.Start("kill", ["-" + signal, p.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])!;
                kill.WaitForExit();
            }
        }
        p.OutputDataReceived += (_, e) => OnLine(stdout, e.Data);
        p.ErrorDataReceived += (_, e) => OnLine(stderr, e.Data);
        p.Start();
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        if (!p.WaitForExit(TimeSpan.FromMinutes(5))) { p.Kill(true); throw new TimeoutException("tailor " + string.Join(" ", args)); }
        p.WaitForExit();   // drains the asynchronous readers
        Assert.True(sent == when.Count, $"sent {sent} of {when.Count} signals; stdout:\n{stdout}\nstderr:\n{stderr}");
        return new Result(p.ExitCode, stdout.ToString(), stderr.ToString());
    }
}
