using System.Numerics.Tensors;

namespace Tailor.Engine.Ops;

/// <summary>
/// ONNX Softmax: <c>Y = exp(X − max) / Σ exp(X − max)</c> along the axis (subtracting the max keeps exp finite).
/// Axis rule by opset: before 13 the input is coerced to 2-D [Π dims before axis, Π dims from axis] (default
/// axis 1) and normalized over the whole second part; from 13 over the single dimension <c>axis</c> (default −1).
/// Gradient: dX = Y ⊙ (dY − Σ dY ⊙ Y). Under cross-entropy the loss seeds its input directly (see the losses).
/// </summary>
[OnnxOp("Softmax")]
internal sealed class Softmax : Op
{
    readonly SoftmaxAxis axis;
    float[] row = [];

    public Softmax(OpContext context) : base(context)
    {
        context.Input(0);
        axis = new SoftmaxAxis(context);
    }

    /// <summary>The normalized axis length when the softmax runs over contiguous rows (what the fused loss needs), else 0.</summary>
    internal int ContiguousRowLength(Node output)
    {
        var (_, length, inner) = axis.Split(output.Shape);
        return inner == 1 ? length : 0;
    }

    public override int[] InferShape(Node output)
    {
        axis.Validate(output.Inputs[0]!.Shape, Fail);
        return SameShape(output);
    }

    public override void Reserve(Node output)
    {
        var (_, length, _) = axis.Split(output.Shape);
        if (row.Length < 3 * length) row = new float[3 * length];
    }

    public override void Forward(Node output, bool training) =>
        axis.ForEachRow(output.Shape, output.Inputs[0]!.Value, output.Value, row, static (x, y) =>
        {
            float max = TensorPrimitives.Max(x);
            TensorPrimitives.Subtract(x, max, y);
            TensorPrimitives.Exp(y, y);
            TensorPrimitives.Divide(y, TensorPrimitives.Sum(y), y);
        });

    public override void Backward(Node output)
    {
        var x = output.Inputs[0]!;
        if (!x.RequiresGradient) return;
        axis.ForEachRowBackward(output.Shape, output.Value, output.Gradient, x.GradientForAccumulation(), row, static (y, dy, dx) =>
        {
            float dot = TensorPrimitives.Dot(dy, y);
            for (int i = 0; i < y.Length; i++)
                dx[i] += y[i] * (dy[i] - dot);
        });
    }
}

/// <summary>ONNX LogSoftmax: <c>Y = X − max − log Σ exp(X − max)</c>, same axis rules as Softmax. Gradient: dX = dY − exp(Y) · Σ dY.</summary>
[OnnxOp("LogSoftmax")]
internal sealed class LogSoftmax : Op
{
    readonly SoftmaxAxis axis;
    float[] row = [];

    public LogSoftmax(OpContext context) : base(context)
    {
        context.Input(0);
        axis = new SoftmaxAxis(context);
    }

    internal int ContiguousRowLength(Node output)
    {
        var (_, length, inner) = axis.Split(output.Shape);
        return inner == 1 ? length : 0;
    }

    public override int[] InferShape(Node output)
    {
        axis.Validate(output.Inputs[0]!.Shape, Fail);
        return SameShape(output);
    }

    public override void Reserve(Node output)
    {
        var (_, length, _) = axis.Split(output.Shape);
        if (row.Length < 3 * length) row = new float[3 * length];
    }

    public override void Forward(Node output, bool training) =>
        axis.ForEachRow(output.Shape, output.Inputs[0]!.Value, output.Value, row, static (x, y) =>
        {
            float max = TensorPrimitives.Max(x);
            TensorPrimitives.Subtract(x, max, y);
            TensorPrimitives.Exp(y, y);
            float logSum = MathF.Log(TensorPrimitives.Sum(y));
            TensorPrimitives.Subtract(x, max + logSum, y);
        });

    public override void Backward(Node output)
    {
        var x = output.Inputs[0]!;
        if (!x.RequiresGradient) return;
        axis.ForEachRowBackward(output.Shape, output.Value, output.Gradient, x.GradientForAccumulation(), row, static (y, dy, dx) =>
        {
            float sum = TensorPrimitives.Sum(dy);
            for (int i = 0; i < y.Length; i++)
                dx[i] += dy[i] - MathF.Exp(y[i]) * sum;
        });
    }
}

/// <summary>The opset-dependent axis rule of Softmax and LogSoftmax, and row iteration over it.</summary>
internal sealed class SoftmaxAxis(OpContext context)
{
    readonly int axis = checked((int)context.Int("axis", context.Opset < 13 ? 1 : -1));
    readonly bool coerceTo2D = context.Opset < 13;

    public delegate void RowForward(ReadOnlySpan<float> x, Span<float> y);
    public delegate void RowBackward(ReadOnlySpan<float> y, ReadOnlySpan<float> dy, Span<float> dx);

    public void Validate(int[] shape, Func<string, Exception> fail)
    {
        int a = axis < 0 ? axis + shape.Length : axis;
        if (a < 0 || a >= Math.Max(shape.Length, 1))
            throw fail($"axis {axis} is out of range for rank {shape.Length}.");
    }

    /// <summary>(rows before, length normalized over, elements after): the tensor as [outer, length, inner].</summary>
    public (int outer, int length, int inner) Split(int[] shape)
    {
        int a = axis < 0 ? axis + shape.Length : axis;
        int outer = 1, length = 1, inner = 1;
        for (int d = 0; d < shape.Length; d++)
        {
            if (d < a) outer *= shape[d];
            else if (d == a || coerceTo2D) length *= shape[d];
            else inner *= shape[d];
        }
        return (outer, length, inner);
    }

    /// <summary>Runs <paramref name="body"/> on each normalized row; strided rows (inner &gt; 1) are gathered into <paramref name="scratch"/> first.</summary>
    public void ForEachRow(int[] shape, ReadOnlySpan<float> x, Span<float> y, float[] scratch, RowForward body)
    {
        var (outer, length, inner) = Split(shape);
        for (int o = 0; o < outer; o++)
        {
            if (inner == 1)
            {
                body(x.Slice(o * length, length), y.Slice(o * length, length));
                continue;
            }
            var xs = scratch.AsSpan(0, length);
            var ys = scratch.AsSpan(length, length);
            for (int i = 0; i < inner; i++)
            {
                int start = o * length * inner + i;
                for (int k = 0; k < length; k++) xs[k] = x[start + k * inner];
                body(xs, ys);
                for (int k = 0; k < length; k++) y[start + k * inner] = ys[k];
            }
        }
    }

    public void ForEachRowBackward(int[] shape, ReadOnlySpan<float> y, ReadOnlySpan<float> dy, Span<float> dx, float[] scratch, RowBackward body)
    {
        var (outer, length, inner) = Split(shape);
        for (int o = 0; o < outer; o++)
        {
            if (inner == 1)
            {
                int start = o * length;
                body(y.Slice(start, length), dy.Slice(start, length), dx.Slice(start, length));
                continue;
            }
            var ys = scratch.AsSpan(0, length);
            var dys = scratch.AsSpan(length, length);
            var dxs = scratch.AsSpan(2 * length, length);
            for (int i = 0; i < inner; i++)
            {
                int start = o * length * inner + i;
                for (int k = 0; k < length; k++) { ys[k] = y[start + k * inner]; dys[k] = dy[start + k * inner]; }
                dxs.Clear();
                body(ys, dys, dxs);
                for (int k = 0; k < length; k++) dx[start + k * inner] += dxs[k];
            }
        }
    }
}
