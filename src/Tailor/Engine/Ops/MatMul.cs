namespace Tailor.Engine.Ops;

/// <summary>
/// ONNX MatMul (numpy matmul) for the shapes a network head produces: A [..., M, K] times a 2-D B [K, N]
/// (A's leading dimensions fold into M), or A and B with the same leading (batch) dimensions.
/// Gradients: dA = dY · Bᵀ, dB = Aᵀ · dY (summed over A's folded rows).
/// </summary>
[OnnxOp("MatMul")]
internal sealed class MatMul : Op
{
    public MatMul(OpContext context) : base(context)
    {
        context.Input(0);
        context.Input(1);
    }

    public override int[] InferShape(Node output)
    {
        var a = output.Inputs[0]!.Shape;
        var b = output.Inputs[1]!.Shape;
        if (a.Length < 2 || b.Length < 2)
            throw Fail($"1-D operands are not supported (A [{string.Join(",", a)}], B [{string.Join(",", b)}]).");
        if (a[^1] != b[^2])
            throw Fail($"inner dimensions differ: A [{string.Join(",", a)}], B [{string.Join(",", b)}].");
        if (b.Length > 2 && (b.Length != a.Length || !a.AsSpan(0, a.Length - 2).SequenceEqual(b.AsSpan(0, b.Length - 2))))
            throw Fail($"batched B must have exactly A's leading dimensions (A [{string.Join(",", a)}], B [{string.Join(",", b)}]).");
        return [.. a[..^1], b[^1]];
    }

    static (int batches, int m, int k, int n) Dims(Node output)
    {
        var a = output.Inputs[0]!.Shape;
        var b = output.Inputs[1]!.Shape;
        int k = a[^1], n = b[^1];
        if (b.Length == 2)
        {
            int rows = 1; // A's leading dimensions fold into the row count: one GEMM for the whole batch
            for (int d = 0; d < a.Length - 1; d++) rows *= a[d];
            return (1, rows, k, n);
        }
        int batches = 1;
        for (int d = 0; d < a.Length - 2; d++) batches *= a[d];
        return (batches, a[^2], k, n);
    }

    public override void Forward(Node output, bool training)
    {
        var (batches, m, k, n) = Dims(output);
        var a = output.Inputs[0]!.Value;
        var b = output.Inputs[1]!.Value;
        var y = output.Value;
        for (int i = 0; i < batches; i++)
            Kernels.Gemm.Multiply(false, false, m, n, k, 1, a.Slice(i * m * k), k, b.Slice(i * k * n), n, 0, y.Slice(i * m * n), n);
    }

    public override void Backward(Node output)
    {
        var (batches, m, k, n) = Dims(output);
        var aNode = output.Inputs[0]!;
        var bNode = output.Inputs[1]!;
        ReadOnlySpan<float> dy = output.Gradient;
        for (int i = 0; i < batches; i++)
        {
            if (aNode.RequiresGradient)
                Kernels.Gemm.Multiply(false, true, m, k, n, 1, dy.Slice(i * m * n), n, bNode.Value.Slice(i * k * n), n, 1, aNode.GradientForAccumulation().Slice(i * m * k), k);
            if (bNode.RequiresGradient)
                Kernels.Gemm.Multiply(true, false, k, n, m, 1, aNode.Value.Slice(i * m * k), k, dy.Slice(i * m * n), n, 1, bNode.GradientForAccumulation().Slice(i * k * n), n);
        }
    }
}
