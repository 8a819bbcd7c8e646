namespace Tailor.Engine.Ops;

/// <summary>ONNX LeakyRelu: <c>Y = X if X ≥ 0 else alpha·X</c> (alpha default 0.01). Gradient: dX = dY · (1 or alpha).</summary>
[OnnxOp("LeakyRelu")]
internal sealed class LeakyRelu : Op
{
    readonly float alpha;

    public LeakyRelu(OpContext context) : base(context)
    {
        context.Input(0);
        alpha = context.Float("alpha", 0.01f);
    }

    public override int[] InferShape(Node output) => SameShape(output);

    public override void Forward(Node output, bool training)
    {
        ReadOnlySpan<float> x = output.Inputs[0]!.Value;
        var y = output.Value;
        for (int i = 0; i < x.Length; i++)
            y[i] = x[i] >= 0 ? x[i] : alpha * x[i];
    }

    public override void Backward(Node output)
    {
        var xNode = output.Inputs[0]!;
        if (!xNode.RequiresGradient) return;
        var dx = xNode.GradientForAccumulation();
        ReadOnlySpan<float> x = xNode.Value, dy = output.Gradient;
        for (int i = 0; i < dx.Length; i++)
            dx[i] += x[i] >= 0 ? dy[i] : alpha * dy[i];
    }
}
