using System.Numerics.Tensors;
using Tailor.Engine.Kernels;

namespace Tailor.Engine.Ops;

/// <summary>
/// ONNX ReduceMean: the mean over 'axes' (all axes when absent; negative counts from the end), keeping them as size
/// 1 when keepdims = 1 (the default) — global average pooling as <c>x.mean([2, 3])</c> exports. Axes are an
/// attribute up to opset 17 and a constant input from 18 (with noop_with_empty_axes). Gradient: each input element
/// gets dY of its output element divided by the number of elements averaged.
/// </summary>
[OnnxOp("ReduceMean")]
internal sealed class ReduceMean : Op
{
    readonly long[]? axes;
    readonly bool keepDims, noopWithEmptyAxes;
    bool[] reduce = []; // per input dimension; set by InferShape (the rank never changes with the batch size)

    public ReduceMean(OpContext context) : base(context)
    {
        context.Input(0);
        axes = context.Opset < 18 ? context.Ints("axes") : context.ConstantInt64s(1, "axes");
        keepDims = context.Int("keepdims", 1) != 0;
        noopWithEmptyAxes = context.Int("noop_with_empty_axes", 0) != 0;
    }

    public override bool CanDifferentiate(int inputIndex) => inputIndex == 0;

    bool[] Reduced(int[] x)
    {
        var mask = new bool[x.Length];
        if (axes is null || axes.Length == 0)
        {
            if (!noopWithEmptyAxes) Array.Fill(mask, true);
            return mask;
        }
        foreach (long axis in axes)
        {
            long a = axis < 0 ? axis + x.Length : axis;
            if (a < 0 || a >= x.Length)
                throw Fail($"axis {axis} is out of range for rank {x.Length}.");
            mask[a] = true;
        }
        return mask;
    }

    public override int[] InferShape(Node output)
    {
        var x = output.Inputs[0]!.Shape;
        if (x.Length > 8)
            throw Fail($"rank {x.Length} is above the supported 8.");
        reduce = Reduced(x);
        return keepDims
            ? [.. x.Select((d, i) => reduce[i] ? 1 : d)]
            : [.. x.Where((_, i) => !reduce[i])];
    }

    /// <summary>
    /// The input as blocks of merged dimensions, innermost first, each reduced or kept, with its output stride (0
    /// when reduced): the walk visits the input in contiguous runs of the innermost block, which is either summed
    /// into one output element or added onto a contiguous output run.
    /// </summary>
    struct Plan
    {
        Int8Array size, outStride, counter;
        int rank;
        public int Inner;
        public bool InnerReduced;

        public Plan(int[] x, bool[] reduce)
        {
            Span<bool> reduced = stackalloc bool[8];
            int stride = 1;
            for (int d = x.Length - 1; d >= 0; d--)
            {
                if (x[d] == 1) continue;
                if (rank > 0 && reduced[rank - 1] == reduce[d])
                    size[rank - 1] *= x[d]; // neighbours of one kind stay evenly strided in the output too
                else
                {
                    size[rank] = x[d];
                    outStride[rank] = reduce[d] ? 0 : stride;
                    reduced[rank] = reduce[d];
                    rank++;
                }
                if (!reduce[d]) stride *= x[d];
            }
            Inner = rank > 0 ? size[0] : 1;
            InnerReduced = rank > 0 && reduced[0];
        }

        /// <summary>Moves <paramref name="outOffset"/> from one run to the next (an odometer over the outer blocks).</summary>
        public void Next(ref int outOffset)
        {
            for (int b = 1; b < rank; b++)
            {
                outOffset += outStride[b];
                if (++counter[b] < size[b]) return;
                outOffset -= outStride[b] * size[b];
                counter[b] = 0;
            }
        }
    }

    public override void Forward(Node output, bool training)
    {
        var xNode = output.Inputs[0]!;
        ReadOnlySpan<float> x = xNode.Value;
        var y = output.Value;
        y.Clear();
        if (y.Length == 0) return;
        var plan = new Plan(xNode.Shape, reduce);
        int inner = plan.Inner, outOffset = 0;
        for (int run = 0; run < x.Length; run += inner)
        {
            var src = x.Slice(run, inner);
            if (plan.InnerReduced) y[outOffset] += TensorPrimitives.Sum(src);
            else { var dst = y.Slice(outOffset, inner); TensorPrimitives.Add(dst, src, dst); }
            plan.Next(ref outOffset);
        }
        TensorPrimitives.Multiply(y, (float)y.Length / x.Length, y);
    }

    public override void Backward(Node output)
    {
        var xNode = output.Inputs[0]!;
        if (!xNode.RequiresGradient || output.Length == 0) return;
        var dx = xNode.GradientForAccumulation();
        ReadOnlySpan<float> dy = output.Gradient;
        float scale = (float)output.Length / dx.Length;
        var plan = new Plan(xNode.Shape, reduce);
        int inner = plan.Inner, outOffset = 0;
        for (int run = 0; run < dx.Length; run += inner)
        {
            var d = dx.Slice(run, inner);
            if (plan.InnerReduced) TensorPrimitives.Add(d, scale * dy[outOffset], d);
            else TensorPrimitives.MultiplyAdd(dy.Slice(outOffset, inner), scale, d, d);
            plan.Next(ref outOffset);
        }
    }
}
