using System.CommandLine;
using System.Net;
using Tailor.Studio;
using Tailor.Studio.Runs;
using Tailor.Studio.Web;

namespace Tailor.Cli.Commands;

/// <summary><c>tailor studio</c>: the studio, a local web app, on 127.0.0.1 until Ctrl+C.</summary>
internal static class StudioCommand
{
    /// <summary>The workspace when --workspace is not given: tailor-studio in the user's application data
    /// ($XDG_DATA_HOME or ~/.local/share on Linux, ~/Library/Application Support on macOS, %LOCALAPPDATA% on Windows).</summary>
    internal static string DefaultWorkspace =>
        Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData, Environment.SpecialFolderOption.DoNotVerify), "tailor-studio");

    public static Command Create()
    {
        var workspaceOption = new Option<string?>("--workspace", "-w")
        {
            Description = "The folder holding the studio's projects, photos and models; created if missing. (default: tailor-studio in your " +
                          "application data folder: $XDG_DATA_HOME/tailor-studio or ~/.local/share/tailor-studio on Linux)",
        };
        var portOption = new Option<int?>("--port", "-p")
        {
            Description = $"The port to listen on; 0 picks a free one. (default: {StudioServer.DefaultPort}, or a free port if that one is taken)",
        }.WholeIn(0, 65535);
        var listenOption = new Option<string?>("--listen")
        {
            Description = "Listen on this IP address instead of 127.0.0.1, e.g. 0.0.0.0 for every interface: anyone who can reach this " +
                          "machine can then use the studio (there is no login).",
        };
        var importOption = new Option<string?>("--import")
        {
            Description = "Create a project from a folder of photos, DIR/<label>/… (all for training) or DIR/train/<label>/… and " +
                          "DIR/test/<label>/…, from a zip of such a folder, or from a project file exported by the studio (.tailor), " +
                          "and print its address.",
        };
        var command = HelpText.Examples(new Command("studio",
            "Tailor Studio in your browser: collect photos per label (files or webcam), train while watching the loss, evaluate, " +
            "fix, reset, download the model. Serves on 127.0.0.1 until Ctrl+C.")
        {
            workspaceOption, portOption, listenOption, importOption,
        }, "tailor studio", "tailor studio --import photos --port 8080", "tailor studio --import hands.tailor");
        command.SetAction(async (parse, ct) =>
        {
            var address = Address(parse.GetValue(listenOption));
            int? port = parse.GetValue(portOption);
            string workspaceDir = parse.GetValue(workspaceOption) is { } w ? WorkspaceFolder(w) : DefaultWorkspace;
            string? import = parse.GetValue(importOption) is { } i ? ImportFolder(i) : null;
            return await RunAsync(workspaceDir, import, address, port, ct);
        });
        return command;
    }

    private static async Task<int> RunAsync(string workspaceDir, string? import, IPAddress address, int? port, CancellationToken ct)
    {
        using var workspace = Workspace.Open(workspaceDir);
        ProjectInfo? imported = import is null ? null : Import(workspace, import, ct);
        // Disposed after the server: stops a run under way after its mini-batch and commits its last finished epoch.
        using var runs = new RunManager(workspace);
        await using var server = await StudioServer.StartAsync(workspace, runs, new StudioServerOptions
        {
            Address = address,
            Port = port ?? StudioServer.DefaultPort,
            FallBackToFreePort = port is null,
            ErrorLog = line => CliApp.WriteNote(line),
        }, ct);
        Report(server, address, port);
        Console.Out.WriteLine($"Workspace: {Text.Path(workspace.Directory)}");
        if (imported is not null) Console.Out.WriteLine($"Project '{Text.Label(imported.Name)}': {server.ProjectUrl(imported.Id)}");
        return await ServeUntilStopped(server, runs, ct);
    }

    private static ProjectInfo Import(Workspace workspace, string folder, CancellationToken ct)
    {
        ImportProgress? last = null;
        bool projectFile = File.Exists(folder) && Workspace.IsProjectFile(folder);
        var progress = new Progress(p =>
        {
            last = p;
            StatusLine.Error.Report("Importing", p.Done, p.Total, projectFile ? "files" : "photos");
        });
        var project = !File.Exists(folder) ? workspace.ImportFolder(folder, null, progress, ct)
            : projectFile ? workspace.ImportProject(folder, null, progress, ct)
            : workspace.ImportZip(folder, null, null, progress, ct);
        StatusLine.Error.End();
        int photos = project.Labels.Sum(l => l.TrainCount + l.TestCount);
        Console.Out.WriteLine($"Imported {Text.Count(photos, "photo")} in {Text.Count(project.Labels.Count, "label")} into project '{Text.Label(project.Name)}'" +
                              (last is { Duplicates: > 0 } ? $"; {Text.Count(last.Duplicates, "duplicate")} left out" : "") + ".");
        if (last is { Refused: > 0 })
            CliApp.WriteNote($"{Text.Count(last.Refused, "file")} refused" + (last.LastRefusal is { } why ? $", the last: {why}" : "") + ".");
        return project;
    }

    /// <summary>Reports progress on the calling thread (Progress&lt;T&gt; would post to the thread pool, out of order).</summary>
    private sealed class Progress(Action<ImportProgress> report) : IProgress<ImportProgress>
    {
        public void Report(ImportProgress value) => report(value);
    }

    private static void Report(StudioServer server, IPAddress address, int? port)
    {
        if (server.FellBack) CliApp.WriteNote($"Port {port ?? StudioServer.DefaultPort} is in use; listening on port {server.Port} instead.");
        if (!IPAddress.IsLoopback(address))
            CliApp.WriteNote($"warning: listening on {HostPolicyText(address)}, not on this machine only: anyone who can reach it on port " +
                             $"{server.Port} can use the studio, see its photos and change its projects (there is no login). " +
                             "Leave out --listen to serve this machine only.");
        Console.Out.WriteLine($"Tailor Studio: {server.Url}");
    }

    /// <summary>Serves until Ctrl+C or SIGTERM (or <paramref name="ct"/>), then stops cleanly: returns 130 or 143, as
    /// every command stopped by a signal.</summary>
    private static async Task<int> ServeUntilStopped(StudioServer server, RunManager runs, CancellationToken ct)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        using (Interrupts.StopGracefully(stop, signal =>
                   $"Stopping the studio; a run under way stops after its mini-batch and keeps its last finished epoch ({Interrupts.Name(signal)} again to quit at once)…"))
        {
            Console.Out.WriteLine("Press Ctrl+C to stop.");
            try
            {
                await Task.Delay(Timeout.Infinite, stop.Token);
            }
            catch (OperationCanceledException)
            {
            }
            await server.StopAsync(CancellationToken.None);
            runs.Dispose();   // a run under way stops after its mini-batch; its last finished epoch is committed
        }
        CliApp.WriteNote("Studio stopped.");
        return Interrupts.StoppedExitCode;
    }

    /// <summary>The --listen address: an IP address (a name is refused: which of its addresses would be meant).</summary>
    internal static IPAddress Address(string? text)
    {
        if (text is null) return IPAddress.Loopback;
        if (IPAddress.TryParse(text.Trim().Trim('[', ']'), out var address)) return address;
        throw new UsageException($"--listen: '{text}' is not an IP address; give one such as 0.0.0.0 (every interface), 192.168.1.20 or ::1.");
    }

    private static string HostPolicyText(IPAddress address) =>
        address.Equals(IPAddress.Any) ? "0.0.0.0 (every interface)" : address.Equals(IPAddress.IPv6Any) ? ":: (every interface)" : address.ToString();

    private static string WorkspaceFolder(string path)
    {
        if (string.IsNullOrWhiteSpace(path)) throw new UsageException("--workspace: the path is empty; give a folder, e.g. --workspace studio.");
        if (File.Exists(path)) throw new TailorException($"--workspace '{Text.Path(path)}' is a file; give a folder (it is created if missing).");
        return path;
    }

    private static string ImportFolder(string path)
    {
        if (string.IsNullOrWhiteSpace(path)) throw new UsageException("--import: the path is empty; give a folder of photos, e.g. --import photos.");
        if (!Directory.Exists(path) && !File.Exists(path))
            throw new TailorException($"--import '{Text.Path(path)}': the folder does not exist; " +
                                      "give a folder with a subfolder per label (or train/ and test/ holding them), a zip of one, or a .tailor project file.");
        return path;
    }
}
