using System.Numerics.Tensors;

namespace Tailor.Engine.Kernels;

/// <summary>
/// A strided window of a row-major tensor — what Slice and Split read: output element (i_0, …, i_r−1) is input
/// element (begin_0 + i_0·step_0, …). Dimensions of size 1 are dropped and neighbours that stay contiguous in
/// the input are merged, so a channel split of [N, C, H, W] becomes N contiguous runs of c·H·W. Built on the stack
/// in each call from the current shapes (like <see cref="Broadcast"/>): nothing to keep in sync with the batch size.
/// </summary>
internal struct StridedWindow
{
    Int8Array size, step;
    int rank;
    int start;

    /// <param name="outputShape">The window's shape (rank ≤ 8).</param>
    /// <param name="inputShape">The input's shape, same rank.</param>
    /// <param name="begin">First input index read along each dimension.</param>
    /// <param name="stepPerDim">Index step along each dimension (may be negative).</param>
    public static StridedWindow Create(ReadOnlySpan<int> outputShape, ReadOnlySpan<int> inputShape, ReadOnlySpan<int> begin, ReadOnlySpan<int> stepPerDim)
    {
        var w = new StridedWindow();
        // Walk from the innermost dimension out, merging a dimension into the block inside it when its
        // element step equals that block's whole extent (the two then read one evenly strided run).
        Int8Array mergedSize = default, mergedStep = default;
        int merged = 0, inStride = 1;
        for (int d = outputShape.Length - 1; d >= 0; d--)
        {
            w.start += begin[d] * inStride;
            int elementStep = stepPerDim[d] * inStride;
            inStride *= inputShape[d];
            int s = outputShape[d];
            if (s == 1)
                continue;
            if (merged > 0 && elementStep == mergedSize[merged - 1] * mergedStep[merged - 1])
                mergedSize[merged - 1] *= s;
            else
            {
                mergedSize[merged] = s;
                mergedStep[merged] = elementStep;
                merged++;
            }
        }
        w.rank = merged;
        for (int i = 0; i < merged; i++)
        {
            w.size[i] = mergedSize[merged - 1 - i];
            w.step[i] = mergedStep[merged - 1 - i];
        }
        return w;
    }

    /// <summary>y = the window of x.</summary>
    public readonly void Gather(ReadOnlySpan<float> x, Span<float> y) => Walk(x, y, default, default);

    /// <summary>dx[window] += dy: the adjoint of <see cref="Gather"/>.</summary>
    public readonly void ScatterAdd(ReadOnlySpan<float> dy, Span<float> dx) => Walk(default, default, dy, dx);

    readonly void Walk(ReadOnlySpan<float> x, Span<float> y, ReadOnlySpan<float> dy, Span<float> dx)
    {
        bool forward = dy.IsEmpty && dx.IsEmpty;
        int length = forward ? y.Length : dy.Length;
        if (length == 0)
            return;
        if (rank == 0)
        {
            if (forward) y[0] = x[start];
            else dx[start] += dy[0];
            return;
        }
        int inner = size[rank - 1], innerStep = step[rank - 1];
        int outer = length / inner;
        Int8Array counter = default;
        int offset = start;
        for (int o = 0; o < outer; o++)
        {
            int at = o * inner;
            if (forward)
            {
                var dst = y.Slice(at, inner);
                if (innerStep == 1) x.Slice(offset, inner).CopyTo(dst);
                else for (int i = 0; i < inner; i++) dst[i] = x[offset + i * innerStep];
            }
            else
            {
                var src = dy.Slice(at, inner);
                if (innerStep == 1)
                {
                    var d = dx.Slice(offset, inner);
                    TensorPrimitives.Add(d, src, d);
                }
                else for (int i = 0; i < inner; i++) dx[offset + i * innerStep] += src[i];
            }
            for (int d = rank - 2; d >= 0; d--)
            {
                offset += step[d];
                if (++counter[d] < size[d]) break;
                offset -= step[d] * size[d];
                counter[d] = 0;
            }
        }
    }
}
