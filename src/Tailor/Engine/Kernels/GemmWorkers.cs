using System.Diagnostics;

namespace Tailor.Engine.Kernels;

/// <summary>
/// Long-lived helper threads (one per extra core) that split a big GEMM with the calling thread.
/// <see cref="Parallel.For(int, int, Action{int})"/> allocates about 2 KB per call (task and closure), which
/// a training step calling GEMM dozens of times would turn into steady garbage; waking parked threads with
/// semaphores allocates nothing. One GEMM at a time uses the helpers: a second concurrent caller runs serially, and so
/// does a GEMM called from inside a job's body (on any of its threads).
/// </summary>
internal static unsafe class GemmWorkers
{
    /// <summary>The product to split: C rows (or columns) in <see cref="Units"/> blocks, dealt out as contiguous ranges.</summary>
    internal struct Job
    {
        public bool TransA, TransB, SplitRows, Wide, Overwrite, Prepacked, PrepackedA;
        public int M, N, K, Lda, Ldb, Ldc, Units, Chunks;
        public float Alpha;
        public nint A, B, C;

        /// <summary>Not a product: each thread calls Body(State, first, last) on its contiguous range of the Units.</summary>
        public delegate* managed<nint, int, int, void> Body;
        public nint State;

        /// <summary>With <see cref="Body"/>: the threads take the units one at a time, each the next not yet taken
        /// (Body(State, u, u + 1)), instead of a fixed range each: a core slowed by a neighbour then does fewer.</summary>
        public bool Dynamic;

        /// <summary>The next unit to take when <see cref="Dynamic"/>.</summary>
        public int Next;
    }

    static readonly int Helpers = Math.Clamp(Environment.ProcessorCount - 1, 0, 15);
    static readonly object Gate = new();
    static readonly SemaphoreSlim[] Wake = new SemaphoreSlim[Helpers];
    /// <summary>Bumped for each job: a helper spinning after its last job sees it without being woken.</summary>
    static long generation;
    /// <summary>Per helper: 1 while it waits on its semaphore (the dispatcher then releases it), 0 while it spins or works.</summary>
    static readonly int[] sleeping = new int[Helpers];
    /// <summary>Helpers still running the current job.</summary>
    static int remaining;
    /// <summary>How long a helper spins for the next job before it sleeps. A training step calls the helpers a few times
    /// with short serial work between (packing, pooling, the loss); waking a sleeping thread costs a system call, and on a
    /// virtual machine whose idle vCPU the hypervisor has halted, far more (tens to hundreds of µs), and that wake-up
    /// varies with the neighbours. OpenMP runtimes (PyTorch's) spin likewise.</summary>
    static readonly long SpinTicks = Stopwatch.Frequency / 2000;
    static Job current;
    static Exception? failure;
    /// <summary>Whether a job is running (read and written under <see cref="Gate"/>): a product called from inside a job runs serially.</summary>
    static bool running;

    static GemmWorkers()
    {
        for (int i = 0; i < Helpers; i++)
        {
            Wake[i] = new SemaphoreSlim(0);
            int chunk = i + 1;
            new Thread(() => Loop(chunk)) { IsBackground = true, Name = $"Tailor GEMM worker {chunk}" }.Start();
        }
    }

    /// <summary>How many threads share one product (the caller plus the helpers).</summary>
    public static int Parallelism => Helpers + 1;

    /// <summary>Runs <paramref name="job"/> across all threads; false (nothing done) if the helpers are busy with another caller's product.</summary>
    public static bool TryRun(in Job job)
    {
        if (Helpers == 0 || !Monitor.TryEnter(Gate))
            return false;
        if (running)
        {
            // Called from inside a job on the thread that runs it (the monitor is reentrant): the helpers are busy.
            Monitor.Exit(Gate);
            return false;
        }
        running = true;
        try
        {
            current = job;
            failure = null;
            Volatile.Write(ref remaining, Helpers);
            Interlocked.Increment(ref generation); // a full fence: the job and the count are visible before it
            for (int i = 0; i < Helpers; i++)
                if (Interlocked.CompareExchange(ref sleeping[i], 0, 1) == 1)
                    Wake[i].Release();
            RunChunk(0);
            // The helpers' parts are about as long as this thread's: spin (yielding the core after a while) instead of
            // blocking, so that their end is seen at once.
            var spin = new SpinWait();
            while (Volatile.Read(ref remaining) != 0)
                spin.SpinOnce(sleep1Threshold: -1);
            if (failure is { } e)
                throw new AggregateException("A GEMM worker failed.", e);
            return true;
        }
        finally
        {
            running = false;
            Monitor.Exit(Gate);
        }
    }

    /// <summary>
    /// Splits <paramref name="units"/> into one contiguous range per thread and calls <paramref name="body"/>(state,
    /// first, last) on each, the calling thread included: for memory-bound work around the products (unfolding images)
    /// that would otherwise leave the other cores idle. A function pointer and a state pointer, so nothing is allocated.
    /// False (nothing done) when there is one core or the helpers are busy: the caller then runs the range itself.
    /// </summary>
    /// <remarks>
    /// <paramref name="dynamic"/>: units dealt one at a time to whichever thread is free (see <see cref="Job.Dynamic"/>), for
    /// bodies whose result for a unit does not depend on which other units the same call covers (so not for ranges of
    /// GEMM rows, whose operands each call packs once). On a machine whose cores run at different speeds (a virtual
    /// machine's, with neighbours) a fixed split leaves the fast core waiting for the slow one.
    /// </remarks>
    public static bool TryFor(int units, delegate* managed<nint, int, int, void> body, nint state, bool dynamic = false) =>
        units >= 2 && TryRun(new Job { Units = units, Chunks = Math.Min(Parallelism, units), Body = body, State = state, Dynamic = dynamic });

    /// <summary>What <see cref="TryForBlocks"/> deals out: a body over element ranges, and the length they cover.</summary>
    struct BlockJob
    {
        public delegate* managed<nint, int, int, void> Body;
        public nint State;
        public int Length, Block;
    }

    /// <summary>
    /// Calls <paramref name="body"/>(state, start, count) over [0, <paramref name="length"/>) in blocks of
    /// <paramref name="block"/> elements dealt to whichever core is free (<see cref="TryFor"/>, dynamic): for
    /// memory-bound elementwise passes over big tensors (an optimizer's update, a pooling plane sweep), which one core
    /// cannot run at the memory's speed. The body must give an element the same result whichever block holds it.
    /// False (nothing done) below two blocks, on one core, or when the helpers are busy: the caller runs it whole.
    /// </summary>
    public static bool TryForBlocks(int length, int block, delegate* managed<nint, int, int, void> body, nint state)
    {
        var job = new BlockJob { Body = body, State = state, Length = length, Block = block };
        return TryFor((int)(((long)length + block - 1) / block), &RunBlocks, (nint)(&job), dynamic: true);
    }

    static void RunBlocks(nint state, int from, int to)
    {
        ref readonly var j = ref *(BlockJob*)state;
        int start = from * j.Block;
        j.Body(j.State, start, Math.Min(j.Length, to * j.Block) - start);
    }

    static void Loop(int chunk)
    {
        int i = chunk - 1;
        long seen = 0;
        while (true)
        {
            long start = Stopwatch.GetTimestamp();
            while (Volatile.Read(ref generation) == seen && Stopwatch.GetTimestamp() - start < SpinTicks)
                Thread.SpinWait(16);
            if (Volatile.Read(ref generation) == seen)
            {
                // Sleep. Declared first (a full fence), then the job counter read again: either this thread sees a job
                // dispatched meanwhile, or the dispatcher sees the flag and releases the semaphore.
                Interlocked.Exchange(ref sleeping[i], 1);
                if (Volatile.Read(ref generation) == seen || Interlocked.CompareExchange(ref sleeping[i], 0, 1) != 1)
                    Wake[i].Wait(); // (in the second case the dispatcher cleared the flag: its release is taken here)
            }
            seen = Volatile.Read(ref generation);
            try
            {
                RunChunk(chunk);
            }
            catch (Exception e)
            {
                failure = e;
            }
            finally
            {
                Interlocked.Decrement(ref remaining);
            }
        }
    }

    static void RunChunk(int chunk)
    {
        ref readonly Job j = ref current;
        if (chunk >= j.Chunks)
            return;
        if (j.Dynamic)
        {
            for (int u; (u = Interlocked.Increment(ref current.Next) - 1) < j.Units;)
                j.Body(j.State, u, u + 1);
            return;
        }
        int first = (int)((long)j.Units * chunk / j.Chunks), last = (int)((long)j.Units * (chunk + 1) / j.Chunks);
        if (first >= last)
            return;
        if (j.Body != null)
        {
            j.Body(j.State, first, last);
            return;
        }
        float* a = (float*)j.A, b = (float*)j.B, c = (float*)j.C;
        if (j.SplitRows)
        {
            int r0 = first * Gemm.MR, r1 = Math.Min(j.M, last * Gemm.MR);
            if (j.PrepackedA)
            {
                Gemm.MultiplyPacked(false, j.TransB, r1 - r0, j.N, j.K, 1, a, j.Lda, b, j.Ldb, c + (long)r0 * j.Ldc, j.Ldc, j.Wide, j.Overwrite,
                    prepackedA: true, rowOffset: r0);
                return;
            }
            Gemm.MultiplyPacked(j.TransA, j.TransB, r1 - r0, j.N, j.K, j.Alpha, j.TransA ? a + r0 : a + (long)r0 * j.Lda, j.Lda, b, j.Ldb, c + (long)r0 * j.Ldc, j.Ldc, j.Wide, j.Overwrite, j.Prepacked);
        }
        else
        {
            int c0 = first * Gemm.NR, c1 = Math.Min(j.N, last * Gemm.NR);
            if (j.Prepacked)
                Gemm.MultiplyPacked(j.TransA, false, j.M, c1 - c0, j.K, j.Alpha, a, j.Lda, b, j.Ldb, c + c0, j.Ldc, j.Wide, j.Overwrite, true, first);
            else
                Gemm.MultiplyPacked(j.TransA, j.TransB, j.M, c1 - c0, j.K, j.Alpha, a, j.Lda, j.TransB ? b + (long)c0 * j.Ldb : b + c0, j.Ldb, c + c0, j.Ldc, j.Wide, j.Overwrite);
        }
    }
}
