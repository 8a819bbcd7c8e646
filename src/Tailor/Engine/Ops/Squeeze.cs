namespace Tailor.Engine.Ops;

/// <summary>
/// ONNX Squeeze: removes the listed dimensions of size 1 ('axes': an attribute before opset 13, an optional constant
/// input from 13; negative counts from the end). Without axes it removes every dimension of size 1 except the
/// first: that one is the batch, whose size varies, and a batch of one must keep the rank a larger batch has.
/// Data is copied unchanged; gradient: dX = dY.
/// </summary>
[OnnxOp("Squeeze")]
internal sealed class Squeeze : Op
{
    readonly long[]? axes;

    public Squeeze(OpContext context) : base(context)
    {
        context.Input(0);
        axes = context.Opset < 13 ? context.Ints("axes") : context.ConstantInt64s(1, "axes");
    }

    public override bool CanDifferentiate(int inputIndex) => inputIndex == 0;

    public override int[] InferShape(Node output)
    {
        var x = output.Inputs[0]!.Shape;
        var remove = new bool[x.Length];
        if (axes is null)
            for (int d = 1; d < x.Length; d++) remove[d] = x[d] == 1;
        else
            foreach (long axis in axes)
            {
                long a = axis < 0 ? axis + x.Length : axis;
                if (a < 0 || a >= x.Length)
                    throw Fail($"axis {axis} is out of range for rank {x.Length}.");
                if (x[a] != 1)
                    throw Fail($"axis {axis} has size {x[a]}, not 1 (input [{string.Join(",", x)}]).");
                remove[a] = true;
            }
        return [.. x.Where((_, d) => !remove[d])];
    }

    public override void Forward(Node output, bool training) => output.Inputs[0]!.Value.CopyTo(output.Value);

    public override void Backward(Node output) => Identity.PassThrough(output);
}

/// <summary>
/// ONNX Unsqueeze: inserts dimensions of size 1 at 'axes' (an attribute before opset 13, a constant input from 13),
/// positions in the output (negative counts from the output's end). Data is copied unchanged; gradient: dX = dY.
/// </summary>
[OnnxOp("Unsqueeze")]
internal sealed class Unsqueeze : Op
{
    readonly long[] axes;

    public Unsqueeze(OpContext context) : base(context)
    {
        context.Input(0);
        axes = (context.Opset < 13 ? context.Ints("axes") : context.ConstantInt64s(1, "axes"))
            ?? throw context.Fail(context.Opset < 13 ? "the 'axes' attribute is required." : "the axes input is required.");
    }

    public override bool CanDifferentiate(int inputIndex) => inputIndex == 0;

    public override int[] InferShape(Node output)
    {
        var x = output.Inputs[0]!.Shape;
        int rank = x.Length + axes.Length;
        var inserted = new bool[rank];
        foreach (long axis in axes)
        {
            long a = axis < 0 ? axis + rank : axis;
            if (a < 0 || a >= rank)
                throw Fail($"axis {axis} is out of range for output rank {rank}.");
            if (inserted[a])
                throw Fail($"axis {axis} is listed twice in axes [{string.Join(",", axes)}].");
            inserted[a] = true;
        }
        var shape = new int[rank];
        for (int d = 0, i = 0; d < rank; d++)
            shape[d] = inserted[d] ? 1 : x[i++];
        return shape;
    }

    public override void Forward(Node output, bool training) => output.Inputs[0]!.Value.CopyTo(output.Value);

    public override void Backward(Node output) => Identity.PassThrough(output);
}
