using System.Runtime.Intrinsics;
using System.Numerics.Tensors;

namespace Tailor.Engine.Ops;

/// <summary>ONNX Relu: <c>Y = max(X, 0)</c>. Gradient: dX = dY where Y &gt; 0 (0 at the kink).</summary>
[OnnxOp("Relu")]
internal sealed class Relu : Op
{
    public Relu(OpContext context) : base(context) => context.Input(0);

    public override int[] InferShape(Node output) => SameShape(output);

    public override void Forward(Node output, bool training) => TensorPrimitives.Max(output.Inputs[0]!.Value, 0f, output.Value);

    public override void Backward(Node output)
    {
        var x = output.Inputs[0]!;
        if (!x.RequiresGradient) return;
        var dx = x.GradientForAccumulation();
        ReadOnlySpan<float> y = output.Value, dy = output.Gradient;
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            // Branch-free: dY where Y > 0, else 0, selected by a compare mask — ReLU masks are unpredictable.
            for (; i <= dx.Length - Vector256<float>.Count; i += Vector256<float>.Count)
            {
                var mask = Vector256.GreaterThan(Vector256.Create(y.Slice(i, Vector256<float>.Count)), Vector256<float>.Zero);
                var sum = Vector256.Create(dx.Slice(i, Vector256<float>.Count)) + (mask & Vector256.Create(dy.Slice(i, Vector256<float>.Count)));
                sum.CopyTo(dx.Slice(i, Vector256<float>.Count));
            }
        }
        for (; i < dx.Length; i++)
            if (y[i] > 0) dx[i] += dy[i];
    }
}
