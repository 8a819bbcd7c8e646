using System.Diagnostics;
using System.Threading.Channels;

namespace Tailor.Studio.Runs;

/// <summary>
/// One subscriber's queue. Posting never blocks and never waits for the reader: the events that must arrive
/// (<c>began</c>, <c>epoch</c>, <c>learningRate</c>, <c>finished</c>; a few per epoch) go into an unbounded channel,
/// while progress (<c>batch</c>, <c>features</c>) goes into a one-event slot where the latest replaces the one not yet
/// read, and is handed out at most every <see cref="MinProgressInterval"/>. A subscriber that never reads holds at most
/// one progress event and the per-epoch events of one run.
/// </summary>
internal sealed class Subscriber
{
    /// <summary>The shortest time between two progress events handed to one subscriber: at most 10 a second.</summary>
    internal static readonly TimeSpan MinProgressInterval = TimeSpan.FromMilliseconds(100);

    private readonly Channel<RunEvent> _events = Channel.CreateUnbounded<RunEvent>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Channel<bool> _wake = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite, SingleReader = true });
    private readonly Lock _gate = new();
    private RunEvent? _progress;

    internal static bool IsProgress(RunEvent e) => e.Kind is RunEvent.BatchKind or RunEvent.FeaturesKind;

    /// <summary>Queues an event; called by the run under its lock, so events keep their order.</summary>
    public void Post(RunEvent e)
    {
        if (IsProgress(e))
        {
            lock (_gate) _progress = e;
            _wake.Writer.TryWrite(true);
            return;
        }
        // Progress not read yet is older than this event (an epoch's record carries its last batch's loss): dropped.
        lock (_gate) _progress = null;
        _events.Writer.TryWrite(e);
        _wake.Writer.TryWrite(true);
    }

    /// <summary>The events, ending after <c>finished</c> or quietly when <paramref name="cancellationToken"/> is cancelled.</summary>
    public async IAsyncEnumerable<RunEvent> ReadAll([System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        long lastProgress = 0;
        bool progressSent = false;
        while (!cancellationToken.IsCancellationRequested)
        {
            if (_events.Reader.TryRead(out var e))
            {
                yield return e;
                if (e.Kind == RunEvent.FinishedKind) yield break;
                continue;
            }
            RunEvent? progress;
            lock (_gate) progress = _progress;
            if (progress is not null)
            {
                var wait = progressSent ? MinProgressInterval - Stopwatch.GetElapsedTime(lastProgress) : TimeSpan.Zero;
                if (wait <= TimeSpan.Zero)
                {
                    lock (_gate)
                    {
                        if (!ReferenceEquals(_progress, progress)) continue;   // replaced or dropped meanwhile: look again
                        _progress = null;
                    }
                    lastProgress = Stopwatch.GetTimestamp();
                    progressSent = true;
                    yield return progress;
                    continue;
                }
                // Too soon for progress: an event that must arrive waits with it (at most the interval).
                try { await Task.Delay(wait, cancellationToken); }
                catch (OperationCanceledException) { yield break; }
                continue;
            }
            try
            {
                await _wake.Reader.WaitToReadAsync(cancellationToken);
                _wake.Reader.TryRead(out _);
            }
            catch (OperationCanceledException) { yield break; }
        }
    }
}
