using System.Numerics.Tensors;

namespace Tailor.Engine.Ops;

/// <summary>
/// ONNX Div with numpy broadcasting: <c>Y = A / B</c>. Gradients: dA = Σ dY / B, dB = −Σ dY ⊙ A / B² over each
/// one's broadcast axes (computed as −dY ⊙ Y / B, from the output already held).
/// </summary>
[OnnxOp("Div")]
internal sealed class Div(OpContext context) : BroadcastBinary(context)
{
    public override void Forward(Node output, bool training) => ForwardWith<Quotient>(output);

    private readonly struct Quotient : IElementwise
    {
        public static void Both(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> y) => TensorPrimitives.Divide(a, b, y);
        public static void ScalarB(ReadOnlySpan<float> a, float b, Span<float> y) => TensorPrimitives.Divide(a, b, y);
        public static void ScalarA(float a, ReadOnlySpan<float> b, Span<float> y) => TensorPrimitives.Divide(a, b, y);
    }

    public override void Backward(Node output)
    {
        var plan = Plan(output);
        var aNode = output.Inputs[0]!;
        var bNode = output.Inputs[1]!;
        ReadOnlySpan<float> dy = output.Gradient, b = bNode.Value, y = output.Value;
        Span<float> da = aNode.RequiresGradient ? aNode.GradientForAccumulation() : default;
        Span<float> db = bNode.RequiresGradient ? bNode.GradientForAccumulation() : default;
        int n = plan.Inner;
        for (int run = 0; run < plan.OuterCount; run++)
        {
            plan.Offsets(run, out int o, out int ao, out int bo);
            for (int i = 0; i < n; i++)
            {
                float bi = b[bo + i * plan.BInner];
                float g = dy[o + i] / bi;
                if (aNode.RequiresGradient) da[ao + i * plan.AInner] += g;
                if (bNode.RequiresGradient) db[bo + i * plan.BInner] -= g * y[o + i];
            }
        }
    }
}
