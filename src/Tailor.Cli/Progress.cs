using Spectre.Console;

namespace Tailor.Cli;

/// <summary>A progress bar on the terminal (on stderr's terminal only, so piped output stays clean).</summary>
internal static class Progress
{
    public static T Run<T>(string title, int total, Func<IProgress<int>, T> work)
    {
        if (Console.IsErrorRedirected || total < 2) return work(new Progress<int>(_ => { }));
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
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
