using System.Numerics.Tensors;

namespace Tailor.Engine.Ops;

/// <summary>ONNX Mul with numpy broadcasting: <c>Y = A ⊙ B</c>; dA = Σ dY ⊙ B, dB = Σ dY ⊙ A over each one's broadcast axes.</summary>
[OnnxOp("Mul")]
internal sealed class Mul(OpContext context) : BroadcastBinary(context)
{
    public override void Forward(Node output, bool training) => ForwardWith<Product>(output);

    private readonly struct Product : IElementwise
    {
        public static void Both(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> y) => TensorPrimitives.Multiply(a, b, y);
        public static void ScalarB(ReadOnlySpan<float> a, float b, Span<float> y) => TensorPrimitives.Multiply(a, b, y);
        public static void ScalarA(float a, ReadOnlySpan<float> b, Span<float> y) => TensorPrimitives.Multiply(b, a, y);
    }

    public override void Backward(Node output)
    {
        var plan = Plan(output);
        var aNode = output.Inputs[0]!;
        var bNode = output.Inputs[1]!;
        ReadOnlySpan<float> dy = output.Gradient, a = aNode.Value, b = bNode.Value;
        if (aNode.RequiresGradient)
            Accumulate(plan, dy, other: b, otherInner: plan.BInner, aNode.GradientForAccumulation(), selfInner: plan.AInner, isA: true);
        if (bNode.RequiresGradient)
            Accumulate(plan, dy, other: a, otherInner: plan.AInner, bNode.GradientForAccumulation(), selfInner: plan.BInner, isA: false);
    }

    /// <summary>d(self) += dY ⊙ other, summed where self was broadcast.</summary>
    static void Accumulate(in Kernels.Broadcast plan, ReadOnlySpan<float> dy, ReadOnlySpan<float> other, int otherInner, Span<float> dself, int selfInner, bool isA)
    {
        int n = plan.Inner;
        for (int run = 0; run < plan.OuterCount; run++)
        {
            plan.Offsets(run, out int o, out int ao, out int bo);
            int selfOffset = isA ? ao : bo, otherOffset = isA ? bo : ao;
            var g = dy.Slice(o, n);
            if (selfInner == 1)
            {
                var d = dself.Slice(selfOffset, n);
                if (otherInner == 1) TensorPrimitives.MultiplyAdd(g, other.Slice(otherOffset, n), d, d);
                else TensorPrimitives.MultiplyAdd(g, other[otherOffset], d, d);
            }
            else
                dself[selfOffset] += otherInner == 1 ? TensorPrimitives.Dot(g, other.Slice(otherOffset, n)) : other[otherOffset] * TensorPrimitives.Sum(g);
        }
    }
}
