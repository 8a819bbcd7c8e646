using System.Diagnostics;
using System.Globalization;
using System.Text;
using Xunit.Abstractions;

namespace Tailor.Tests.Fuzz;

/// <summary>
/// One seeded fuzz run: which cases to try, each with its own <see cref="Random"/>, and the checks every case must pass.
/// </summary>
/// <remarks>
/// <para>Environment variables: <c>TAILOR_FUZZ_SEED</c> (default <see cref="DefaultSeed"/>, so CI runs the same cases every
/// time), <c>TAILOR_FUZZ_ITERATIONS</c> (cases per test, instead of the test's small default), <c>TAILOR_FUZZ_SECONDS</c>
/// (instead: as many cases as fit in that many seconds per test), <c>TAILOR_FUZZ_FIRST</c> (start at that case, to continue
/// a run) and <c>TAILOR_FUZZ_CASE</c> (replay one case, or several: 3,17). Case
/// <c>i</c> of seed <c>S</c> is the same input on every machine, whatever else runs, so a failure printed as
/// "seed S case i" is replayed with <c>TAILOR_FUZZ_SEED=S TAILOR_FUZZ_CASE=i</c>. <c>TAILOR_FUZZ_TRACE=FILE</c> appends
/// each case to FILE before it runs, which names the culprit when a case ends the test process.</para>
/// <para>A case fails when it throws anything but what the caller allows (see <see cref="CheckAsync"/>), when its own
/// check returns a complaint, when it runs longer than its timeout (a hang: it is cancelled and the run stops, since a
/// case still running would disturb the next), or when it allocates more than <see cref="AllocationBound"/>.</para>
/// </remarks>
internal sealed class FuzzSession(string test, int defaultIterations, ITestOutputHelper output)
{
    public const int DefaultSeed = 20261129;

    /// <summary>Managed bytes one case may allocate: 1 GiB. The loader refuses images above 100 megapixels from their
    /// header, so a legitimate decode allocates at most 100 M × 7 bytes (RGBA buffer + RGB image) ≈ 700 MB, and loading,
    /// training and saving the 64 MB test model on a few images allocate a few hundred MB; a case above 1 GiB means a
    /// size taken from the input was trusted (the 34-byte WebP cost 3.6 GB).</summary>
    public const long AllocationBound = 1L << 30;

    private readonly List<string> _failures = [];
    private readonly Dictionary<string, int> _outcomes = [];
    private bool _stopped;

    public int Seed { get; } = Integer("TAILOR_FUZZ_SEED") ?? DefaultSeed;

    public int CasesRun { get; private set; }

    /// <summary>The case indices to run: one replayed case, as many as fit in TAILOR_FUZZ_SECONDS, TAILOR_FUZZ_ITERATIONS,
    /// or the test's default. Stops early after a hang.</summary>
    public IEnumerable<int> Cases()
    {
        if (Environment.GetEnvironmentVariable("TAILOR_FUZZ_CASE") is { Length: > 0 } only)
        {
            foreach (var item in only.Split(',')) yield return int.Parse(item, CultureInfo.InvariantCulture);
            yield break;
        }
        var clock = Stopwatch.StartNew();
        double? seconds = Environment.GetEnvironmentVariable("TAILOR_FUZZ_SECONDS") is { Length: > 0 } s
            ? double.Parse(s, CultureInfo.InvariantCulture) : null;
        int iterations = Integer("TAILOR_FUZZ_ITERATIONS") ?? (seconds is null ? defaultIterations : int.MaxValue);
        int first = Integer("TAILOR_FUZZ_FIRST") ?? 0;
        for (int i = first; i - first < iterations && !_stopped && (seconds is null || clock.Elapsed.TotalSeconds < seconds); i++)
            yield return i;
    }

    /// <summary>The random source of case <paramref name="index"/>: depends on the seed and the index only.</summary>
    public Random Random(int index) => new(unchecked(Seed * 1_000_003 + index * 7_919 + 17));

    /// <summary>Counts an outcome (an exit code, "refused", "read") for the summary.</summary>
    public void Count(string outcome) => _outcomes[outcome] = _outcomes.GetValueOrDefault(outcome) + 1;

    /// <summary>Runs one case. <paramref name="body"/> returns null when the case behaved, or what is wrong. An exception
    /// escaping it fails the case, unless <paramref name="allowed"/> is given and returns null for it (it returns what is
    /// wrong otherwise: <see cref="Unexpected"/> for a type that must not escape, a complaint about the message).</summary>
    public async Task CheckAsync(int index, string description, TimeSpan timeout, Func<CancellationToken, Task<string?>> body,
                                 Func<Exception, string?>? allowed = null, long allocationBound = AllocationBound)
    {
        CasesRun++;
        // A native crash ends the test process before any report: the trace names the case that was running.
        if (Environment.GetEnvironmentVariable("TAILOR_FUZZ_TRACE") is { Length: > 0 } trace)
            File.AppendAllText(trace, $"{test}: seed {Seed} case {index}: {description}\n");
        using var cancel = new CancellationTokenSource();
        long before = GC.GetTotalAllocatedBytes(precise: true);
        var clock = Stopwatch.StartNew();
        var run = Task.Run(() => body(cancel.Token));
        string? complaint;
        try
        {
            complaint = await run.WaitAsync(timeout);
        }
        catch (TimeoutException)
        {
            cancel.Cancel();
            _stopped = true;
            bool ended = await Task.WhenAny(run, Task.Delay(TimeSpan.FromSeconds(30))) == run;
            Fail(index, description, $"hang: still running after {timeout.TotalSeconds:0} s" +
                (ended ? "; it ended once cancelled" : "; it did not end when cancelled") + ". The run stops here.");
            return;
        }
        catch (Exception e)
        {
            complaint = allowed is null ? Unexpected(e) : allowed(e);
        }
        long allocated = GC.GetTotalAllocatedBytes(precise: true) - before;
        // Not a check (machines differ): the slow cases are listed so a long run shows where its time goes.
        if (clock.Elapsed.TotalSeconds > 5)
            output.WriteLine($"slow: case {index} took {clock.Elapsed.TotalSeconds:0.0} s, allocated {allocated / 1e6:0} MB: {description}");
        if (complaint is not null) Fail(index, description, complaint);
        if (allocated > allocationBound)
            Fail(index, description, $"allocated {allocated / 1e6:0} MB, more than the bound of {allocationBound / 1e6:0} MB");
    }

    public static string Unexpected(Exception e) => $"unexpected {e.GetType().FullName}: {e}";

    private void Fail(int index, string description, string complaint)
    {
        string failure = $"{test}: seed {Seed} case {index}: {description}\n    {complaint}\n    replay: TAILOR_FUZZ_SEED={Seed} " +
                         $"TAILOR_FUZZ_CASE={index} dotnet test tests/Tailor.Tests --filter \"FullyQualifiedName~{test}\"";
        _failures.Add(failure);
        output.WriteLine("FAIL " + failure);
    }

    /// <summary>Prints the summary (cases, outcomes) and fails the test with every failing case.</summary>
    public void AssertNoFailures()
    {
        var summary = new StringBuilder($"{test}: seed {Seed}, {CasesRun} cases");
        foreach (var (outcome, count) in _outcomes.OrderBy(o => o.Key, StringComparer.Ordinal)) summary.Append($", {outcome}: {count}");
        output.WriteLine(summary.ToString());
        Assert.True(CasesRun > 0, "no case ran");
        Assert.True(_failures.Count == 0, $"{_failures.Count} of {CasesRun} cases failed:\n" + string.Join("\n", _failures));
    }

    private static int? Integer(string variable) =>
        Environment.GetEnvironmentVariable(variable) is { Length: > 0 } value ? int.Parse(value, CultureInfo.InvariantCulture) : null;
}
