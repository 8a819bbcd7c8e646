using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Tailor.Engine.Kernels;

namespace Tailor.Engine.Ops;

/// <summary>Which algorithm a convolution runs (<see cref="Conv.Forced"/>).</summary>
internal enum ConvAlgorithm
{
    /// <summary>Winograd F(4×4, 3×3) where it applies and pays (<see cref="Conv.WinogradPays"/>), else im2col + GEMM.</summary>
    Auto,
    /// <summary>Always im2col + GEMM: the reference the Winograd path is tested and benchmarked against.</summary>
    Direct,
    /// <summary>Winograd wherever it applies (3×3, stride 1, dilation 1, one group), whatever the channel counts.</summary>
    Winograd,
}

/// <summary>
/// The Winograd path of <see cref="Conv"/>: a 3×3, stride-1, undilated, ungrouped convolution with enough channels runs
/// as 36 GEMMs on transformed tiles (<see cref="Winograd"/>), forward and both gradients. On ResNet18's last block
/// (512→512 on 7×7, batch 32) that is a third of the direct convolution's multiply-adds.
/// </summary>
/// <remarks>
/// Images run in chunks of about <see cref="TargetColumns"/> tiles. The GEMMs are the packed ones, so an output's sum does
/// not depend on the chunk or the thread count, and an image's output is bit-identical whatever batch it is in. The
/// transforms are shared among the cores by images (forward, dX) or output channels (weights), each element written by
/// one thread. In training, the transformed input V of every chunk stays for the weight gradient when it fits
/// (<see cref="KeepLimit"/>); the buffers grow to the largest batch seen and are reused.
/// </remarks>
internal sealed unsafe partial class Conv
{
    /// <summary>Overrides the choice of algorithm for convolutions run on this thread: tests compare the two paths on the
    /// same shapes, the benchmark times the step both ways in one run. <see cref="ConvAlgorithm.Auto"/> by default.</summary>
    [ThreadStatic] internal static ConvAlgorithm Forced;

    /// <summary>Fewest input and output channels for which the transforms (linear in the channel count) cost less than
    /// the multiply-adds they save (quadratic in it).</summary>
    const int WinogradMinChannels = 16;

    /// <summary>winoU: U as [position][output channel][channel] (for dX); winoUP: the forward GEMM's operand Uᵀ, each
    /// position already in the GEMM's packed layout (<see cref="Kernels.Gemm.PackedIndex"/>), so the 36 forward products
    /// read the transform's output as it was written instead of copying 36·M·C floats into packed strips first.</summary>
    float[] winoV = [], winoU = [], winoUP = [], winoM = [], winoDU = [], winoDV = [];
    bool winoForward, winoKept;

    /// <summary>Whether the last forward pass ran as Winograd (its backward pass follows it).</summary>
    internal bool RanWinograd => winoForward;

    /// <summary>Whether the convolution's geometry is one Winograd F(4×4, 3×3) computes.</summary>
    bool WinogradApplies(in Window2D g) => group == 1 && g.KernelH == 3 && g.KernelW == 3 && g.StrideH == 1 && g.StrideW == 1 &&
        g.DilationH == 1 && g.DilationW == 1;

    /// <summary>Whether a convolution with <paramref name="c"/> input and <paramref name="m"/> output channels runs as
    /// Winograd: it applies, the channels are many enough, and the CPU has the vector units the transforms are written for.
    /// Depends on the geometry only, never on the batch, so an image gives the same bits alone or in a batch.</summary>
    internal bool WinogradPays(in Window2D g, int c, int m) => Forced switch
    {
        ConvAlgorithm.Direct => false,
        ConvAlgorithm.Winograd => WinogradApplies(g),
        _ => WinogradApplies(g) && c >= WinogradMinChannels && m >= WinogradMinChannels && Vector256.IsHardwareAccelerated,
    };

    static int TilesOf(in Window2D g) => ((g.OutH + Winograd.Tile - 1) / Winograd.Tile) * ((g.OutW + Winograd.Tile - 1) / Winograd.Tile);

    static void Grow(ref float[] buffer, long size)
    {
        if (buffer.Length < size)
            buffer = new float[checked((int)size)];
    }

    /// <summary>What the transform loops need; one is built on the stack per call and shared by the threads.</summary>
    struct WinoJob
    {
        public Window2D G;
        public float* X, Y, Bias, W, U, V, M, DV, DU;
        /// <summary>beta of the weight-gradient products: 0 for the first chunk (overwrite dU), 1 after it.</summary>
        public float Beta;
        /// <summary>dW holds nothing yet: the folded weight gradient is stored, not added.</summary>
        public bool FreshWeights;
        /// <summary>First image of the chunk; channels in, out (and rounded up); tiles per image across and in all; columns (tiles) in the chunk.</summary>
        public int First, C, Cp, Mo, Mp, TilesW, Tiles, P;
        /// <summary>Floats per position of the packed Uᵀ (<see cref="winoUP"/>).</summary>
        public long PackedStride;
    }

    void WinogradForward(Node output, in Window2D g, bool training)
    {
        var xNode = output.Inputs[0]!;
        var wNode = output.Inputs[1]!;
        var bias = output.Inputs.Length > 2 ? output.Inputs[2] : null;
        int n = xNode.Shape[0], c = xNode.Shape[1], m = wNode.Shape[0];
        int cp = Winograd.RoundUp(c), mp = Winograd.RoundUp(m), tiles = TilesOf(g), chunk = ChunkSize(n, tiles, false);
        bool keep = training && wNode.RequiresGradient && (long)Winograd.Positions * n * tiles * cp <= KeepLimit;
        Grow(ref winoV, (long)Winograd.Positions * (keep ? n : chunk) * tiles * cp);
        long packedStride = Kernels.Gemm.PackedLength(c, m);
        Grow(ref winoUP, Winograd.Positions * packedStride);
        Grow(ref winoM, (long)Winograd.Positions * chunk * tiles * mp);
        winoKept = false;
        fixed (float* px = xNode.Value, py = output.Value, pw = wNode.Value, pb = bias is null ? default : bias.Value,
            pv = winoV, pu = winoUP, pm = winoM)
        {
            var job = new WinoJob
            {
                G = g, X = px, Y = py, W = pw, Bias = bias is null ? null : pb, U = pu, M = pm,
                C = c, Cp = cp, Mo = m, Mp = mp, TilesW = (g.OutW + Winograd.Tile - 1) / Winograd.Tile, Tiles = tiles,
                PackedStride = packedStride,
            };
            ForEach((m + PackedStrip - 1) / PackedStrip, &TransformWeightsPacked, &job);
            for (int first = 0; first < n; first += chunk)
            {
                int count = Math.Min(chunk, n - first), p = count * tiles;
                job.First = first;
                job.P = p;
                job.V = pv + (keep ? (long)Winograd.Positions * first * tiles * cp : 0);
                ForEach(count, &TransformInput, &job);
                ForEach(Winograd.Positions, &ForwardProducts, &job);
                ForEach(count, &TransformOutput, &job);
            }
        }
        winoKept = keep;
        winoForward = true;
    }

    void WinogradBackward(Node output, in Window2D g)
    {
        var xNode = output.Inputs[0]!;
        var wNode = output.Inputs[1]!;
        int n = xNode.Shape[0], c = xNode.Shape[1], m = wNode.Shape[0];
        int cp = Winograd.RoundUp(c), mp = Winograd.RoundUp(m), tiles = TilesOf(g), chunk = ChunkSize(n, tiles, false);
        bool dW = wNode.RequiresGradient, dX = xNode.RequiresGradient;
        if (dW)
            Grow(ref winoDU, (long)Winograd.Positions * m * cp);
        if (dX)
        {
            Grow(ref winoDV, (long)Winograd.Positions * chunk * tiles * cp);
            // dV = dM · U reads U unpacked ([position][output channel][channel]); the forward pass wrote only the packed Uᵀ.
            Grow(ref winoU, (long)Winograd.Positions * m * cp);
            fixed (float* pw = wNode.Value, pu = winoU)
            {
                var weights = new WinoJob { W = pw, U = pu, C = c, Cp = cp, Mo = m };
                ForEach(m, &TransformWeights, &weights);
            }
        }
        // The fold writes every element of dW: a fresh one (after ZeroGradients) is overwritten, not cleared and added to.
        bool freshWeights = false;
        Span<float> dw = dW ? wNode.GradientForWriting(out freshWeights) : default;
        Span<float> dx = dX ? xNode.GradientForAccumulation() : default;
        fixed (float* px = xNode.Value, pdy = output.Gradient, pdw = dw, pdx = dx,
            pv = winoV, pu = winoU, pm = winoM, pdu = winoDU, pdv = winoDV)
        {
            var job = new WinoJob
            {
                G = g, X = px, Y = pdy, W = pdw, M = pm, DV = pdv, DU = pdu, U = pu,
                C = c, Cp = cp, Mo = m, Mp = mp, TilesW = (g.OutW + Winograd.Tile - 1) / Winograd.Tile, Tiles = tiles,
                FreshWeights = freshWeights,
            };
            for (int first = 0; first < n; first += chunk)
            {
                int count = Math.Min(chunk, n - first), p = count * tiles;
                job.First = first;
                job.P = p;
                job.V = pv + (winoKept ? (long)Winograd.Positions * first * tiles * cp : 0);
                ForEach(count, &TransformOutputGradient, &job);
                if (dW)
                {
                    if (!winoKept)
                        ForEach(count, &TransformInput, &job);
                    // dU[pos] (+)= dM[pos]ᵀ · V[pos]: the sum over the chunk's tiles; chunk after chunk in order. The first
                    // chunk's product overwrites dU (beta = 0: the GEMM stores its tiles, reading nothing of dU).
                    job.Beta = first == 0 ? 0 : 1;
                    ForEach(Winograd.Positions, &WeightGradientProducts, &job);
                }
                if (dX)
                {
                    ForEach(Winograd.Positions, &InputGradientProducts, &job);
                    job.X = pdx;
                    ForEach(count, &TransformInputGradient, &job);
                    job.X = px;
                }
            }
            if (dW)
            {
                job.M = pdu;
                ForEach(m, &FoldWeightGradient, &job);
            }
        }
    }

    // The 36 products of a pass are shared among the cores by position, each computed whole by one thread (its GEMM
    // then runs serially: GemmWorkers is busy with this job). Every element is the same sum whatever the thread count,
    // no operand is packed twice, and the helpers wake once per pass instead of once per product.

    /// <summary>M[pos] = V[pos] · U[pos]ᵀ (U packed, <see cref="winoUP"/>) for positions from..to.</summary>
    static void ForwardProducts(nint state, int from, int to)
    {
        ref readonly var j = ref *(WinoJob*)state;
        for (int pos = from; pos < to; pos++)
            Kernels.Gemm.MultiplyPrepacked(false, j.P, j.Mo, j.C, 1,
                new ReadOnlySpan<float>(j.V + (long)pos * j.P * j.Cp, j.P * j.Cp), j.Cp,
                new ReadOnlySpan<float>(j.U + pos * j.PackedStride, (int)j.PackedStride),
                0, new Span<float>(j.M + (long)pos * j.P * j.Mp, j.P * j.Mp), j.Mp, Packed);
    }

    /// <summary>dU[pos] = beta · dU[pos] + dM[pos]ᵀ · V[pos] for positions from..to.</summary>
    static void WeightGradientProducts(nint state, int from, int to)
    {
        ref readonly var j = ref *(WinoJob*)state;
        for (int pos = from; pos < to; pos++)
            Kernels.Gemm.Multiply(true, false, j.Mo, j.C, j.P, 1,
                new ReadOnlySpan<float>(j.M + (long)pos * j.P * j.Mp, j.P * j.Mp), j.Mp,
                new ReadOnlySpan<float>(j.V + (long)pos * j.P * j.Cp, j.P * j.Cp), j.Cp,
                j.Beta, new Span<float>(j.DU + (long)pos * j.Mo * j.Cp, j.Mo * j.Cp), j.Cp, Packed);
    }

    /// <summary>dV[pos] = dM[pos] · U[pos] (U unpacked) for positions from..to.</summary>
    static void InputGradientProducts(nint state, int from, int to)
    {
        ref readonly var j = ref *(WinoJob*)state;
        for (int pos = from; pos < to; pos++)
            Kernels.Gemm.Multiply(false, false, j.P, j.C, j.Mo, 1,
                new ReadOnlySpan<float>(j.M + (long)pos * j.P * j.Mp, j.P * j.Mp), j.Mp,
                new ReadOnlySpan<float>(j.U + (long)pos * j.Mo * j.Cp, j.Mo * j.Cp), j.Cp,
                0, new Span<float>(j.DV + (long)pos * j.P * j.Cp, j.P * j.Cp), j.Cp, Packed);
    }

    /// <summary>Runs <paramref name="body"/> over <paramref name="units"/> on all cores (<see cref="GemmWorkers.TryFor"/>), or on this thread.</summary>
    static void ForEach(int units, delegate* managed<nint, int, int, void> body, WinoJob* job)
    {
        // Every body here computes each unit (image, position, output channel or strip) alone: dealt dynamically.
        if (!GemmWorkers.TryFor(units, body, (nint)job, dynamic: true))
            body((nint)job, 0, units);
    }

    /// <summary>Eight values <paramref name="stride"/> apart (the same pixel of eight channel planes), or fewer and zeros.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<float> Gather(float* p, long stride, int lanes) => lanes == Winograd.Lanes
        ? Vector256.Create(p[0], p[stride], p[2 * stride], p[3 * stride], p[4 * stride], p[5 * stride], p[6 * stride], p[7 * stride])
        : GatherFew(p, stride, lanes);

    [MethodImpl(MethodImplOptions.NoInlining)]
    static Vector256<float> GatherFew(float* p, long stride, int lanes)
    {
        Vector256<float> v = default;
        float* e = (float*)&v;
        for (int l = 0; l < lanes; l++)
            e[l] = p[l * stride];
        return v;
    }

    /// <summary>U[pos][mo][c] = (G w[mo, c] Gᵀ)[pos] for output channels from..to.</summary>
    static void TransformWeights(nint state, int from, int to)
    {
        ref readonly var j = ref *(WinoJob*)state;
        var taps = stackalloc Vector256<float>[9];
        var scratch = stackalloc Vector256<float>[Winograd.ScratchVectors];
        for (int mo = from; mo < to; mo++)
            for (int c0 = 0; c0 < j.C; c0 += Winograd.Lanes)
            {
                int lanes = Math.Min(Winograd.Lanes, j.C - c0);
                // The eight channels' 72 taps are contiguous: transpose them to tap-major (tap k, lane l at t[k·8 + l]).
                float* w = j.W + ((long)mo * j.C + c0) * 9, t = (float*)taps;
                if (lanes < Winograd.Lanes)
                    new Span<float>(t, 9 * Winograd.Lanes).Clear();
                for (int l = 0; l < lanes; l++)
                    for (int k = 0; k < 9; k++)
                        t[k * Winograd.Lanes + l] = w[l * 9 + k];
                Winograd.WeightTile(taps, j.U + (long)mo * j.Cp + c0, (long)j.Mo * j.Cp, scratch);
            }
    }

    /// <summary>Output channels per strip of the packed Uᵀ: the GEMM's strip width.</summary>
    const int PackedStrip = 16;

    /// <summary>
    /// The forward GEMM's B operand, Uᵀ[pos][c][mo] = (G w[mo, c] Gᵀ)[pos], written straight into the GEMM's packed layout
    /// for strips from..to of 16 output channels: the sixteen channels of a strip for one input channel are contiguous
    /// there, so the transform runs on them as lanes (one Vector512, or two Vector256 halves) and stores each position's
    /// result with one vector store. Lanes past the last output channel are zero, as the layout wants.
    /// </summary>
    static void TransformWeightsPacked(nint state, int from, int to)
    {
        ref readonly var j = ref *(WinoJob*)state;
        bool wide = Vector512.IsHardwareAccelerated;
        var taps = stackalloc Vector512<float>[9];
        var scratch = stackalloc Vector512<float>[Winograd.ScratchVectors];
        var half = stackalloc Vector256<float>[9];
        var scratch256 = (Vector256<float>*)scratch;
        float* t = (float*)taps;
        for (int strip = from; strip < to; strip++)
        {
            int m0 = strip * PackedStrip, lanes = Math.Min(PackedStrip, j.Mo - m0);
            if (lanes < PackedStrip)
                new Span<float>(t, 9 * PackedStrip).Clear();
            for (int c = 0; c < j.C; c++)
            {
                // Tap k of output channel m0 + l at t[k·16 + l]: the sixteen channels' 3×3 kernels for input channel c, transposed.
                float* w = j.W + ((long)m0 * j.C + c) * 9;
                long channelStride = (long)j.C * 9;
                for (int l = 0; l < lanes; l++, w += channelStride)
                {
                    t[l] = w[0]; t[16 + l] = w[1]; t[32 + l] = w[2];
                    t[48 + l] = w[3]; t[64 + l] = w[4]; t[80 + l] = w[5];
                    t[96 + l] = w[6]; t[112 + l] = w[7]; t[128 + l] = w[8];
                }
                float* u = j.U + Kernels.Gemm.PackedIndex(j.C, j.Mo, c, m0);
                if (wide)
                    Winograd.WeightTile(taps, u, j.PackedStride, scratch);
                else
                    for (int h = 0; h < PackedStrip; h += Winograd.Lanes)
                    {
                        for (int k = 0; k < 9; k++)
                            half[k] = Vector256.Load(t + k * PackedStrip + h);
                        Winograd.WeightTile(half, u + h, j.PackedStride, scratch256);
                    }
            }
        }
    }

    /// <summary>V[pos][tile][c] = (Bᵀ d B)[pos] for the 6×6 input patch d of each tile of images from..to of the chunk.</summary>
    static void TransformInput(nint state, int from, int to)
    {
        ref readonly var j = ref *(WinoJob*)state;
        var g = j.G;
        int inArea = g.InH * g.InW;
        var patch = stackalloc Vector256<float>[Winograd.Positions];
        var scratch = stackalloc Vector256<float>[Winograd.ScratchVectors];
        long positionStride = (long)j.P * j.Cp;
        for (int ii = from; ii < to; ii++)
        {
            float* image = j.X + (long)(j.First + ii) * j.C * inArea;
            for (int c0 = 0; c0 < j.C; c0 += Winograd.Lanes)
            {
                int lanes = Math.Min(Winograd.Lanes, j.C - c0);
                float* planes = image + (long)c0 * inArea;
                for (int t = 0; t < j.Tiles; t++)
                {
                    int y0 = t / j.TilesW * Winograd.Tile - g.PadTop, x0 = t % j.TilesW * Winograd.Tile - g.PadLeft;
                    for (int r = 0; r < Winograd.Patch; r++)
                    {
                        int iy = y0 + r;
                        for (int s = 0; s < Winograd.Patch; s++)
                        {
                            int ix = x0 + s;
                            patch[r * Winograd.Patch + s] = (uint)iy < (uint)g.InH && (uint)ix < (uint)g.InW
                                ? Gather(planes + iy * g.InW + ix, inArea, lanes) : Vector256<float>.Zero;
                        }
                    }
                    Winograd.InputTile(patch, j.V + ((long)ii * j.Tiles + t) * j.Cp + c0, positionStride, scratch);
                }
            }
        }
    }

    /// <summary>Y[image, mo, tile] = (Aᵀ M A) + bias, the 4×4 block clipped to the output plane, for images from..to of the chunk.</summary>
    static void TransformOutput(nint state, int from, int to)
    {
        ref readonly var j = ref *(WinoJob*)state;
        var g = j.G;
        int outArea = g.OutH * g.OutW;
        var block = stackalloc Vector256<float>[Winograd.Tile * Winograd.Tile];
        var scratch = stackalloc Vector256<float>[Winograd.ScratchVectors];
        long positionStride = (long)j.P * j.Mp;
        for (int ii = from; ii < to; ii++)
        {
            float* image = j.Y + (long)(j.First + ii) * j.Mo * outArea;
            for (int m0 = 0; m0 < j.Mo; m0 += Winograd.Lanes)
            {
                int lanes = Math.Min(Winograd.Lanes, j.Mo - m0);
                var bias = Vector256<float>.Zero;
                if (j.Bias != null)
                    bias = Gather(j.Bias + m0, 1, lanes);
                for (int t = 0; t < j.Tiles; t++)
                {
                    Winograd.OutputTile(j.M + ((long)ii * j.Tiles + t) * j.Mp + m0, positionStride, block, scratch);
                    int y0 = t / j.TilesW * Winograd.Tile, x0 = t % j.TilesW * Winograd.Tile;
                    int rows = Math.Min(Winograd.Tile, g.OutH - y0), cols = Math.Min(Winograd.Tile, g.OutW - x0);
                    for (int r = 0; r < rows; r++)
                        for (int s = 0; s < cols; s++)
                        {
                            var v = block[r * Winograd.Tile + s] + bias;
                            float* e = (float*)&v;
                            float* dst = image + (long)m0 * outArea + (y0 + r) * g.OutW + x0 + s;
                            for (int l = 0; l < lanes; l++)
                                dst[(long)l * outArea] = e[l];
                        }
                }
            }
        }
    }

    /// <summary>dM[pos][tile][mo] = (A dY Aᵀ)[pos], dY's 4×4 block zero outside the output plane, for images from..to of the chunk.</summary>
    static void TransformOutputGradient(nint state, int from, int to)
    {
        ref readonly var j = ref *(WinoJob*)state;
        var g = j.G;
        int outArea = g.OutH * g.OutW;
        var block = stackalloc Vector256<float>[Winograd.Tile * Winograd.Tile];
        var scratch = stackalloc Vector256<float>[Winograd.ScratchVectors];
        long positionStride = (long)j.P * j.Mp;
        for (int ii = from; ii < to; ii++)
        {
            float* image = j.Y + (long)(j.First + ii) * j.Mo * outArea;
            for (int m0 = 0; m0 < j.Mo; m0 += Winograd.Lanes)
            {
                int lanes = Math.Min(Winograd.Lanes, j.Mo - m0);
                float* planes = image + (long)m0 * outArea;
                for (int t = 0; t < j.Tiles; t++)
                {
                    int y0 = t / j.TilesW * Winograd.Tile, x0 = t % j.TilesW * Winograd.Tile;
                    for (int r = 0; r < Winograd.Tile; r++)
                        for (int s = 0; s < Winograd.Tile; s++)
                            block[r * Winograd.Tile + s] = y0 + r < g.OutH && x0 + s < g.OutW
                                ? Gather(planes + (y0 + r) * g.OutW + x0 + s, outArea, lanes) : Vector256<float>.Zero;
                    Winograd.OutputTileAdjoint(block, j.M + ((long)ii * j.Tiles + t) * j.Mp + m0, positionStride, scratch);
                }
            }
        }
    }

    /// <summary>dX[image] += Σ over tiles of B dV Bᵀ, each 6×6 patch clipped to the input plane, for images from..to of the chunk.
    /// One thread per image and the tiles in order: the overlapping patches add up in the same order every run.</summary>
    static void TransformInputGradient(nint state, int from, int to)
    {
        ref readonly var j = ref *(WinoJob*)state;
        var g = j.G;
        int inArea = g.InH * g.InW;
        var patch = stackalloc Vector256<float>[Winograd.Positions];
        var scratch = stackalloc Vector256<float>[Winograd.ScratchVectors];
        long positionStride = (long)j.P * j.Cp;
        for (int ii = from; ii < to; ii++)
        {
            float* image = j.X + (long)(j.First + ii) * j.C * inArea;
            for (int c0 = 0; c0 < j.C; c0 += Winograd.Lanes)
            {
                int lanes = Math.Min(Winograd.Lanes, j.C - c0);
                float* planes = image + (long)c0 * inArea;
                for (int t = 0; t < j.Tiles; t++)
                {
                    Winograd.InputTileAdjoint(j.DV + ((long)ii * j.Tiles + t) * j.Cp + c0, positionStride, patch, scratch);
                    int y0 = t / j.TilesW * Winograd.Tile - g.PadTop, x0 = t % j.TilesW * Winograd.Tile - g.PadLeft;
                    for (int r = 0; r < Winograd.Patch; r++)
                    {
                        int iy = y0 + r;
                        if ((uint)iy >= (uint)g.InH)
                            continue;
                        for (int s = 0; s < Winograd.Patch; s++)
                        {
                            int ix = x0 + s;
                            if ((uint)ix >= (uint)g.InW)
                                continue;
                            float* e = (float*)(patch + r * Winograd.Patch + s);
                            float* dst = planes + iy * g.InW + ix;
                            for (int l = 0; l < lanes; l++)
                                dst[(long)l * inArea] += e[l];
                        }
                    }
                }
            }
        }
    }

    /// <summary>dw[mo, c] += Gᵀ dU[mo, c] G (or = when dW is fresh) for output channels from..to (<see cref="WinoJob.M"/> holds dU here).</summary>
    static void FoldWeightGradient(nint state, int from, int to)
    {
        ref readonly var j = ref *(WinoJob*)state;
        var taps = stackalloc Vector256<float>[9];
        var scratch = stackalloc Vector256<float>[Winograd.ScratchVectors];
        long positionStride = (long)j.Mo * j.Cp;
        for (int mo = from; mo < to; mo++)
            for (int c0 = 0; c0 < j.C; c0 += Winograd.Lanes)
            {
                int lanes = Math.Min(Winograd.Lanes, j.C - c0);
                Winograd.WeightTileAdjoint(j.M + (long)mo * j.Cp + c0, positionStride, taps, scratch);
                float* dw = j.W + ((long)mo * j.C + c0) * 9;
                float* e = (float*)taps; // tap k, lane l at e[k * 8 + l]
                for (int l = 0; l < lanes; l++)
                    for (int k = 0; k < 9; k++)
                        dw[l * 9 + k] = j.FreshWeights ? e[k * Winograd.Lanes + l] : dw[l * 9 + k] + e[k * Winograd.Lanes + l];
            }
    }
}
