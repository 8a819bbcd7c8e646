namespace Tailor.Training;

/// <summary>
/// The order in which an epoch visits the examples, derived only from (seed, epoch).
/// </summary>
/// <remarks>
/// This is why a checkpoint needs no random-generator state: the shuffle of epoch e is a pure function of
/// the run's seed and e, so a run resumed after epoch k in a new process draws the same orders for epochs
/// k, k+1, … as the uninterrupted run would. The generator (SplitMix64 feeding a Fisher–Yates shuffle with
/// Lemire's unbiased bounded draw) is written out here rather than taken from <see cref="System.Random"/>,
/// whose seeded algorithm .NET does not promise to keep, so orders are also the same across .NET versions
/// and machines.
/// </remarks>
public static class EpochShuffle
{
    /// <summary>Fills <paramref name="order"/> with a permutation of 0 … <c>order.Length</c> − 1 determined
    /// by <paramref name="seed"/> and <paramref name="epoch"/> alone. Allocates nothing.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="epoch"/> is negative.</exception>
    public static void Permutation(long seed, int epoch, Span<int> order)
    {
        if (epoch < 0)
            throw new ArgumentOutOfRangeException(nameof(epoch), $"epoch must be ≥ 0; got {epoch}.");
        for (int i = 0; i < order.Length; i++)
            order[i] = i;
        // Mix seed and epoch so nearby seeds and epochs give unrelated streams.
        ulong state = Mix((ulong)seed) ^ Mix(0x9E3779B97F4A7C15UL * (ulong)(epoch + 1));
        for (int i = order.Length - 1; i > 0; i--)
        {
            int j = (int)Below(ref state, (uint)(i + 1));
            (order[i], order[j]) = (order[j], order[i]);
        }
    }

    /// <summary>A new array holding <see cref="Permutation(long, int, Span{int})"/>.</summary>
    public static int[] Permutation(long seed, int epoch, int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        var order = new int[count];
        Permutation(seed, epoch, order);
        return order;
    }

    private static ulong Next(ref ulong state)
    {
        state += 0x9E3779B97F4A7C15UL;
        return Mix(state);
    }

    private static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>Uniform in [0, bound) without modulo bias (Lemire, 2019).</summary>
    private static uint Below(ref ulong state, uint bound)
    {
        ulong product = (Next(ref state) >> 32) * bound;
        uint low = (uint)product;
        if (low < bound)
        {
            uint threshold = unchecked(0u - bound) % bound;
            while (low < threshold)
            {
                product = (Next(ref state) >> 32) * bound;
                low = (uint)product;
            }
        }
        return (uint)(product >> 32);
    }
}
