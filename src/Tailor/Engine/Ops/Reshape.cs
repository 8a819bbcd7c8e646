namespace Tailor.Engine.Ops;

/// <summary>
/// ONNX Reshape with the target shape from a constant int64 input (opset ≥ 5) or the 'shape' attribute (older).
/// A 0 copies the input's dimension at that index (unless allowzero = 1), one −1 is inferred from the element count.
/// Data is copied unchanged; gradient: dX = dY.
/// </summary>
[OnnxOp("Reshape")]
internal sealed class Reshape : Op
{
    readonly long[] target;
    readonly bool allowZero;

    public Reshape(OpContext context) : base(context)
    {
        context.Input(0);
        target = context.Opset < 5
            ? context.Ints("shape") ?? throw context.Fail("the 'shape' attribute is required.")
            : context.ConstantInt64s(1, "shape") ?? throw context.Fail("the shape input is required.");
        allowZero = context.Int("allowzero", 0) != 0;
        if (target.Count(d => d == -1) > 1 || target.Any(d => d < -1))
            throw context.Fail($"shape [{string.Join(",", target)}] may hold at most one -1 and no other negative value.");
    }

    public override bool CanDifferentiate(int inputIndex) => inputIndex == 0;

    public override int[] InferShape(Node output)
    {
        var x = output.Inputs[0]!;
        var shape = new int[target.Length];
        int inferred = -1;
        long known = 1;
        for (int d = 0; d < target.Length; d++)
        {
            if (target[d] == -1) { inferred = d; continue; }
            if (target[d] == 0 && !allowZero)
            {
                if (d >= x.Shape.Length) throw Fail($"shape [{string.Join(",", target)}] copies dimension {d}, which the input of rank {x.Shape.Length} lacks.");
                shape[d] = x.Shape[d];
            }
            else shape[d] = checked((int)target[d]);
            known *= shape[d];
        }
        if (inferred >= 0)
        {
            if (known == 0 || x.Length % known != 0)
                throw Fail($"cannot infer -1 in shape [{string.Join(",", target)}] for {x.Length} elements (input [{string.Join(",", x.Shape)}]).");
            shape[inferred] = (int)(x.Length / known);
            known *= shape[inferred];
        }
        if (known != x.Length)
            throw Fail($"shape [{string.Join(",", target)}] holds {known} elements, the input [{string.Join(",", x.Shape)}] has {x.Length}.");
        return shape;
    }

    public override void Forward(Node output, bool training) => output.Inputs[0]!.Value.CopyTo(output.Value);

    public override void Backward(Node output) => Identity.PassThrough(output);
}
