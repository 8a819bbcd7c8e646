using System.Numerics.Tensors;
using Tailor.Engine.Kernels;

namespace Tailor.Engine.Ops;

/// <summary>
/// ONNX Conv, 2-D, NCHW: X [N, C, H, W], W [M, C/group, kh, kw], optional B [M] → Y [N, M, OH, OW].
/// Images are taken in chunks whose outputs together span about <see cref="TargetColumns"/> columns: per chunk and
/// group, the images are unfolded by im2col side by side into one column matrix and Y_g = W_g · cols runs as one
/// GEMM, so W is packed once per chunk rather than per image and a small output plane (7×7 = 49 columns) does not
/// leave a quarter of the GEMM's 16-wide register tiles empty. A 1×1 stride-1 unpadded kernel on a plane of at least
/// <see cref="PointwiseDirectColumns"/> pixels runs image by image with no unfolding: X already is the column matrix.
/// In training, the columns of every chunk stay for the weight gradient when they fit (<see cref="KeepLimit"/>). Supports asymmetric pads,
/// auto_pad, stride, dilation and groups (depthwise when group = C). A 3×3 stride-1 convolution with enough channels runs
/// as Winograd F(4×4, 3×3) instead (Conv.Winograd.cs), forward and backward.
/// Gradients per chunk: dW_g += dY_g · colsᵀ, dcols = W_gᵀ · dY_g folded back by col2im into dX, dB = Σ dY over N, OH, OW.
/// </summary>
[OnnxOp("Conv")]
internal sealed unsafe partial class Conv : Op
{
    /// <summary>Output columns per GEMM to aim for: the GEMM's NBlock, so W is packed once per chunk.</summary>
    const int TargetColumns = 512;

    /// <summary>
    /// Every GEMM here runs packed: its sum for one output element does not depend on how many columns the call has,
    /// so an image's output is bit-identical whichever chunk (batch size, position in the batch) it is computed in.
    /// The small-product path sums in another order and would make it depend on the chunk's width.
    /// </summary>
    static readonly GemmVariant Packed = Kernels.Gemm.Packed;

    /// <summary>Most floats of unfolded columns kept from a training forward pass for the weight gradient (64 MB);
    /// above it the backward pass unfolds each chunk again.</summary>
    const long KeepLimit = 16L << 20;

    readonly int group;
    readonly Window2D.Attributes window;
    float[] columns = [], columnGradient = [], outputs = [], packedColumns = [], packedWeights = [];

    /// <summary>Whether <see cref="columns"/> holds every chunk's columns from the last forward pass (a training pass
    /// with trainable weights and few enough columns), so that the backward pass need not unfold them again.</summary>
    bool columnsKept;

    public Conv(OpContext context) : base(context)
    {
        var w = context.Input(1);
        context.Input(0);
        if (w.Shape.Length != 4 && w.Kind != NodeKind.Computed)
            throw context.Fail($"only 2-D convolution is supported; W has shape [{string.Join(",", w.Shape)}].");
        group = checked((int)context.Int("group", 1));
        if (group < 1)
            throw context.Fail($"group must be at least 1, got {group}.");
        window = Window2D.ReadAttributes(context, w.Shape.Length == 4 ? [w.Shape[2], w.Shape[3]] : null);
    }

    public override bool CanDifferentiate(int inputIndex) => inputIndex <= 2;

    Window2D Geometry(Node output) => Window2D.Resolve(window, output.Inputs[0]!.Shape[2], output.Inputs[0]!.Shape[3], out _);

    public override int[] InferShape(Node output)
    {
        var x = output.Inputs[0]!.Shape;
        var w = output.Inputs[1]!.Shape;
        if (x.Length != 4 || w.Length != 4)
            throw Fail($"X and W must be 4-D (NCHW), got [{string.Join(",", x)}] and [{string.Join(",", w)}].");
        if (x[1] != w[1] * group || w[0] % group != 0)
            throw Fail($"X has {x[1]} channels, W [{string.Join(",", w)}] with group {group} expects {w[1] * group} and M divisible by the group count.");
        if (w[2] != window.Kernel[0] || w[3] != window.Kernel[1])
            throw Fail($"kernel_shape [{string.Join(",", window.Kernel)}] differs from W's spatial shape {w[2]}×{w[3]}.");
        if (output.Inputs.Length > 2 && output.Inputs[2] is { } b && (b.Shape.Length != 1 || b.Shape[0] != w[0]))
            throw Fail($"B must have shape [{w[0]}], got [{string.Join(",", b.Shape)}].");
        var g = Window2D.Resolve(window, x[2], x[3], out string? error);
        if (error is not null)
            throw Fail(error);
        return [x[0], w[0], g.OutH, g.OutW];
    }

    /// <summary>A pointwise kernel's output plane at least this wide runs image by image, straight from X: the GEMM
    /// already fills its register tiles, and gathering X and scattering Y would only add copies on one thread
    /// (`bench kernels`, 1×1 512→1000 on 13×13, batch 8, two cores: 15.1–15.3 ms a step image by image, 15.6–16.0 ms in chunks).</summary>
    const int PointwiseDirectColumns = 128;

    /// <summary>Images per chunk for a batch of <paramref name="n"/>: about <see cref="TargetColumns"/> output columns,
    /// the batch split into equal chunks. One image when its own plane is that wide, or when a pointwise kernel can
    /// read X directly (<see cref="PointwiseDirectColumns"/>).</summary>
    static int ChunkSize(int n, int outArea, bool pointwise)
    {
        if (pointwise && outArea >= PointwiseDirectColumns)
            return 1;
        int most = Math.Max(1, TargetColumns / outArea);
        int chunks = (n + most - 1) / most;
        return Math.Max(1, (n + chunks - 1) / Math.Max(chunks, 1));
    }

    public override void Reserve(Node output)
    {
        var g = Geometry(output);
        if (WinogradPays(g, output.Inputs[0]!.Shape[1], output.Inputs[1]!.Shape[0]))
            return; // its buffers grow on the first pass
        ReserveDirect(output, g);
    }

    void ReserveDirect(Node output, in Window2D g)
    {
        int n = output.Inputs[0]!.Shape[0], outArea = g.OutH * g.OutW;
        int chunk = ChunkSize(n, outArea, g.IsPointwise);
        if (g.IsPointwise && chunk == 1)
            return;
        int kk = output.Inputs[1]!.Shape[1] * g.KernelH * g.KernelW, mg = output.Inputs[1]!.Shape[0] / group;
        int size = kk * chunk * outArea;
        long all = (long)kk * outArea * n * group;
        int kept = output.Inputs[1]!.RequiresGradient && all <= KeepLimit ? (int)all : size;
        if (columns.Length < kept)
            columns = new float[kept];
        if (outputs.Length < mg * chunk * outArea)
            outputs = new float[mg * chunk * outArea];
        if (output.Inputs[0]!.RequiresGradient && columnGradient.Length < size)
            columnGradient = new float[size];
    }

    /// <summary>Whether every chunk's columns fit in <see cref="columns"/> at once (see <see cref="Reserve"/>).</summary>
    bool CanKeep(int n, int kk, int outArea) => columns.Length >= (long)kk * outArea * n * group;

    /// <summary>Below this many unfolded floats a chunk is unfolded on the calling thread alone (waking the helpers costs more).</summary>
    const int ParallelUnfoldFloats = 1 << 16;

    /// <summary>What <see cref="UnfoldRange"/> needs: the chunk's geometry and where its images and columns are.</summary>
    struct UnfoldJob
    {
        public Window2D G;
        public float* X, Cols;
        public int First, C, Cg, Gi, Width, ColumnsLength;
    }

    /// <summary>Unfolds images first..first+count of group gi side by side (image ii at column ii·outArea), the images
    /// shared among the cores when the chunk is big enough (<see cref="GemmWorkers.TryFor"/>).</summary>
    void Unfold(in Window2D g, ReadOnlySpan<float> x, int first, int count, int c, int cg, int gi, Span<float> cols)
    {
        int width = count * g.OutH * g.OutW;
        fixed (float* px = x, pc = cols)
        {
            var job = new UnfoldJob { G = g, X = px, Cols = pc, First = first, C = c, Cg = cg, Gi = gi, Width = width, ColumnsLength = cols.Length };
            if ((long)cols.Length < ParallelUnfoldFloats || !GemmWorkers.TryFor(count, &UnfoldRange, (nint)(&job)))
                UnfoldRange((nint)(&job), 0, count);
        }
    }

    static void UnfoldRange(nint state, int from, int to)
    {
        ref readonly var j = ref *(UnfoldJob*)state;
        int inArea = j.G.InH * j.G.InW, outArea = j.G.OutH * j.G.OutW;
        for (int ii = from; ii < to; ii++)
        {
            var image = new ReadOnlySpan<float>(j.X + (long)((j.First + ii) * j.C + j.Gi * j.Cg) * inArea, j.Cg * inArea);
            j.G.Im2Col(image, j.Cg, new Span<float>(j.Cols + (long)ii * outArea, j.ColumnsLength - ii * outArea), j.Width);
        }
    }

    public override void Forward(Node output, bool training)
    {
        var g = Geometry(output);
        var xNode = output.Inputs[0]!;
        var wNode = output.Inputs[1]!;
        var bias = output.Inputs.Length > 2 ? output.Inputs[2] : null;
        int n = xNode.Shape[0], c = xNode.Shape[1], m = wNode.Shape[0];
        int cg = c / group, mg = m / group, kk = cg * g.KernelH * g.KernelW;
        int inArea = g.InH * g.InW, outArea = g.OutH * g.OutW, chunk = ChunkSize(n, outArea, g.IsPointwise);
        ReadOnlySpan<float> x = xNode.Value, w = wNode.Value;
        if (WinogradPays(g, c, m))
        {
            WinogradForward(output, g, training);
            return;
        }
        winoForward = false;
        ReserveDirect(output, g);
        var y = output.Value;
        if (g.IsPointwise && chunk == 1)
        {
            // X already is each image's column matrix, and Y_g the output block: no copies. The images are shared among
            // the cores, each image's products computed whole by one thread (see PointwiseJob).
            // W packed once for all the images (each image's product would pack it again).
            long packedStride = Kernels.Gemm.PackedALength(mg, kk);
            Grow(ref packedWeights, packedStride * group);
            for (int gi = 0; gi < group; gi++)
                Kernels.Gemm.PackAInto(false, mg, kk, 1, w.Slice(gi * mg * kk, mg * kk), kk, packedWeights.AsSpan((int)(gi * packedStride), (int)packedStride));
            fixed (float* px = x, pw = w, py = y, pb = bias is null ? default : bias.Value, ppw = packedWeights)
            {
                var job = new PointwiseJob
                {
                    X = px, W = pw, Y = py, Bias = bias is null ? null : pb,
                    C = c, M = m, Cg = cg, Mg = mg, Kk = kk, InArea = inArea, OutArea = outArea, Group = group,
                    Packed = ppw, PackedStride = packedStride,
                };
                if (!GemmWorkers.TryFor(n, &PointwiseForwardImages, (nint)(&job), dynamic: true))
                    PointwiseForwardImages((nint)(&job), 0, n);
            }
            columnsKept = false;
            return;
        }
        // In training, the columns stay for the weight gradient when they all fit: chunk by chunk, group by group.
        bool keep = training && wNode.RequiresGradient && CanKeep(n, kk, outArea);
        columnsKept = false;
        for (int first = 0; first < n; first += chunk)
        {
            int count = Math.Min(chunk, n - first), width = count * outArea;
            for (int gi = 0; gi < group; gi++)
            {
                var wg = w.Slice(gi * mg * kk, mg * kk);
                if (g.IsPointwise && count == 1)
                {
                    // X already is the column matrix, and Y_g the output block: no copies.
                    var yg = y.Slice((first * m + gi * mg) * outArea, mg * outArea);
                    if (bias is not null)
                        for (int j = 0; j < mg; j++)
                            yg.Slice(j * outArea, outArea).Fill(bias.Value[gi * mg + j]);
                    Kernels.Gemm.Multiply(false, false, mg, outArea, kk, 1, wg, kk, x.Slice((first * c + gi * cg) * inArea, kk * outArea), outArea,
                        bias is null ? 0 : 1, yg, outArea, Packed);
                    continue;
                }
                var cols = columns.AsSpan(keep ? kk * outArea * (first * group + gi * count) : 0, kk * width);
                Unfold(g, x, first, count, c, cg, gi, cols);
                var block = outputs.AsSpan(0, mg * width);
                Kernels.Gemm.Multiply(false, false, mg, width, kk, 1, wg, kk, cols, width, 0, block, width, Packed);
                // Scatter row j of the block (the chunk's images side by side) to each image's channel gi·mg + j, adding the bias.
                for (int ii = 0; ii < count; ii++)
                    for (int j = 0; j < mg; j++)
                    {
                        var src = block.Slice(j * width + ii * outArea, outArea);
                        var dst = y.Slice(((first + ii) * m + gi * mg + j) * outArea, outArea);
                        if (bias is null) src.CopyTo(dst);
                        else TensorPrimitives.Add(src, bias.Value[gi * mg + j], dst);
                    }
            }
        }
        columnsKept = keep;
    }

    /// <summary>
    /// A pointwise convolution read straight from X (<see cref="PointwiseDirectColumns"/>), one pass shared among the
    /// cores: the forward products and dX image by image (each image's whole on one thread), dW by ranges of its rows,
    /// each thread adding every image's product to its rows in image order. An element is the same sum whatever the
    /// thread count, as when each product was split across the cores, but the helpers wake once per pass instead of
    /// once per image, and no thread packs an operand another thread packs too.
    /// </summary>
    struct PointwiseJob
    {
        /// <summary>Y holds dY in the backward pass.</summary>
        public float* X, W, Y, Bias, DW, DX, DB;
        public int N, C, M, Cg, Mg, Kk, InArea, OutArea, Group;
        /// <summary>Weight gradient: dW holds nothing yet (the first image's products are stored, not added).</summary>
        public bool FreshWeights;
        /// <summary>Forward: each group's W_g in the GEMM's packed layout; weight gradient: each image's (and group's) X_gᵀ;
        /// <see cref="PackedStride"/> floats apart.</summary>
        public float* Packed;
        public long PackedStride;
    }

    /// <summary>Rows of dW per unit of the pointwise weight gradient: a multiple of the GEMM's six-row panel, small enough
    /// that the units balance two cores of unequal speed, big enough that packing the rows of dY stays cheap.</summary>
    const int WeightGradientBlockRows = 16 * Kernels.Gemm.MR;

    /// <summary>X_gᵀ of images (and groups) from..to, packed for the weight gradient (<see cref="PointwiseJob.Packed"/>).</summary>
    static void PointwisePackColumns(nint state, int from, int to)
    {
        ref readonly var j = ref *(PointwiseJob*)state;
        for (int u = from; u < to; u++)
        {
            int image = u / j.Group, gi = u % j.Group;
            Kernels.Gemm.PackInto(true, j.OutArea, j.Kk,
                new ReadOnlySpan<float>(j.X + ((long)image * j.C + gi * j.Cg) * j.InArea, j.Kk * j.OutArea), j.OutArea,
                new Span<float>(j.Packed + u * j.PackedStride, (int)j.PackedStride));
        }
    }

    static void PointwiseForwardImages(nint state, int from, int to)
    {
        ref readonly var j = ref *(PointwiseJob*)state;
        for (int image = from; image < to; image++)
            for (int gi = 0; gi < j.Group; gi++)
            {
                var yg = new Span<float>(j.Y + ((long)image * j.M + gi * j.Mg) * j.OutArea, j.Mg * j.OutArea);
                if (j.Bias != null)
                    for (int r = 0; r < j.Mg; r++)
                        yg.Slice(r * j.OutArea, j.OutArea).Fill(j.Bias[gi * j.Mg + r]);
                Kernels.Gemm.MultiplyPrepackedA(j.Mg, j.OutArea, j.Kk,
                    new ReadOnlySpan<float>(j.Packed + gi * j.PackedStride, (int)j.PackedStride),
                    false, new ReadOnlySpan<float>(j.X + ((long)image * j.C + gi * j.Cg) * j.InArea, j.Kk * j.OutArea), j.OutArea,
                    j.Bias == null ? 0 : 1, yg, j.OutArea, Packed);
            }
    }

    /// <summary>dW_g[rows] += dY_g[rows] · X_gᵀ for every image in order (the first stored when dW is fresh), blocks of <see cref="WeightGradientBlockRows"/>
    /// rows from..to, X_gᵀ read packed.</summary>
    static void PointwiseWeightGradientRows(nint state, int from, int to)
    {
        ref readonly var j = ref *(PointwiseJob*)state;
        int r0 = from * WeightGradientBlockRows, rows = Math.Min(j.Mg, to * WeightGradientBlockRows) - r0;
        if (j.DB != null)
            for (int image = 0; image < j.N; image++)
                for (int gi = 0; gi < j.Group; gi++)
                    for (int r = r0; r < r0 + rows; r++)
                        j.DB[gi * j.Mg + r] += TensorPrimitives.Sum(new ReadOnlySpan<float>(j.Y + ((long)image * j.M + gi * j.Mg + r) * j.OutArea, j.OutArea));
        for (int image = 0; image < j.N; image++)
            for (int gi = 0; gi < j.Group; gi++)
                Kernels.Gemm.MultiplyPrepacked(false, rows, j.Kk, j.OutArea, 1,
                    new ReadOnlySpan<float>(j.Y + ((long)image * j.M + gi * j.Mg + r0) * j.OutArea, rows * j.OutArea), j.OutArea,
                    new ReadOnlySpan<float>(j.Packed + ((long)image * j.Group + gi) * j.PackedStride, (int)j.PackedStride),
                    image == 0 && j.FreshWeights ? 0 : 1, new Span<float>(j.DW + ((long)gi * j.Mg + r0) * j.Kk, rows * j.Kk), j.Kk, Packed);
    }

    /// <summary>dX_g += W_gᵀ · dY_g for images from..to.</summary>
    static void PointwiseInputGradientImages(nint state, int from, int to)
    {
        ref readonly var j = ref *(PointwiseJob*)state;
        for (int image = from; image < to; image++)
            for (int gi = 0; gi < j.Group; gi++)
                Kernels.Gemm.Multiply(true, false, j.Kk, j.OutArea, j.Mg, 1,
                    new ReadOnlySpan<float>(j.W + (long)gi * j.Mg * j.Kk, j.Mg * j.Kk), j.Kk,
                    new ReadOnlySpan<float>(j.Y + ((long)image * j.M + gi * j.Mg) * j.OutArea, j.Mg * j.OutArea), j.OutArea,
                    1, new Span<float>(j.DX + ((long)image * j.C + gi * j.Cg) * j.InArea, j.Cg * j.InArea), j.OutArea, Packed);
    }

    public override void Backward(Node output)
    {
        var g = Geometry(output);
        var xNode = output.Inputs[0]!;
        var wNode = output.Inputs[1]!;
        var bias = output.Inputs.Length > 2 ? output.Inputs[2] : null;
        int n = xNode.Shape[0], c = xNode.Shape[1], m = wNode.Shape[0];
        int cg = c / group, mg = m / group, kk = cg * g.KernelH * g.KernelW;
        int inArea = g.InH * g.InW, outArea = g.OutH * g.OutW, chunk = ChunkSize(n, outArea, g.IsPointwise);
        ReadOnlySpan<float> x = xNode.Value, w = wNode.Value, dy = output.Gradient;
        // The pointwise weight gradient's blocks of rows add the bias gradient of their rows too (the same sums in the
        // same image order), on all cores.
        bool biasInBlocks = g.IsPointwise && chunk == 1 && wNode.RequiresGradient && !winoForward;
        if (bias is { RequiresGradient: true } && !biasInBlocks)
        {
            var db = bias.GradientForAccumulation();
            for (int i = 0; i < n; i++)
                for (int j = 0; j < m; j++)
                    db[j] += TensorPrimitives.Sum(dy.Slice((i * m + j) * outArea, outArea));
        }
        if (!wNode.RequiresGradient && !xNode.RequiresGradient)
            return;
        if (winoForward)
        {
            WinogradBackward(output, g);
            return;
        }
        bool pointwise = g.IsPointwise && chunk == 1;
        // The pointwise weight gradient writes every element of dW: a fresh one is overwritten by the first image's products.
        bool freshWeights = false;
        Span<float> dw = !wNode.RequiresGradient ? default : pointwise ? wNode.GradientForWriting(out freshWeights) : wNode.GradientForAccumulation();
        Span<float> dx = xNode.RequiresGradient ? xNode.GradientForAccumulation() : default;
        if (pointwise)
        {
            Span<float> db = bias is { RequiresGradient: true } ? bias.GradientForAccumulation() : default;
            fixed (float* px = x, pw = w, pdy = dy, pdw = dw, pdx = dx, pdb = db)
            {
                var job = new PointwiseJob
                {
                    X = px, W = pw, Y = pdy, DW = wNode.RequiresGradient ? pdw : null, DX = xNode.RequiresGradient ? pdx : null, N = n,
                    DB = bias is { RequiresGradient: true } ? pdb : null, FreshWeights = freshWeights,
                    C = c, M = m, Cg = cg, Mg = mg, Kk = kk, InArea = inArea, OutArea = outArea, Group = group,
                };
                if (job.DW != null)
                {
                    // Each image's Xᵀ packed once (images dealt to the cores), then dW by blocks of rows dealt to whichever
                    // core is free, each block adding every image's product in image order.
                    job.PackedStride = Kernels.Gemm.PackedLength(outArea, kk);
                    Grow(ref packedColumns, job.PackedStride * n * group);
                    fixed (float* pp = packedColumns)
                    {
                        job.Packed = pp;
                        if (!GemmWorkers.TryFor(n * group, &PointwisePackColumns, (nint)(&job), dynamic: true))
                            PointwisePackColumns((nint)(&job), 0, n * group);
                        int blocks = (mg + WeightGradientBlockRows - 1) / WeightGradientBlockRows;
                        if (!GemmWorkers.TryFor(blocks, &PointwiseWeightGradientRows, (nint)(&job), dynamic: true))
                            PointwiseWeightGradientRows((nint)(&job), 0, blocks);
                    }
                }
                if (job.DX != null && !GemmWorkers.TryFor(n, &PointwiseInputGradientImages, (nint)(&job), dynamic: true))
                    PointwiseInputGradientImages((nint)(&job), 0, n);
            }
            return;
        }
        for (int first = 0; first < n; first += chunk)
        {
            int count = Math.Min(chunk, n - first), width = count * outArea;
            for (int gi = 0; gi < group; gi++)
            {
                var wg = w.Slice(gi * mg * kk, mg * kk);
                if (g.IsPointwise && count == 1)
                {
                    var dyg = dy.Slice((first * m + gi * mg) * outArea, mg * outArea);
                    if (wNode.RequiresGradient)
                        Kernels.Gemm.Multiply(false, true, mg, kk, outArea, 1, dyg, outArea, x.Slice((first * c + gi * cg) * inArea, kk * outArea), outArea,
                            1, dw.Slice(gi * mg * kk, mg * kk), kk, Packed);
                    if (xNode.RequiresGradient)
                        Kernels.Gemm.Multiply(true, false, kk, outArea, mg, 1, wg, kk, dyg, outArea, 1, dx.Slice((first * c + gi * cg) * inArea, cg * inArea), outArea, Packed);
                    continue;
                }
                // Gather dY of the chunk's images side by side, as the forward GEMM produced them.
                var block = outputs.AsSpan(0, mg * width);
                for (int ii = 0; ii < count; ii++)
                    for (int j = 0; j < mg; j++)
                        dy.Slice(((first + ii) * m + gi * mg + j) * outArea, outArea).CopyTo(block.Slice(j * width + ii * outArea, outArea));
                if (wNode.RequiresGradient)
                {
                    // The forward pass's columns when it kept them; else unfolded again (keeping every chunk's
                    // columns for a large batch would cost more memory than the unfolding costs time).
                    var cols = columns.AsSpan(columnsKept ? kk * outArea * (first * group + gi * count) : 0, kk * width);
                    if (!columnsKept) Unfold(g, x, first, count, c, cg, gi, cols);
                    Kernels.Gemm.Multiply(false, true, mg, kk, width, 1, block, width, cols, width, 1, dw.Slice(gi * mg * kk, mg * kk), kk, Packed);
                }
                if (xNode.RequiresGradient)
                {
                    var dcols = columnGradient.AsSpan(0, kk * width);
                    Kernels.Gemm.Multiply(true, false, kk, width, mg, 1, wg, kk, block, width, 0, dcols, width, Packed);
                    for (int ii = 0; ii < count; ii++)
                        g.Col2ImAdd(dcols[(ii * outArea)..], cg, dx.Slice(((first + ii) * c + gi * cg) * inArea, cg * inArea), width);
                }
            }
        }
    }
}
