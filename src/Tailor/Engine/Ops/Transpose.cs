using Tailor.Engine.Kernels;

namespace Tailor.Engine.Ops;

/// <summary>ONNX Transpose: Y[i_perm[0], …] = X[i_0, …], i.e. output dimension d is input dimension perm[d]
/// (default: reversed). Gradient: dX is dY transposed back.</summary>
[OnnxOp("Transpose")]
internal sealed class Transpose : Op
{
    readonly int[]? perm;

    public Transpose(OpContext context) : base(context)
    {
        context.Input(0);
        perm = context.IntsAsInt32("perm");
        if (perm is not null && (perm.Length > 8 || !perm.Order().SequenceEqual(Enumerable.Range(0, perm.Length))))
            throw context.Fail($"perm [{string.Join(",", perm)}] is not a permutation of 0..{perm.Length - 1} (rank ≤ 8).");
    }

    int Perm(int d, int rank) => perm is null ? rank - 1 - d : perm[d];

    public override int[] InferShape(Node output)
    {
        var x = output.Inputs[0]!.Shape;
        if (perm is not null && perm.Length != x.Length)
            throw Fail($"perm has {perm.Length} entries, the input has rank {x.Length}.");
        if (x.Length > 8)
            throw Fail("rank above 8 is not supported.");
        var shape = new int[x.Length];
        for (int d = 0; d < x.Length; d++) shape[d] = x[Perm(d, x.Length)];
        return shape;
    }

    public override void Forward(Node output, bool training) => Walk(output, forward: true);

    public override void Backward(Node output)
    {
        if (output.Inputs[0]!.RequiresGradient)
            Walk(output, forward: false);
    }

    /// <summary>Visits output elements in order with an odometer over the output shape, tracking the input offset.</summary>
    void Walk(Node output, bool forward)
    {
        var xNode = output.Inputs[0]!;
        int rank = output.Shape.Length;
        Int8Array inStride = default, strideForOut = default, counter = default;
        int s = 1;
        for (int d = rank - 1; d >= 0; d--) { inStride[d] = s; s *= xNode.Shape[d]; }
        for (int d = 0; d < rank; d++) strideForOut[d] = inStride[Perm(d, rank)];
        ReadOnlySpan<float> x = xNode.Value;
        Span<float> y = output.Value;
        ReadOnlySpan<float> dy = forward ? default : output.Gradient;
        Span<float> dx = forward ? default : xNode.GradientForAccumulation();
        int inOffset = 0;
        for (int o = 0; o < output.Length; o++)
        {
            if (forward) y[o] = x[inOffset];
            else dx[inOffset] += dy[o];
            for (int d = rank - 1; d >= 0; d--)
            {
                inOffset += strideForOut[d];
                if (++counter[d] < output.Shape[d]) break;
                inOffset -= strideForOut[d] * output.Shape[d];
                counter[d] = 0;
            }
        }
    }
}
