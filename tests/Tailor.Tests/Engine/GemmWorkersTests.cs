using System.Diagnostics;
using Tailor.Engine.Kernels;

namespace Tailor.Tests.Engine;

/// <summary>
/// The helper threads every parallel kernel runs on: each unit dealt exactly once, whether a helper is spinning for the
/// next job or asleep (pauses around its spin window), a helper's exception reaching the caller, a nested call refused.
/// </summary>
[Collection("Serial")]
public class GemmWorkersTests
{
    unsafe struct Counts
    {
        public int* PerUnit;
        public int HelperUnits;
        public int CallerThread;
        public bool ThrowOnHelpers;
        public bool NestedRefused;
    }

    static unsafe void CountUnits(nint state, int from, int to)
    {
        var c = (Counts*)state;
        if (Environment.CurrentManagedThreadId != c->CallerThread)
        {
            if (c->ThrowOnHelpers)
                throw new InvalidOperationException("helper failed on purpose");
            Interlocked.Add(ref c->HelperUnits, to - from);
        }
        for (int u = from; u < to; u++)
            Interlocked.Increment(ref c->PerUnit[u]);
    }

    const int Units = 48, Jobs = 3000;

    static unsafe string? RunJobs()
    {
        var perUnit = new int[Units];
        var rng = new Random(3);
        int parallelJobs = 0;
        fixed (int* p = perUnit)
            for (int job = 0; job < Jobs; job++)
            {
                // 0 to 1.2 ms between jobs: the helpers catch some jobs while spinning, others after sleeping.
                long pause = (long)(rng.NextDouble() * 1.2e-3 * Stopwatch.Frequency), start = Stopwatch.GetTimestamp();
                while (Stopwatch.GetTimestamp() - start < pause)
                    Thread.SpinWait(20);
                Array.Clear(perUnit);
                var counts = new Counts { PerUnit = p, CallerThread = Environment.CurrentManagedThreadId };
                bool dynamic = job % 2 == 0;
                if (!GemmWorkers.TryFor(Units, &CountUnits, (nint)(&counts), dynamic))
                    CountUnits((nint)(&counts), 0, Units);
                if (counts.HelperUnits > 0)
                    parallelJobs++;
                for (int u = 0; u < Units; u++)
                    if (perUnit[u] != 1)
                        return $"job {job} ({(dynamic ? "dynamic" : "fixed ranges")}): unit {u} ran {perUnit[u]} times";
            }
        // With fixed ranges every other job gives the helper its own range: it must have run some.
        return GemmWorkers.Parallelism >= 2 && parallelJobs < Jobs / 2 ? $"the helpers ran only {parallelJobs} of {Jobs} jobs" : null;
    }

    [Fact]
    public async Task TryFor_DealsEveryUnitOnce_ThroughThousandsOfJobs_WithPausesAroundTheSpinWindow()
    {
        var work = Task.Run(RunJobs);
        Assert.True(await Task.WhenAny(work, Task.Delay(TimeSpan.FromSeconds(120))) == work, "A job never finished: a helper missed its wake-up.");
        Assert.Null(await work);
    }

    [Fact]
    public unsafe void AHelpersException_ReachesTheCaller_AndTheHelpersKeepWorking()
    {
        if (GemmWorkers.Parallelism < 2)
            return; // one core: no helper to fail
        var perUnit = new int[8];
        fixed (int* p = perUnit)
        {
            var failing = new Counts { PerUnit = p, CallerThread = Environment.CurrentManagedThreadId, ThrowOnHelpers = true };
            AggregateException? e = null;
            try
            {
                GemmWorkers.TryFor(8, &CountUnits, (nint)(&failing));
            }
            catch (AggregateException caught)
            {
                e = caught;
            }
            Assert.NotNull(e);
            Assert.Contains("helper failed on purpose", e.InnerException!.Message);
            Array.Clear(perUnit);
            var counts = new Counts { PerUnit = p, CallerThread = Environment.CurrentManagedThreadId };
            Assert.True(GemmWorkers.TryFor(8, &CountUnits, (nint)(&counts)));
            Assert.All(perUnit, n => Assert.Equal(1, n));
            Assert.True(counts.HelperUnits > 0);
        }
    }

    static unsafe void TryNested(nint state, int from, int to)
    {
        var c = (Counts*)state;
        if (from == 0)
            c->NestedRefused = !GemmWorkers.TryFor(4, &CountUnits, state);
    }

    [Fact]
    public unsafe void ACallFromInsideAJob_IsRefused_SoItsCallerRunsItSerially()
    {
        if (GemmWorkers.Parallelism < 2)
            return;
        var counts = new Counts { CallerThread = Environment.CurrentManagedThreadId };
        Assert.True(GemmWorkers.TryFor(2, &TryNested, (nint)(&counts)));
        Assert.True(counts.NestedRefused);
    }
}
