using System.Numerics.Tensors;

namespace Tailor.Engine.Ops;

/// <summary>
/// ONNX BatchNormalization with its <b>inference statistics</b>: <c>Y = scale · (X − mean) / √(var + ε) + B</c>
/// per channel (axis 1), using the running mean and variance stored in the model, in training too. This is
/// the usual choice for few-shot fine-tuning: batches of a handful of examples give statistics too noisy to
/// normalize with, and the pretrained running statistics stay valid for the exported model. Mean and variance
/// are frozen; gradients go to X, scale and B:
/// dX = dY · scale / √(var + ε), dscale = Σ dY · (X − mean) / √(var + ε), dB = Σ dY.
/// </summary>
[OnnxOp("BatchNormalization")]
internal sealed class BatchNormalization : Op
{
    readonly float epsilon;

    public BatchNormalization(OpContext context) : base(context)
    {
        for (int i = 0; i < 5; i++) context.Input(i);
        epsilon = context.Float("epsilon", 1e-5f);
        if (context.Int("training_mode", 0) != 0)
            throw context.Fail("training_mode = 1 (batch statistics) is not supported; the engine normalizes with the running statistics.");
        if (context.Opset < 9 && context.Int("spatial", 1) == 0)
            throw context.Fail("spatial = 0 (per-activation statistics) is not supported.");
        if (epsilon < 0) throw context.Fail($"epsilon must not be negative, got {epsilon}.");
    }

    /// <summary>The running statistics are not trained (see the class remarks).</summary>
    public override bool CanDifferentiate(int inputIndex) => inputIndex <= 2;

    public override int[] InferShape(Node output)
    {
        var x = output.Inputs[0]!.Shape;
        if (x.Length < 2)
            throw Fail($"X must have a channel axis, got shape [{string.Join(",", x)}].");
        for (int i = 1; i < 5; i++)
            if (output.Inputs[i]!.Length != x[1])
                throw Fail($"input {i} ('{output.Inputs[i]!.Name}') has {output.Inputs[i]!.Length} values, X has {x[1]} channels.");
        return x;
    }

    static (int n, int c, int area) Dims(Node x)
    {
        int area = 1;
        for (int d = 2; d < x.Shape.Length; d++) area *= x.Shape[d];
        return (x.Shape[0], x.Shape[1], area);
    }

    public override void Forward(Node output, bool training)
    {
        var xNode = output.Inputs[0]!;
        var (n, c, area) = Dims(xNode);
        ReadOnlySpan<float> x = xNode.Value, scale = output.Inputs[1]!.Value, bias = output.Inputs[2]!.Value,
            mean = output.Inputs[3]!.Value, variance = output.Inputs[4]!.Value;
        var y = output.Value;
        for (int ch = 0; ch < c; ch++)
        {
            // Folded into one multiply-add per element: y = a·x + b.
            float a = scale[ch] / MathF.Sqrt(variance[ch] + epsilon);
            float b = bias[ch] - mean[ch] * a;
            for (int i = 0; i < n; i++)
            {
                int start = (i * c + ch) * area;
                var dst = y.Slice(start, area);
                TensorPrimitives.Multiply(x.Slice(start, area), a, dst);
                TensorPrimitives.Add(dst, b, dst);
            }
        }
    }

    public override void Backward(Node output)
    {
        var xNode = output.Inputs[0]!;
        var scaleNode = output.Inputs[1]!;
        var biasNode = output.Inputs[2]!;
        var (n, c, area) = Dims(xNode);
        ReadOnlySpan<float> x = xNode.Value, scale = scaleNode.Value, mean = output.Inputs[3]!.Value,
            variance = output.Inputs[4]!.Value, dy = output.Gradient;
        Span<float> dx = xNode.RequiresGradient ? xNode.GradientForAccumulation() : default;
        Span<float> dscale = scaleNode.RequiresGradient ? scaleNode.GradientForAccumulation() : default;
        Span<float> dbias = biasNode.RequiresGradient ? biasNode.GradientForAccumulation() : default;
        for (int ch = 0; ch < c; ch++)
        {
            float invStd = 1 / MathF.Sqrt(variance[ch] + epsilon);
            for (int i = 0; i < n; i++)
            {
                int start = (i * c + ch) * area;
                var g = dy.Slice(start, area);
                if (xNode.RequiresGradient)
                {
                    var d = dx.Slice(start, area);
                    TensorPrimitives.MultiplyAdd(g, scale[ch] * invStd, d, d);
                }
                if (biasNode.RequiresGradient)
                    dbias[ch] += TensorPrimitives.Sum(g);
                if (scaleNode.RequiresGradient)
                    // Σ dY·(X − mean)·invStd = invStd·(Σ dY·X − mean·Σ dY)
                    dscale[ch] += invStd * (TensorPrimitives.Dot(g, x.Slice(start, area)) - mean[ch] * TensorPrimitives.Sum(g));
            }
        }
    }
}
