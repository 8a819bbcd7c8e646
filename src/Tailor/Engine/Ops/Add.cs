using System.Numerics.Tensors;

namespace Tailor.Engine.Ops;

/// <summary>ONNX Add with numpy broadcasting: <c>Y = A + B</c>; dA, dB = dY summed over each one's broadcast axes.
/// Carries residual connections (ResNet) and biases.</summary>
[OnnxOp("Add")]
internal sealed class Add(OpContext context) : BroadcastBinary(context)
{
    public override void Forward(Node output, bool training) => ForwardWith<Sum>(output);

    private readonly struct Sum : IElementwise
    {
        public static void Both(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> y) => TensorPrimitives.Add(a, b, y);
        public static void ScalarB(ReadOnlySpan<float> a, float b, Span<float> y) => TensorPrimitives.Add(a, b, y);
        public static void ScalarA(float a, ReadOnlySpan<float> b, Span<float> y) => TensorPrimitives.Add(b, a, y);
    }

    public override void Backward(Node output)
    {
        var plan = Plan(output);
        if (output.Inputs[0]!.RequiresGradient)
            AccumulateBroadcastSum(plan, output.Gradient, output.Inputs[0]!.GradientForAccumulation(), isA: true, 1f);
        if (output.Inputs[1]!.RequiresGradient)
            AccumulateBroadcastSum(plan, output.Gradient, output.Inputs[1]!.GradientForAccumulation(), isA: false, 1f);
    }
}
