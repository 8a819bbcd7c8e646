namespace Tailor.Engine.Ops;

/// <summary>ONNX Flatten: [d0, …, dn] → [d0·…·d(axis−1), d(axis)·…·dn] (axis default 1, may be negative). Data is copied unchanged.</summary>
[OnnxOp("Flatten")]
internal sealed class Flatten : Op
{
    readonly int axis;

    public Flatten(OpContext context) : base(context)
    {
        context.Input(0);
        axis = checked((int)context.Int("axis", 1));
    }

    public override int[] InferShape(Node output)
    {
        var x = output.Inputs[0]!.Shape;
        int a = axis < 0 ? axis + x.Length : axis;
        if (a < 0 || a > x.Length)
            throw Fail($"axis {axis} is out of range for rank {x.Length}.");
        int outer = 1, inner = 1;
        for (int d = 0; d < x.Length; d++)
            if (d < a) outer *= x[d]; else inner *= x[d];
        return [outer, inner];
    }

    public override void Forward(Node output, bool training) => output.Inputs[0]!.Value.CopyTo(output.Value);

    public override void Backward(Node output) => Identity.PassThrough(output);
}
