using System.Numerics.Tensors;

namespace Tailor.Engine.Ops;

/// <summary>ONNX Sub with numpy broadcasting: <c>Y = A − B</c>; dA = Σ dY, dB = −Σ dY over each one's broadcast axes.</summary>
[OnnxOp("Sub")]
internal sealed class Sub(OpContext context) : BroadcastBinary(context)
{
    public override void Forward(Node output, bool training) => ForwardWith<Difference>(output);

    private readonly struct Difference : IElementwise
    {
        public static void Both(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> y) => TensorPrimitives.Subtract(a, b, y);
        public static void ScalarB(ReadOnlySpan<float> a, float b, Span<float> y) => TensorPrimitives.Subtract(a, b, y);
        public static void ScalarA(float a, ReadOnlySpan<float> b, Span<float> y) => TensorPrimitives.Subtract(a, b, y);
    }

    public override void Backward(Node output)
    {
        var plan = Plan(output);
        if (output.Inputs[0]!.RequiresGradient)
            AccumulateBroadcastSum(plan, output.Gradient, output.Inputs[0]!.GradientForAccumulation(), isA: true, 1f);
        if (output.Inputs[1]!.RequiresGradient)
            AccumulateBroadcastSum(plan, output.Gradient, output.Inputs[1]!.GradientForAccumulation(), isA: false, -1f);
    }
}
