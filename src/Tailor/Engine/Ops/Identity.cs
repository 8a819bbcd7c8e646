using System.Numerics.Tensors;

namespace Tailor.Engine.Ops;

/// <summary>ONNX Identity: Y = X; dX = dY.</summary>
[OnnxOp("Identity")]
internal sealed class Identity : Op
{
    public Identity(OpContext context) : base(context) => context.Input(0);

    public override int[] InferShape(Node output) => SameShape(output);

    public override void Forward(Node output, bool training) => output.Inputs[0]!.Value.CopyTo(output.Value);

    public override void Backward(Node output) => PassThrough(output);

    /// <summary>The backward of every op that only moves data without reordering it (Identity, Flatten, Reshape).</summary>
    internal static void PassThrough(Node output)
    {
        var x = output.Inputs[0]!;
        if (!x.RequiresGradient) return;
        var dx = x.GradientForAccumulation();
        TensorPrimitives.Add(dx, output.Gradient, dx);
    }
}
