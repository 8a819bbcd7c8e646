using System.CommandLine;
using System.CommandLine.Parsing;
using System.Text.Encodings.Web;
using System.Text.Json;
using Spectre.Console;
using Tailor.Cli.Commands;

namespace Tailor.Cli;

/// <summary>The <c>tailor</c> command line: prepare, train, evaluate, predict, info, reset, bench.</summary>
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

    /// <summary>Runs <c>tailor ARGS</c> and returns its exit code.</summary>
    public static int Run(string[] args) => RunAsync(args).GetAwaiter().GetResult();

    /// <summary>Runs <c>tailor ARGS</c> and returns its exit code.</summary>
    public static Task<int> RunAsync(string[] args, CancellationToken cancellationToken = default) =>
        RunCommandsAsync(args, Registry.Commands, cancellationToken);

    /// <summary>Runs <c>tailor ARGS</c> with these commands, listed in this order (<see cref="Registry.Commands"/>;
    /// tests add one).</summary>
    internal static async Task<int> RunCommandsAsync(string[] args, IEnumerable<Func<Command>> commands, CancellationToken cancellationToken = default)
    {
        Console.OutputEncoding = System.Text.Encoding.UTF8;
        // Tables and wrapped text fit $COLUMNS or the terminal (Spectre alone reads neither when piped).
        AnsiConsole.Console = Terminal.Create(Console.Out, Console.IsOutputRedirected);
        var root = new RootCommand("Tailor: personalize ONNX image classifiers on this machine, offline.") { HelpName = "tailor" };
        foreach (var create in commands) root.Add(create());
        HelpText.Examples(root,
            "tailor prepare --labels \"✊,✋,✌️\" --out hands.onnx",
            "tailor train hands.onnx --data photos/train --validation photos/test",
            "tailor evaluate hands.onnx --data photos/test",
            "tailor predict hands.onnx photo.jpg");
        var parse = root.Parse(args);
        if (parse.Action is System.CommandLine.Help.HelpAction help) return HelpText.Write(parse, help);
        if (parse.Action is System.CommandLine.Invocation.ParseErrorAction) return UsageErrors(parse);
        using var interrupts = Interrupts.Install();   // SIGINT and SIGTERM: a note and exit code, never a stack trace
        try
        {
            // No termination timeout: Interrupts handles SIGINT and SIGTERM (train finishes the mini-batch and saves the
            // last epoch, which can take longer than a timeout; elsewhere the process ends at once, and every file is
            // written atomically, so nothing is left half-written).
            return await parse.InvokeAsync(new InvocationConfiguration { EnableDefaultExceptionHandler = false, ProcessTerminationTimeout = null },
                cancellationToken);
        }
        catch (UsageException e)
        {
            WriteError(e.Message);
            return UsageExitCode;
        }
        catch (TailorException e)
        {
            WriteError(e.Message);
            return 1;
        }
        catch (OperationCanceledException)
        {
            // Stopping at the user's request is not an error.
            WriteNote("Cancelled.");
            return Interrupts.StoppedExitCode;
        }
        catch (Exception e)
        {
            // Anything else is a bug in Tailor, not bad input: say so in one line instead of a .NET stack trace
            // (exit 134), with an exit code of its own (EX_SOFTWARE) that scripts and the fuzz test can tell apart.
            WriteError($"internal error: {e.GetType().FullName}: {e.Message}");
            bool debug = !string.IsNullOrEmpty(Environment.GetEnvironmentVariable(DebugVariable));
            WriteNote("This is a bug in Tailor; please report it with the command that caused it" +
                (debug ? " and this stack trace:\n" + e : $" (set {DebugVariable}=1 to print the stack trace)."));
            return InternalErrorExitCode;
        }
    }

    /// <summary>The exit code of a usage error (how the command was invoked); bad data and models exit with 1.</summary>
    internal const int UsageExitCode = 2;

    /// <summary>
    /// Reports parse errors (an unknown or missing option, a value of the wrong kind or out of its range) one per line,
    /// then System.CommandLine's typo corrections and where the options are listed; the help itself only when a command
    /// is missing. Exit code 2.
    /// </summary>
    private static int UsageErrors(ParseResult parse)
    {
        var command = parse.CommandResult.Command;
        if (command.Subcommands.Count > 0 && parse.Errors.All(e => e.SymbolResult is null || e.SymbolResult is CommandResult))
        {
            // "tailor" or "tailor bench" alone: the errors and the list of commands.
            parse.Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
            return UsageExitCode;
        }
        foreach (var message in parse.Errors.Select(e => e.Message).Distinct()) WriteError(message);
        var action = (System.CommandLine.Invocation.ParseErrorAction)parse.Action!;
        action.ShowHelp = false;
        var suggestions = new StringWriter();
        parse.Invoke(new InvocationConfiguration { Output = suggestions, Error = TextWriter.Null });
        if (suggestions.ToString().Trim() is { Length: > 0 } text) WriteNote(text);
        string path = string.Join(" ", parse.CommandResult.Command is RootCommand ? ["tailor"] : new[] { "tailor" }.Concat(CommandPath(parse.CommandResult)));
        WriteNote($"See '{path} --help' for the options.");
        return UsageExitCode;
    }

    private static IEnumerable<string> CommandPath(CommandResult? result) =>
        result is null || result.Command is RootCommand ? [] : CommandPath(result.Parent as CommandResult).Append(result.Command.Name);

    /// <summary>Exit code of an unexpected exception, a bug in Tailor (EX_SOFTWARE in sysexits.h).</summary>
    internal const int InternalErrorExitCode = 70;

    /// <summary>Environment variable that makes an internal error print its stack trace.</summary>
    internal const string DebugVariable = "TAILOR_DEBUG";

    internal static void WriteError(string message)
    {
        StatusLine.Error.End();
        message = Text.Message(CliHints.ForCli(message));   // flags for the library's option names; it may quote labels and file names holding escape sequences
        // Plain text, never wrapped: error messages name files and values that people copy and grep.
        Console.Error.WriteLine(Console.IsErrorRedirected ? "error: " + message : "\u001b[31merror:\u001b[0m " + message);
    }

    /// <summary>A message on stderr that is not an error (a run stopped at the user's request, a hint).</summary>
    internal static void WriteNote(string message)
    {
        StatusLine.Error.End();
        Console.Error.WriteLine(Text.Message(message));
    }

    internal static void WriteJson(object value) => Console.Out.WriteLine(JsonSerializer.Serialize(value, Json));
}
