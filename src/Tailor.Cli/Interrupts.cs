using System.Runtime.InteropServices;

namespace Tailor.Cli;

/// <summary>
/// Ctrl+C (SIGINT) and SIGTERM (kill, a service manager, a container stopping). A command that can stop at a safe
/// point — train, after the current mini-batch, keeping the last completed epoch — takes the first signal with
/// <see cref="StopGracefully"/>. Otherwise, and at a second signal, the process ends at once with 130 (SIGINT) or 143
/// (SIGTERM) and a note on stderr, never a stack trace: every file is written atomically and the temporary file of a
/// write in progress is removed as the process exits (<see cref="AtomicFile"/>), so nothing is left half-written.
/// </summary>
internal static class Interrupts
{
    private static readonly Lock s_gate = new();
    private static CancellationTokenSource? s_graceful;
    private static Func<PosixSignal, string>? s_note;
    private static PosixSignal? s_received;

    /// <summary>The exit code of a run stopped by a signal: 128 + the signal's number, as shells report it
    /// (130 after Ctrl+C, 143 after SIGTERM); 130 when no signal came (a cancellation token).</summary>
    public static int StoppedExitCode => s_received == PosixSignal.SIGTERM ? 143 : 130;

    /// <summary>Handles SIGINT and SIGTERM until disposed (one <see cref="CliApp.RunAsync"/>).</summary>
    public static IDisposable Install()
    {
        lock (s_gate) s_received = null;
        PosixSignalRegistration[] registrations =
            [PosixSignalRegistration.Create(PosixSignal.SIGINT, Handle), PosixSignalRegistration.Create(PosixSignal.SIGTERM, Handle)];
        return new Disposer(() =>
        {
            foreach (var r in registrations) r.Dispose();
        });
    }

    /// <summary>
    /// Until disposed, the first SIGINT or SIGTERM cancels <paramref name="cancellation"/> (and writes
    /// <paramref name="note"/> for that signal) instead of ending the process; the next one ends it at once.
    /// </summary>
    public static IDisposable StopGracefully(CancellationTokenSource cancellation, Func<PosixSignal, string> note)
    {
        lock (s_gate)
        {
            s_graceful = cancellation;
            s_note = note;
        }
        return new Disposer(() =>
        {
            lock (s_gate)
            {
                if (s_graceful != cancellation) return;
                s_graceful = null;
                s_note = null;
            }
        });
    }

    /// <summary>The name a note gives the signal: "Ctrl+C" or "SIGTERM".</summary>
    public static string Name(PosixSignal signal) => signal == PosixSignal.SIGINT ? "Ctrl+C" : signal.ToString();

    private static void Handle(PosixSignalContext context)
    {
        CancellationTokenSource? graceful;
        Func<PosixSignal, string>? note;
        lock (s_gate)
        {
            s_received ??= context.Signal;
            graceful = s_graceful is { IsCancellationRequested: false } g ? g : null;
            note = s_note;
        }
        if (graceful is not null)
        {
            context.Cancel = true;   // the process goes on, to stop at the safe point
            if (note is not null) CliApp.WriteNote(note(context.Signal));
            graceful.Cancel();
            return;
        }
        // The default action follows: the runtime raises ProcessExit and ends the process with 128 + the signal.
        CliApp.WriteNote($"Stopped by {Name(context.Signal)}.");
    }

    private sealed class Disposer(Action dispose) : IDisposable
    {
        private Action? _dispose = dispose;

        public void Dispose() => Interlocked.Exchange(ref _dispose, null)?.Invoke();
    }
}
