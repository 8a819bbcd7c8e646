using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Tailor.Tests.Cli;

namespace Tailor.Tests.Studio.Recovery;

/// <summary>A real <c>tailor studio</c> child process on a workspace, as a user starts it; <see cref="KillHard"/> is
/// <c>kill -9</c> (on Linux <see cref="Process.Kill()"/> sends SIGKILL: no handler, no finally block runs in the child).</summary>
internal sealed class StudioProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly Task<string> _stderr;

    private StudioProcess(Process process, Uri url, Task<string> stderr)
    {
        _process = process;
        Url = url;
        _stderr = stderr;
        Http = new HttpClient { BaseAddress = url, Timeout = TimeSpan.FromMinutes(5) };
        Http.DefaultRequestHeaders.Add("Origin", url.GetLeftPart(UriPartial.Authority));
    }

    public Uri Url { get; }

    public HttpClient Http { get; }

    public int Id => _process.Id;

    /// <summary>When the process was started (for the restart figure).</summary>
    public DateTime StartedAt { get; private init; }

    /// <summary>When it printed that it listens.</summary>
    public DateTime ListeningAt { get; private init; }

    /// <summary>A port free now (the studio is started on it twice: the page's address stays the same across a restart).</summary>
    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>Starts the studio on <paramref name="workspace"/> and returns once it listens.</summary>
    public static async Task<StudioProcess> StartAsync(string workspace, int port = 0)
    {
        var started = DateTime.UtcNow;
        var process = Process.Start(CliRunner.StartInfo(null, "studio", "--workspace", workspace, "--port", port.ToString(CultureInfo.InvariantCulture)))!;
        var stderr = process.StandardError.ReadToEndAsync();
        string? line;
        Uri? url = null;
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        while ((line = await process.StandardOutput.ReadLineAsync(timeout.Token)) is not null)
        {
            if (line.StartsWith("Tailor Studio: ", StringComparison.Ordinal)) url = new Uri(line["Tailor Studio: ".Length..].Trim());
            if (line.StartsWith("Workspace: ", StringComparison.Ordinal) && url is not null) break;
        }
        if (url is null)
        {
            if (!process.HasExited) process.Kill();
            Assert.Fail("the studio did not start; stderr:\n" + await stderr);
        }
        // The rest of stdout is drained so that the child never blocks on a full pipe.
        _ = process.StandardOutput.ReadToEndAsync();
        return new StudioProcess(process, url!, stderr) { StartedAt = started, ListeningAt = DateTime.UtcNow };
    }

    /// <summary>kill -9, and waits until the process is gone (its workspace lock released).</summary>
    public void KillHard()
    {
        // From two threads at once too (a watcher's kill and the test's): whichever comes second waits for the exit.
        try
        {
            if (!_process.HasExited) _process.Kill();
        }
        catch (InvalidOperationException)
        {
            // It exited in between.
        }
        _process.WaitForExit();
    }

    public async ValueTask DisposeAsync()
    {
        KillHard();
        Http.Dispose();
        try { await _stderr.WaitAsync(TimeSpan.FromSeconds(10)); } catch (TimeoutException) { }
        _process.Dispose();
    }
}
