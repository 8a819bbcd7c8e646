using System.Numerics.Tensors;
using Tailor.Engine.Kernels;

namespace Tailor.Engine.Ops;

/// <summary>ONNX GlobalAveragePool: [N, C, H, W] → [N, C, 1, 1], each plane's mean. Gradient: dX = dY / (H·W) over the plane.</summary>
[OnnxOp("GlobalAveragePool")]
internal sealed unsafe class GlobalAveragePool : Op
{
    public GlobalAveragePool(OpContext context) : base(context) => context.Input(0);

    /// <summary>From this many input elements the planes are shared among the cores (a 1000-channel 13×13 map at batch 8
    /// is 1.35M: one core sweeps it at well under the memory's speed).</summary>
    const int ParallelElements = 1 << 18;

    public override int[] InferShape(Node output)
    {
        var x = output.Inputs[0]!.Shape;
        if (x.Length < 3)
            throw Fail($"X must have spatial dimensions, got shape [{string.Join(",", x)}].");
        return [x[0], x[1], .. Enumerable.Repeat(1, x.Length - 2)];
    }

    /// <summary>The planes and where they are: X (or dX) and Y (or dY); <see cref="Fresh"/> when dX is written, not added to.</summary>
    struct Job
    {
        public float* X, Y;
        public int Area;
        public bool Fresh;
    }

    public override void Forward(Node output, bool training)
    {
        var xNode = output.Inputs[0]!;
        int planes = output.Length, area = planes == 0 ? 0 : xNode.Length / planes;
        fixed (float* px = xNode.Value, py = output.Value)
        {
            var job = new Job { X = px, Y = py, Area = area };
            if (xNode.Length < ParallelElements || !GemmWorkers.TryForBlocks(planes, PlanesPerBlock(area), &Means, (nint)(&job)))
                Means((nint)(&job), 0, planes);
        }
    }

    static void Means(nint state, int first, int count)
    {
        ref readonly var j = ref *(Job*)state;
        for (int p = first; p < first + count; p++)
            j.Y[p] = TensorPrimitives.Sum(new ReadOnlySpan<float>(j.X + (long)p * j.Area, j.Area)) / j.Area;
    }

    public override void Backward(Node output)
    {
        var xNode = output.Inputs[0]!;
        if (!xNode.RequiresGradient) return;
        int planes = output.Length, area = planes == 0 ? 0 : xNode.Length / planes;
        // dX is usually fresh (nothing else reads X): filled in one pass instead of cleared and then added to.
        var dx = xNode.GradientForWriting(out bool fresh);
        fixed (float* pdx = dx, pdy = output.Gradient)
        {
            var job = new Job { X = pdx, Y = pdy, Area = area, Fresh = fresh };
            if (xNode.Length < ParallelElements || !GemmWorkers.TryForBlocks(planes, PlanesPerBlock(area), &Spread, (nint)(&job)))
                Spread((nint)(&job), 0, planes);
        }
    }

    static void Spread(nint state, int first, int count)
    {
        ref readonly var j = ref *(Job*)state;
        for (int p = first; p < first + count; p++)
        {
            var plane = new Span<float>(j.X + (long)p * j.Area, j.Area);
            float g = j.Y[p] / j.Area;
            if (j.Fresh) plane.Fill(g);
            else TensorPrimitives.Add(plane, g, plane);
        }
    }

    /// <summary>About 64K elements per block of planes.</summary>
    static int PlanesPerBlock(int area) => Math.Max(1, (1 << 16) / Math.Max(area, 1));
}
