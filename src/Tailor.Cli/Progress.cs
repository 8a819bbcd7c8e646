using Spectre.Console;

namespace Tailor.Cli;

/// <summary>A progress bar on the terminal (on stderr's terminal only, so piped output stays clean).</summary>
internal static class Progress
{
    public static T Run<T>(string title, int total, Func<IProgress<int>, T> work)
    {
        if (Console.IsErrorRedirected || total < 2) return work(new Progress<int>(_ => { }));
        var console = Terminal.Create(Console.Error, redirected: false);
        return console.Progress().AutoClear(true).Start(ctx =>
        {
            var task = ctx.AddTask(title, maxValue: total);
            return work(new SyncProgress(done => task.Value = done));
        });
    }

    /// <summary>Reports synchronously (System.Progress posts to the thread pool, so the bar would lag).</summary>
    internal sealed class SyncProgress(Action<int> report) : IProgress<int>
    {
        public void Report(int value) => report(value);
    }
}

/// <summary>
/// A one-line count on stderr ("Features: 64/152 images"). On a terminal the line is rewritten in place; when
/// stderr is redirected, it is written as plain lines, every <see cref="RedirectedEvery"/> steps and at the end.
/// A line left open (work interrupted) is ended by <see cref="End"/>, which every other output calls first
/// (<see cref="CliApp.WriteError"/>, <see cref="CliApp.WriteNote"/>), so no message ever starts mid-line.
/// </summary>
internal sealed class StatusLine(TextWriter writer, bool terminal)
{
    /// <summary>Steps between two lines when the output is not a terminal.</summary>
    public const int RedirectedEvery = 32;

    /// <summary>The status line on stderr.</summary>
    public static StatusLine Error { get; set; } = new(Console.Error, !Console.IsErrorRedirected);

    private bool _open;

    /// <summary>Shows <c>TITLE: DONE/TOTAL UNIT</c>; the line is ended when <paramref name="done"/> reaches <paramref name="total"/>.</summary>
    public void Report(string title, int done, int total, string unit)
    {
        bool last = done >= total;
        string text = $"{title}: {done}/{total} {unit}";
        if (terminal)
        {
            // \r back to the start, the text, then erase whatever a longer previous text left to the right.
            writer.Write("\r" + text + "\u001b[K");
            _open = !last;
            if (last) writer.WriteLine();
        }
        else if (last || done % RedirectedEvery == 0)
        {
            writer.WriteLine(text);
        }
        writer.Flush();
    }

    /// <summary>Ends a line left open by an interrupted count; does nothing otherwise.</summary>
    public void End()
    {
        if (!_open) return;
        _open = false;
        writer.WriteLine();
        writer.Flush();
    }
}
