using Tailor.Engine.Kernels;

namespace Tailor.Tests.Engine;

/// <summary>
/// The strided-window kernel of Slice and Split against a plain per-element reference, over random shapes (ranks
/// 1–5, sizes 1–6 so that size-1 and mergeable dimensions both occur), begins and steps of either sign.
/// </summary>
public class StridedWindowTests
{
    [Fact]
    public void GatherAndScatterAdd_MatchThePerElementDefinition()
    {
        var rng = new Random(5);
        for (int trial = 0; trial < 400; trial++)
        {
            int rank = rng.Next(1, 6);
            var input = new int[rank];
            var output = new int[rank];
            var begin = new int[rank];
            var step = new int[rank];
            for (int d = 0; d < rank; d++)
            {
                input[d] = rng.Next(1, 7);
                // Half the dimensions are taken whole (step 1 from 0), which is what lets neighbours merge.
                if (rng.Next(2) == 0) { begin[d] = 0; step[d] = 1; output[d] = input[d]; continue; }
                step[d] = rng.Next(2) == 0 ? rng.Next(1, 4) : -rng.Next(1, 4);
                begin[d] = rng.Next(input[d]);
                int room = step[d] > 0 ? (input[d] - 1 - begin[d]) / step[d] : begin[d] / -step[d];
                output[d] = rng.Next(0, room + 2); // 0 … room + 1 elements: empty windows too
            }
            int inLength = input.Aggregate(1, (a, b) => a * b), outLength = output.Aggregate(1, (a, b) => a * b);
            var x = Enumerable.Range(0, inLength).Select(i => (float)rng.NextDouble()).ToArray();
            var expected = new float[outLength];
            var sources = new int[outLength];
            for (int o = 0; o < outLength; o++)
            {
                int rest = o, offset = 0, stride = 1;
                for (int d = rank - 1; d >= 0; d--)
                {
                    int i = rest % output[d];
                    rest /= output[d];
                    offset += (begin[d] + i * step[d]) * stride;
                    stride *= input[d];
                }
                sources[o] = offset;
                expected[o] = x[offset];
            }
            var window = StridedWindow.Create(output, input, begin, step);
            var y = new float[outLength];
            window.Gather(x, y);
            Assert.Equal(expected, y);

            var dy = Enumerable.Range(0, outLength).Select(i => (float)rng.NextDouble()).ToArray();
            var dx = Enumerable.Range(0, inLength).Select(i => (float)i).ToArray();
            var expectedDx = (float[])dx.Clone();
            for (int o = 0; o < outLength; o++) expectedDx[sources[o]] += dy[o];
            window.ScatterAdd(dy, dx);
            Assert.Equal(expectedDx, dx);
        }
    }
}
