using System.Numerics.Tensors;

namespace Tailor.Engine.Ops;

/// <summary>ONNX Add with numpy broadcasting: <c>Y = A + B</c>; dA, dB = dY summed over each one's broadcast axes.
/// Carries residual connections (ResNet) and biases.</summary>
[OnnxOp("Add")]
internal sealed class Add(OpContext context) : BroadcastBinary(context)
{
    public override void Forward(Node output, bool training)
    {
        var plan = Plan(output);
        ReadOnlySpan<float> a = output.Inputs[0]!.Value, b = output.Inputs[1]!.Value;
        var y = output.Value;
        for (int run = 0; run < plan.OuterCount; run++)
        {
            plan.Offsets(run, out int o, out int ao, out int bo);
            var dst = y.Slice(o, plan.Inner);
            if (plan.AInner == 1 && plan.BInner == 1) TensorPrimitives.Add(a.Slice(ao, plan.Inner), b.Slice(bo, plan.Inner), dst);
            else if (plan.AInner == 1) TensorPrimitives.Add(a.Slice(ao, plan.Inner), b[bo], dst);
            else TensorPrimitives.Add(b.Slice(bo, plan.Inner), a[ao], dst);
        }
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
