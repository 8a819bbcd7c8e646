using System.Numerics.Tensors;

namespace Tailor.Engine.Ops;

/// <summary>
/// ONNX Gemm: <c>Y = alpha · A' · B' + beta · C</c> with A' = transA ? Aᵀ : A (M×K), B' = transB ? Bᵀ : B (K×N),
/// and C broadcast to M×N (scalar, [N], [1,N], [M,1] or [M,N]). The fully-connected layer of most exports.
/// Gradients: dA' = alpha · dY · B'ᵀ, dB' = alpha · A'ᵀ · dY, dC = beta · (dY summed over broadcast axes).
/// </summary>
[OnnxOp("Gemm")]
internal sealed class Gemm : Op
{
    readonly float alpha, beta;
    readonly bool transA, transB;

    public Gemm(OpContext context) : base(context)
    {
        alpha = context.Float("alpha", 1f);
        beta = context.Float("beta", 1f);
        transA = context.Int("transA", 0) != 0;
        transB = context.Int("transB", 0) != 0;
        if (context.Input(0) is null || context.Input(1) is null) throw context.Fail("needs inputs A and B.");
    }

    public override int[] InferShape(Node output)
    {
        var a = output.Inputs[0]!.Shape;
        var b = output.Inputs[1]!.Shape;
        if (a.Length != 2 || b.Length != 2)
            throw Fail($"A and B must be 2-D, got [{string.Join(",", a)}] and [{string.Join(",", b)}] (insert a Flatten before it).");
        int m = transA ? a[1] : a[0], k = transA ? a[0] : a[1];
        int kb = transB ? b[1] : b[0], n = transB ? b[0] : b[1];
        if (k != kb)
            throw Fail($"inner dimensions differ: A' is {m}×{k}, B' is {kb}×{n}.");
        if (output.Inputs.Length > 2 && output.Inputs[2] is { } c && BiasKind(c.Shape, m, n) is null)
            throw Fail($"C of shape [{string.Join(",", c.Shape)}] does not broadcast to [{m},{n}].");
        return [m, n];
    }

    enum Bias { Scalar, Row, Column, Full }

    static Bias? BiasKind(int[] c, int m, int n)
    {
        int count = 1;
        foreach (int d in c) count *= d;
        if (count == 1) return Bias.Scalar;
        if ((c.Length == 1 && c[0] == n) || (c.Length == 2 && c[0] == 1 && c[1] == n)) return Bias.Row;
        if (c.Length == 2 && c[0] == m && c[1] == 1) return Bias.Column;
        if (c.Length == 2 && c[0] == m && c[1] == n) return Bias.Full;
        return null;
    }

    public override void Forward(Node output, bool training)
    {
        var a = output.Inputs[0]!;
        var b = output.Inputs[1]!;
        var c = output.Inputs.Length > 2 ? output.Inputs[2] : null;
        int m = output.Shape[0], n = output.Shape[1], k = transA ? a.Shape[0] : a.Shape[1];
        var y = output.Value;
        float gemmBeta = 0;
        if (c is not null && beta != 0)
        {
            var cv = c.Value;
            switch (BiasKind(c.Shape, m, n))
            {
                case Bias.Scalar: y.Fill(beta * cv[0]); break;
                case Bias.Row: for (int i = 0; i < m; i++) TensorPrimitives.Multiply(cv, beta, y.Slice(i * n, n)); break;
                case Bias.Column: for (int i = 0; i < m; i++) y.Slice(i * n, n).Fill(beta * cv[i]); break;
                default: TensorPrimitives.Multiply(cv, beta, y); break;
            }
            gemmBeta = 1;
        }
        Kernels.Gemm.Multiply(transA, transB, m, n, k, alpha, a.Value, a.Shape[1], b.Value, b.Shape[1], gemmBeta, y, n);
    }

    public override void Backward(Node output)
    {
        var a = output.Inputs[0]!;
        var b = output.Inputs[1]!;
        var c = output.Inputs.Length > 2 ? output.Inputs[2] : null;
        int m = output.Shape[0], n = output.Shape[1], k = transA ? a.Shape[0] : a.Shape[1];
        ReadOnlySpan<float> dy = output.Gradient;
        int lda = a.Shape[1], ldb = b.Shape[1];
        if (a.RequiresGradient)
        {
            var da = a.GradientForAccumulation();
            if (!transA) // dA[M,K] = alpha · dY · B'ᵀ
                Kernels.Gemm.Multiply(false, !transB, m, k, n, alpha, dy, n, b.Value, ldb, 1, da, lda);
            else // dA[K,M] = alpha · B' · dYᵀ
                Kernels.Gemm.Multiply(transB, true, k, m, n, alpha, b.Value, ldb, dy, n, 1, da, lda);
        }
        if (b.RequiresGradient)
        {
            var db = b.GradientForAccumulation();
            if (!transB) // dB[K,N] = alpha · A'ᵀ · dY
                Kernels.Gemm.Multiply(!transA, false, k, n, m, alpha, a.Value, lda, dy, n, 1, db, ldb);
            else // dB[N,K] = alpha · dYᵀ · A'
                Kernels.Gemm.Multiply(true, transA, n, k, m, alpha, dy, n, a.Value, lda, 1, db, ldb);
        }
        if (c is { RequiresGradient: true })
        {
            var dc = c.GradientForAccumulation();
            switch (BiasKind(c.Shape, m, n))
            {
                case Bias.Scalar: dc[0] += beta * TensorPrimitives.Sum(dy); break;
                case Bias.Row:
                    for (int i = 0; i < m; i++) TensorPrimitives.MultiplyAdd(dy.Slice(i * n, n), beta, dc, dc);
                    break;
                case Bias.Column: for (int i = 0; i < m; i++) dc[i] += beta * TensorPrimitives.Sum(dy.Slice(i * n, n)); break;
                default: TensorPrimitives.MultiplyAdd(dy, beta, dc, dc); break;
            }
        }
    }
}
