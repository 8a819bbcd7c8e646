using System.Text;
using Tailor.Cli;

namespace Tailor.Tests.Cli;

/// <summary>Runs the CLI's entry point in this process with stdout and stderr captured (tests using it belong to the
/// "Serial" collection: the console is the process's).</summary>
internal static class InProcessCli
{
    public sealed record Result(int ExitCode, string Stdout, string Stderr);

    /// <summary>Runs <c>tailor ARGS</c>; <paramref name="onLine"/> sees each line of stdout as it is written.</summary>
    public static Task<Result> RunAsync(string[] args, Action<string>? onLine = null, CancellationToken cancellationToken = default) =>
        RunAsync(args, Tailor.Cli.Commands.Registry.Commands, onLine, cancellationToken);

    /// <summary>Runs <c>tailor ARGS</c> with these commands instead of <see cref="Tailor.Cli.Commands.Registry.Commands"/>.</summary>
    public static async Task<Result> RunAsync(string[] args, IEnumerable<Func<System.CommandLine.Command>> commands,
        Action<string>? onLine = null, CancellationToken cancellationToken = default)
    {
        var (stdout, stderr) = (new LineWriter(onLine), new StringWriter());
        var (oldOut, oldError) = (Console.Out, Console.Error);
        var oldStatus = StatusLine.Error;
        Console.SetOut(stdout);
        Console.SetError(stderr);
        StatusLine.Error = new StatusLine(stderr, terminal: false);
        try
        {
            int code = await CliApp.RunCommandsAsync(args, commands, cancellationToken);
            return new Result(code, stdout.ToString(), stderr.ToString());
        }
        finally
        {
            Console.SetOut(oldOut);
            Console.SetError(oldError);
            StatusLine.Error = oldStatus;
        }
    }

    /// <summary>A StringWriter that reports each completed line.</summary>
    private sealed class LineWriter(Action<string>? onLine) : StringWriter
    {
        private readonly StringBuilder _line = new();

        public override Encoding Encoding => Encoding.UTF8;

        public override void Write(char value)
        {
            base.Write(value);
            if (onLine is null) return;
            if (value != '\n') { _line.Append(value); return; }
            onLine(_line.ToString());
            _line.Clear();
        }

        public override void Write(char[] buffer, int index, int count)
        {
            for (int i = 0; i < count; i++) Write(buffer[index + i]);
        }

        public override void Write(string? value)
        {
            foreach (char c in value ?? "") Write(c);
        }

        public override void WriteLine(string? value)
        {
            Write(value);
            Write('\n');
        }
    }
}
