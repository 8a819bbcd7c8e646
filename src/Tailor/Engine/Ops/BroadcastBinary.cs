using Tailor.Engine.Kernels;

namespace Tailor.Engine.Ops;

/// <summary>
/// Shape inference shared by the numpy-broadcasting elementwise ops (Add, Sub, Mul): the output takes
/// the larger size in each right-aligned dimension; sizes must match or be 1.
/// </summary>
internal abstract class BroadcastBinary : Op
{
    protected BroadcastBinary(OpContext context) : base(context)
    {
        context.Input(0);
        context.Input(1);
        if (context.Opset < 7 && context.Int("broadcast", 0) != 0 && context.Has("axis"))
            throw context.Fail("the legacy (opset < 7) 'axis' broadcast is not supported; upgrade the model's opset.");
    }

    public sealed override int[] InferShape(Node output)
    {
        var a = output.Inputs[0]!.Shape;
        var b = output.Inputs[1]!.Shape;
        return Broadcast.OutputShape(a, b)
            ?? throw Fail($"shapes [{string.Join(",", a)}] and [{string.Join(",", b)}] do not broadcast.");
    }

    protected static Broadcast Plan(Node output) =>
        Broadcast.Create(output.Inputs[0]!.Shape, output.Inputs[1]!.Shape, output.Shape);

    /// <summary>An elementwise operation over one run of a broadcast: both operands vary along the run, or one of
    /// them is the same value for the whole run.</summary>
    protected interface IElementwise
    {
        static abstract void Both(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> y);
        static abstract void ScalarB(ReadOnlySpan<float> a, float b, Span<float> y);
        static abstract void ScalarA(float a, ReadOnlySpan<float> b, Span<float> y);
    }

    /// <summary><c>Y = A op B</c> with numpy broadcasting: the one forward loop of Add, Sub, Mul and Div (the kernel is a
    /// struct type argument, so each op gets its own specialized loop).</summary>
    protected static void ForwardWith<TKernel>(Node output) where TKernel : struct, IElementwise
    {
        var plan = Plan(output);
        ReadOnlySpan<float> a = output.Inputs[0]!.Value, b = output.Inputs[1]!.Value;
        var y = output.Value;
        for (int run = 0; run < plan.OuterCount; run++)
        {
            plan.Offsets(run, out int o, out int ao, out int bo);
            var dst = y.Slice(o, plan.Inner);
            if (plan.AInner == 1 && plan.BInner == 1) TKernel.Both(a.Slice(ao, plan.Inner), b.Slice(bo, plan.Inner), dst);
            else if (plan.AInner == 1) TKernel.ScalarB(a.Slice(ao, plan.Inner), b[bo], dst);
            else TKernel.ScalarA(a[ao], b.Slice(bo, plan.Inner), dst);
        }
    }

    /// <summary>
    /// Adds <c>sign · dY</c> to the gradient of an operand, summing over the positions where that operand
    /// was repeated (its broadcast axes) — the adjoint of broadcasting.
    /// </summary>
    protected static void AccumulateBroadcastSum(in Broadcast plan, ReadOnlySpan<float> dy, Span<float> dx, bool isA, float sign)
    {
        for (int run = 0; run < plan.OuterCount; run++)
        {
            plan.Offsets(run, out int o, out int ao, out int bo);
            var g = dy.Slice(o, plan.Inner);
            int offset = isA ? ao : bo;
            if ((isA ? plan.AInner : plan.BInner) == 1)
            {
                var d = dx.Slice(offset, plan.Inner);
                System.Numerics.Tensors.TensorPrimitives.MultiplyAdd(g, sign, d, d);
            }
            else
                dx[offset] += sign * System.Numerics.Tensors.TensorPrimitives.Sum(g);
        }
    }
}
