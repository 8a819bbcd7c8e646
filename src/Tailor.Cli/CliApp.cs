using System.CommandLine;
using System.Text.Encodings.Web;
using System.Text.Json;
using Spectre.Console;
using Tailor.Cli.Commands;

namespace Tailor.Cli;

/// <summary>The <c>tailor</c> command line: prepare, info, predict, evaluate, reset, train, bench.</summary>
public static class CliApp
{
    /// <summary>JSON as scripts read it: UTF-8 labels unescaped (✊, not \u270A), indented.</summary>
    internal static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    /// <summary>One JSON object per line (for streams such as train --json).</summary>
    internal static readonly JsonSerializerOptions JsonLine = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static int Run(string[] args) => RunAsync(args).GetAwaiter().GetResult();

    public static async Task<int> RunAsync(string[] args, CancellationToken cancellationToken = default)
    {
        Console.OutputEncoding = System.Text.Encoding.UTF8;
        var root = new RootCommand("Tailor: personalize ONNX image classifiers on this machine, offline.") { HelpName = "tailor" };
        root.Add(PrepareCommand.Create());
        root.Add(InfoCommand.Create());
        root.Add(PredictCommand.Create());
        root.Add(EvaluateCommand.Create());
        root.Add(ResetCommand.Create());
        foreach (var extra in ExtraCommands) root.Add(extra());
        var parse = root.Parse(args);
        try
        {
            return await parse.InvokeAsync(new InvocationConfiguration { EnableDefaultExceptionHandler = false }, cancellationToken);
        }
        catch (TailorException e)
        {
            WriteError(e.Message);
            return 1;
        }
        catch (OperationCanceledException)
        {
            WriteError("Cancelled.");
            return 130;
        }
    }

    /// <summary>Commands added by other files (train, bench) without touching this one.</summary>
    internal static readonly List<Func<Command>> ExtraCommands = [];

    internal static void WriteError(string message)
    {
        // Plain text, never wrapped: error messages name files and values that people copy and grep.
        Console.Error.WriteLine(Console.IsErrorRedirected ? "error: " + message : "\u001b[31merror:\u001b[0m " + message);
    }

    internal static void WriteJson(object value) => Console.Out.WriteLine(JsonSerializer.Serialize(value, Json));
}
