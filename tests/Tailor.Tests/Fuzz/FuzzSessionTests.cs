using Xunit.Abstractions;
using Xunit.Sdk;

namespace Tailor.Tests.Fuzz;

/// <summary>The fuzz harness itself: each kind of failure it promises to catch makes the test fail, naming the seed
/// and the case so it can be replayed.</summary>
[Collection("Serial")]
public sealed class FuzzSessionTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Generous = TimeSpan.FromMinutes(1);

    private async Task<string> FailureOf(Func<FuzzSession, Task> run)
    {
        var fuzz = new FuzzSession("harness", defaultIterations: 1, output);
        await run(fuzz);
        return Assert.Throws<TrueException>(fuzz.AssertNoFailures).Message;
    }

    [Fact]
    public async Task AnExceptionOtherThanTailorException_FailsTheCase()
    {
        string failure = await FailureOf(fuzz => fuzz.CheckAsync(3, "the input", Generous,
            _ => throw new IndexOutOfRangeException("oops"),
            allowed: e => e is TailorException ? null : FuzzSession.Unexpected(e)));
        Assert.Contains("case 3: the input", failure);
        Assert.Contains("unexpected System.IndexOutOfRangeException: ", failure);
        Assert.Matches(@"replay: TAILOR_FUZZ_SEED=-?\d+ TAILOR_FUZZ_CASE=3 ", failure);
    }

    [Fact]
    public async Task ATailorException_IsAllowed()
    {
        var fuzz = new FuzzSession("harness", defaultIterations: 1, output);
        await fuzz.CheckAsync(0, "the input", Generous, _ => throw new TailorException("'x.png' is damaged."),
            allowed: e => e is TailorException ? null : FuzzSession.Unexpected(e));
        fuzz.AssertNoFailures();
    }

    [Fact]
    public async Task ACaseThatDoesNotEnd_IsReportedAsAHang_AndCancelled()
    {
        bool cancelled = false;
        string failure = await FailureOf(fuzz => fuzz.CheckAsync(5, "the input", TimeSpan.FromMilliseconds(100), async ct =>
        {
            try { await Task.Delay(Timeout.Infinite, ct); }
            catch (OperationCanceledException) { cancelled = true; }
            return null;
        }));
        Assert.Contains("case 5: the input", failure);
        Assert.Contains("hang: still running after", failure);
        Assert.True(cancelled);
    }

    [Fact]
    public async Task ACaseAllocatingMoreThanTheBound_Fails()
    {
        string failure = await FailureOf(fuzz => fuzz.CheckAsync(7, "the input", Generous, _ =>
        {
            GC.KeepAlive(new byte[4_000_000]);
            return Task.FromResult<string?>(null);
        }, allocationBound: 1_000_000));
        Assert.Contains("case 7: the input", failure);
        Assert.Contains("allocated 4 MB, more than the bound of 1 MB", failure);
    }

    [Fact]
    public async Task AComplaint_FailsTheCase()
    {
        string failure = await FailureOf(fuzz => fuzz.CheckAsync(9, "the input", Generous, _ => Task.FromResult<string?>("internal error (exit 70)")));
        Assert.Contains("case 9: the input\n    internal error (exit 70)", failure);
    }
}
