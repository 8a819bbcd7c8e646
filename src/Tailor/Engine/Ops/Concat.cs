namespace Tailor.Engine.Ops;

/// <summary>
/// ONNX Concat along any axis (negative counts from the end). With outer = Π dims before the axis, each
/// input contributes one contiguous chunk of (its axis size × Π dims after) per outer index. Gradient: each
/// input gets back its own chunks of dY — the op Core ML cannot backpropagate through (SqueezeNet's fire modules).
/// </summary>
[OnnxOp("Concat")]
internal sealed class Concat : Op
{
    readonly int axis;

    public Concat(OpContext context) : base(context)
    {
        if (!context.Has("axis"))
            throw context.Fail("the 'axis' attribute is required.");
        axis = checked((int)context.Int("axis", 0));
        if (context.Inputs.Length == 0 || context.Inputs.Any(i => i is null))
            throw context.Fail("needs at least one input and no empty input names.");
    }

    int Axis(int rank) => axis < 0 ? axis + rank : axis;

    public override int[] InferShape(Node output)
    {
        var first = output.Inputs[0]!.Shape;
        int a = Axis(first.Length);
        if (a < 0 || a >= first.Length)
            throw Fail($"axis {axis} is out of range for rank {first.Length}.");
        var shape = (int[])first.Clone();
        shape[a] = 0;
        foreach (var input in output.Inputs)
        {
            var s = input!.Shape;
            for (int d = 0; d < s.Length; d++)
                if (s.Length != first.Length || (d != a && s[d] != first[d]))
                    throw Fail($"input '{input.Name}' has shape [{string.Join(",", s)}], which differs from [{string.Join(",", first)}] outside axis {a}.");
            shape[a] += s[a];
        }
        return shape;
    }

    public override void Forward(Node output, bool training) => Move(output, forward: true);

    public override void Backward(Node output) => Move(output, forward: false);

    void Move(Node output, bool forward)
    {
        int a = Axis(output.Shape.Length);
        int outer = 1, inner = 1;
        for (int d = 0; d < a; d++) outer *= output.Shape[d];
        for (int d = a + 1; d < output.Shape.Length; d++) inner *= output.Shape[d];
        int outRow = output.Shape[a] * inner;
        int offset = 0;
        foreach (var input in output.Inputs)
        {
            int chunk = input!.Shape[a] * inner;
            if (forward)
            {
                ReadOnlySpan<float> x = input.Value;
                var y = output.Value;
                for (int o = 0; o < outer; o++)
                    x.Slice(o * chunk, chunk).CopyTo(y.Slice(o * outRow + offset, chunk));
            }
            else if (input.RequiresGradient)
            {
                ReadOnlySpan<float> dy = output.Gradient;
                var dx = input.GradientForAccumulation();
                for (int o = 0; o < outer; o++)
                {
                    var d = dx.Slice(o * chunk, chunk);
                    System.Numerics.Tensors.TensorPrimitives.Add(d, dy.Slice(o * outRow + offset, chunk), d);
                }
            }
            offset += chunk;
        }
    }
}
