using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Tailor.Engine.Kernels;

/// <summary>Which inner loop <see cref="Gemm.Multiply"/> uses. Both are tested on every machine.</summary>
internal enum GemmVariant
{
    /// <summary>Vector256 + FMA when the CPU has them, else scalar.</summary>
    Auto,
    /// <summary>Plain loops; the reference the SIMD path is tested against, and the fallback.</summary>
    Scalar,
    /// <summary>Packed panels and a 6×16 Vector256/FMA register tile: for problems big enough to repay packing.</summary>
    Vector256Fma,
    /// <summary>
    /// The same packed panels with a 6×32 Vector512 register tile (two 16-column strips at once) where the CPU has
    /// AVX-512; Vector256Fma where it does not. Every lane runs the same fused multiply-adds in the same order as
    /// Vector256Fma, so the results are bit-identical; on a core with full-width 512-bit FMA units it does twice the work per cycle.
    /// </summary>
    Vector512Fma,
    /// <summary>
    /// No packing: C from register-blocked dot products of contiguous rows (A·Bᵀ) or from row updates
    /// (TensorPrimitives). For small or thin problems such as a linear head at batch 8 or 32, where packing would
    /// cost more than the arithmetic.
    /// </summary>
    SmallDirect,
}

/// <summary>
/// Single-precision general matrix multiply, row-major:
/// <c>C[m,n] = alpha · op(A)[m,k] · op(B)[k,n] + beta · C</c>, where op(X) is X or Xᵀ.
/// </summary>
/// <remarks>
/// The SIMD path follows the GotoBLAS/BLIS structure: B is packed in K×16 column strips (blocks of
/// <see cref="KBlock"/>×<see cref="NBlock"/>), A in blocks of <see cref="MBlock"/> rows cut into 6-row panels, and
/// a 6×16 register tile (12 accumulators of 8 lanes) runs K FMAs deep over one strip (in L1) and one panel (from L2). Packing absorbs the transposes, so all
/// four op(A)/op(B) combinations share one inner loop. Big problems are split across cores (<see cref="GemmWorkers"/>) by rows (or
/// columns when there are few rows); each C element is computed by one thread with the same summation
/// order, so results are bit-identical whatever the thread count. Packing buffers are per thread and
/// allocated once.
/// </remarks>
internal static unsafe class Gemm
{
    internal const int MR = 6, NR = 16;
    /// <summary>
    /// Cache blocking (BLIS's KC, MC, NC for a 6×16 sgemm on AVX2): a KBlock×16 B strip (16 KB) stays in L1, an
    /// MBlock×KBlock A block (168 KB) in L2, the KBlock×NBlock B block (512 KB) in L2/L3.
    /// </summary>
    const int KBlock = 256, MBlock = 168, NBlock = 512;
    /// <summary>Up to this many multiply-adds, <see cref="GemmVariant.SmallDirect"/> beats packing.</summary>
    const long SmallThreshold = 1L << 17;
    /// <summary>Below this many multiply-adds, splitting across threads costs more than it saves.</summary>
    const long ParallelThreshold = 1L << 21;

    [ThreadStatic] static float[]? packedA, packedB;

    public static bool SimdAvailable => Fma.IsSupported && Avx.IsSupported;

    /// <summary>Whether the packed path can use the 512-bit tile (<see cref="GemmVariant.Vector512Fma"/>).</summary>
    public static bool WideAvailable => SimdAvailable && Avx512F.IsSupported && Vector512.IsHardwareAccelerated;

    /// <summary>The fastest packed variant on this CPU, whose sums do not depend on the problem's size (see
    /// <see cref="GemmVariant.SmallDirect"/>, which does): for callers that need an element's value to depend on its
    /// row and column of the operands only.</summary>
    public static GemmVariant Packed => !SimdAvailable ? GemmVariant.Scalar : WideAvailable ? GemmVariant.Vector512Fma : GemmVariant.Vector256Fma;

    public static void Multiply(
        bool transA, bool transB, int m, int n, int k, float alpha,
        ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb,
        float beta, Span<float> c, int ldc, GemmVariant variant = GemmVariant.Auto)
    {
        if (m == 0 || n == 0)
            return;
        if (c.Length < (long)(m - 1) * ldc + n)
            throw new ArgumentException("C is too small for m×n with its leading dimension.", nameof(c));
        if (k > 0 && a.Length < (transA ? (long)(k - 1) * lda + m : (long)(m - 1) * lda + k))
            throw new ArgumentException("A is too small.", nameof(a));
        if (k > 0 && b.Length < (transB ? (long)(n - 1) * ldb + k : (long)(k - 1) * ldb + n))
            throw new ArgumentException("B is too small.", nameof(b));

        if (k == 0 || alpha == 0)
        {
            ScaleC(m, n, beta, c, ldc);
            return;
        }
        if (variant == GemmVariant.Auto && DirectPays(transA, transB, m, n, k))
            variant = GemmVariant.SmallDirect;
        if (variant == GemmVariant.SmallDirect)
        {
            ScaleC(m, n, beta, c, ldc);
            MultiplySmall(transA, transB, m, n, k, alpha, a, lda, b, ldb, c, ldc);
            return;
        }
        if (variant == GemmVariant.Scalar || (variant == GemmVariant.Auto && !SimdAvailable))
        {
            ScaleC(m, n, beta, c, ldc);
            MultiplyScalar(transA, transB, m, n, k, alpha, a, lda, b, ldb, c, ldc);
            return;
        }
        if (!SimdAvailable)
            throw new PlatformNotSupportedException("This CPU has no AVX/FMA.");

        // beta = 0: the first K block's tiles are stored, not added, so C is neither cleared first nor read
        // (it may hold NaN or garbage from a previous batch). Any other beta scales C, then every block adds.
        bool overwrite = beta == 0;
        if (!overwrite)
            ScaleC(m, n, beta, c, ldc);
        bool wide = variant is GemmVariant.Auto or GemmVariant.Vector512Fma && WideAvailable;
        fixed (float* pa = a, pb = b, pc = c)
        {
            if (GemmWorkers.Parallelism < 2 || (long)m * n * k < ParallelThreshold || (m < 2 * MR && n < 2 * NR))
            {
                MultiplyPacked(transA, transB, m, n, k, alpha, pa, lda, pb, ldb, pc, ldc, wide, overwrite);
                return;
            }
            MultiplyParallel(transA, transB, m, n, k, alpha, pa, lda, pb, ldb, pc, ldc, wide, overwrite);
        }
    }

    /// <summary>Floats of op(B)[k×n] in the packed layout <see cref="MultiplyPrepacked"/> reads: k rows of n columns
    /// rounded up to whole 16-column strips.</summary>
    public static long PackedLength(int k, int n) => (long)k * PackedWidth(n);

    static int PackedWidth(int n) => (n + NR - 1) / NR * NR;

    /// <summary>
    /// Where op(B)[p, j] sits in the packed layout: K in blocks of <see cref="KBlock"/> rows; in each block, the
    /// columns as 16-wide strips, each strip k-major (16 consecutive floats for one p). So the 16 columns of one
    /// strip at one p are contiguous: a producer can write them with one Vector512 store. Columns past n are zero.
    /// </summary>
    public static long PackedIndex(int k, int n, int p, int j)
    {
        int p0 = p / KBlock * KBlock, kb = Math.Min(KBlock, k - p0);
        return (long)p0 * PackedWidth(n) + (long)(j / NR) * kb * NR + (long)(p - p0) * NR + j % NR;
    }

    /// <summary>Writes op(B)[k×n] into the packed layout (<see cref="PackedIndex"/>, <see cref="PackedLength"/> floats at
    /// <paramref name="packed"/>): for an operand several products share, packed once instead of by each.</summary>
    public static void PackInto(bool transB, int k, int n, ReadOnlySpan<float> b, int ldb, Span<float> packed)
    {
        if (k == 0 || n == 0)
            return;
        if (b.Length < (transB ? (long)(n - 1) * ldb + k : (long)(k - 1) * ldb + n))
            throw new ArgumentException("B is too small.", nameof(b));
        if (packed.Length < PackedLength(k, n))
            throw new ArgumentException("The packed buffer is too small.", nameof(packed));
        int width = PackedWidth(n);
        fixed (float* pb = b, dst = packed)
            for (int p0 = 0; p0 < k; p0 += KBlock)
                PackB(transB, pb, ldb, p0, Math.Min(KBlock, k - p0), 0, n, dst + (long)p0 * width);
    }

    /// <summary>Floats of alpha · op(A)[m×k] in the packed layout <see cref="MultiplyPrepackedA"/> reads (and a little slack
    /// PackA's overlapping stores write past the end).</summary>
    public static long PackedALength(int m, int k) => (long)PanelHeight(m) * k + 8;

    static int PanelHeight(int m) => (m + MR - 1) / MR * MR;

    /// <summary>Where alpha · op(A)[i, p] sits in the packed layout: K in blocks of <see cref="KBlock"/>; in each block,
    /// six-row panels, each k-major (the six rows' values for one p contiguous).</summary>
    public static long PackedAIndex(int m, int k, int i, int p)
    {
        int p0 = p / KBlock * KBlock, kb = Math.Min(KBlock, k - p0);
        return (long)p0 * PanelHeight(m) + (long)(i / MR) * kb * MR + (long)(p - p0) * MR + i % MR;
    }

    /// <summary>Writes alpha · op(A)[m×k] into the packed layout (<see cref="PackedAIndex"/>, <see cref="PackedALength"/>
    /// floats): for a left operand several products share (a convolution's weights, image after image), packed once.</summary>
    public static void PackAInto(bool transA, int m, int k, float alpha, ReadOnlySpan<float> a, int lda, Span<float> packed)
    {
        if (m == 0 || k == 0)
            return;
        if (a.Length < (transA ? (long)(k - 1) * lda + m : (long)(m - 1) * lda + k))
            throw new ArgumentException("A is too small.", nameof(a));
        if (packed.Length < PackedALength(m, k))
            throw new ArgumentException("The packed buffer is too small.", nameof(packed));
        int height = PanelHeight(m);
        fixed (float* pa = a, dst = packed)
            for (int p0 = 0; p0 < k; p0 += KBlock)
                PackA(transA, pa, lda, 0, m, p0, Math.Min(KBlock, k - p0), alpha, dst + (long)p0 * height);
    }

    /// <summary>
    /// <see cref="Multiply"/> with alpha · op(A) given already packed (<see cref="PackAInto"/>): the same register tiles and
    /// K blocks as the packed variants, so every element is the same sum as <see cref="Multiply"/> with
    /// <paramref name="variant"/> and that alpha (<see cref="GemmVariant.Scalar"/> reads the layout element by element).
    /// </summary>
    public static void MultiplyPrepackedA(int m, int n, int k, ReadOnlySpan<float> packedA, bool transB, ReadOnlySpan<float> b, int ldb,
        float beta, Span<float> c, int ldc, GemmVariant variant)
    {
        if (m == 0 || n == 0)
            return;
        if (c.Length < (long)(m - 1) * ldc + n)
            throw new ArgumentException("C is too small for m×n with its leading dimension.", nameof(c));
        if (k > 0 && b.Length < (transB ? (long)(n - 1) * ldb + k : (long)(k - 1) * ldb + n))
            throw new ArgumentException("B is too small.", nameof(b));
        if (packedA.Length < PackedALength(m, k))
            throw new ArgumentException("The packed A is too small.", nameof(packedA));
        if (k == 0 || variant == GemmVariant.Scalar || !SimdAvailable)
        {
            ScaleC(m, n, beta, c, ldc);
            for (int i = 0; i < m; i++)
                for (int p = 0; p < k; p++)
                {
                    float aip = packedA[(int)PackedAIndex(m, k, i, p)];
                    for (int j = 0; j < n; j++)
                        c[i * ldc + j] += aip * (transB ? b[j * ldb + p] : b[p * ldb + j]);
                }
            return;
        }
        if (variant is not (GemmVariant.Auto or GemmVariant.Vector256Fma or GemmVariant.Vector512Fma))
            throw new ArgumentException($"{variant} does not read packed operands.", nameof(variant));
        bool overwrite = beta == 0;
        if (!overwrite)
            ScaleC(m, n, beta, c, ldc);
        bool wide = variant is GemmVariant.Auto or GemmVariant.Vector512Fma && WideAvailable;
        fixed (float* pa = packedA, pb = b, pc = c)
        {
            // Split by rows only (the packed rows are in panels); serial when small or inside another job.
            int units = (m + MR - 1) / MR;
            var job = new GemmWorkers.Job
            {
                TransB = transB, SplitRows = true, M = m, N = n, K = k, Alpha = 1,
                A = (nint)pa, B = (nint)pb, C = (nint)pc, Lda = PanelHeight(m), Ldb = ldb, Ldc = ldc,
                Units = units, Chunks = Math.Min(GemmWorkers.Parallelism, units), Wide = wide, Overwrite = overwrite, PrepackedA = true,
            };
            if (GemmWorkers.Parallelism < 2 || (long)m * n * k < ParallelThreshold || m < 2 * MR || !GemmWorkers.TryRun(job))
                MultiplyPacked(false, transB, m, n, k, 1, pa, PanelHeight(m), pb, ldb, pc, ldc, wide, overwrite, prepackedA: true);
        }
    }

    /// <summary>
    /// <see cref="Multiply"/> with op(B) given already packed (<see cref="PackedIndex"/>), by a producer that writes
    /// it in that layout directly instead of a matrix the GEMM would then copy. The same register tiles and K blocks
    /// as the packed variants, so every element is the same sum as <see cref="Multiply"/> would compute with
    /// <paramref name="variant"/> (<see cref="Packed"/>-like variants only; <see cref="GemmVariant.Scalar"/> reads
    /// the layout element by element).
    /// </summary>
    public static void MultiplyPrepacked(bool transA, int m, int n, int k, float alpha, ReadOnlySpan<float> a, int lda,
        ReadOnlySpan<float> packedB, float beta, Span<float> c, int ldc, GemmVariant variant)
    {
        if (m == 0 || n == 0)
            return;
        if (c.Length < (long)(m - 1) * ldc + n)
            throw new ArgumentException("C is too small for m×n with its leading dimension.", nameof(c));
        if (k > 0 && a.Length < (transA ? (long)(k - 1) * lda + m : (long)(m - 1) * lda + k))
            throw new ArgumentException("A is too small.", nameof(a));
        if (packedB.Length < PackedLength(k, n))
            throw new ArgumentException("The packed B is too small.", nameof(packedB));
        if (k == 0 || alpha == 0 || variant == GemmVariant.Scalar || !SimdAvailable)
        {
            ScaleC(m, n, beta, c, ldc);
            if (k == 0 || alpha == 0)
                return;
            for (int i = 0; i < m; i++)
                for (int p = 0; p < k; p++)
                {
                    float aip = alpha * (transA ? a[p * lda + i] : a[i * lda + p]);
                    for (int j = 0; j < n; j++)
                        c[i * ldc + j] += aip * packedB[(int)PackedIndex(k, n, p, j)];
                }
            return;
        }
        if (variant is not (GemmVariant.Auto or GemmVariant.Vector256Fma or GemmVariant.Vector512Fma))
            throw new ArgumentException($"{variant} does not read packed operands.", nameof(variant));
        bool overwrite = beta == 0;
        if (!overwrite)
            ScaleC(m, n, beta, c, ldc);
        bool wide = variant is GemmVariant.Auto or GemmVariant.Vector512Fma && WideAvailable;
        int width = PackedWidth(n);
        fixed (float* pa = a, pb = packedB, pc = c)
        {
            if (GemmWorkers.Parallelism < 2 || (long)m * n * k < ParallelThreshold || (m < 2 * MR && n < 2 * NR))
                MultiplyPacked(transA, false, m, n, k, alpha, pa, lda, pb, width, pc, ldc, wide, overwrite, prepacked: true);
            else
                MultiplyParallel(transA, false, m, n, k, alpha, pa, lda, pb, width, pc, ldc, wide, overwrite, prepacked: true);
        }
    }

    /// <summary>
    /// Whether to skip packing. The direct forms vectorize well only as dot products of contiguous rows
    /// (A·Bᵀ, the linear layer's forward) or as row updates when C's rows are long enough to fill vectors.
    /// Packing costs O(mk + kn) and pays back only through reuse: each packed B strip serves m/6 register
    /// tiles and each packed A panel n/16. A small product never repays it. Nor does a thin A·Bᵀ (fewer than two
    /// tiles in either direction, e.g. a 512→10 head's forward at batch 32, 163,840 multiply-adds, where 10 of 16
    /// tile columns would be used), whose register-blocked dot products run near the packed kernel's speed,
    /// unless it is big enough to be split across cores. Row updates load and store C for every k, so thin
    /// products of that form (the same head's dW at batch 32) still run faster packed.
    /// </summary>
    static bool DirectPays(bool transA, bool transB, int m, int n, int k)
    {
        bool dots = transB && !transA, rowUpdates = !transB && n >= 32;
        long product = (long)m * n * k;
        if (product <= SmallThreshold)
            return dots || rowUpdates;
        return dots && (m < 2 * MR || n < 2 * NR) && product < ParallelThreshold;
    }

    /// <summary>
    /// Splits C into contiguous row (or column) ranges, one per core, on <see cref="GemmWorkers"/>; runs serially
    /// if another thread's product holds the workers. The split never cuts a K sum, so results do not depend on it.
    /// </summary>
    static void MultiplyParallel(bool transA, bool transB, int m, int n, int k, float alpha,
        float* pa, int lda, float* pb, int ldb, float* pc, int ldc, bool wide, bool overwrite, bool prepacked = false)
    {
        bool splitRows = m >= n || n < 2 * NR;
        int units = splitRows ? (m + MR - 1) / MR : (n + NR - 1) / NR;
        var job = new GemmWorkers.Job
        {
            TransA = transA, TransB = transB, SplitRows = splitRows, M = m, N = n, K = k, Alpha = alpha,
            A = (nint)pa, B = (nint)pb, C = (nint)pc, Lda = lda, Ldb = ldb, Ldc = ldc,
            Units = units, Chunks = Math.Min(GemmWorkers.Parallelism, units), Wide = wide, Overwrite = overwrite, Prepacked = prepacked,
        };
        if (!GemmWorkers.TryRun(job))
            MultiplyPacked(transA, transB, m, n, k, alpha, pa, lda, pb, ldb, pc, ldc, wide, overwrite, prepacked);
    }

    static void ScaleC(int m, int n, float beta, Span<float> c, int ldc)
    {
        if (beta == 1)
            return;
        for (int i = 0; i < m; i++)
        {
            var row = c.Slice(i * ldc, n);
            // beta = 0 must overwrite, not multiply: C may hold NaN or garbage from a previous batch.
            if (beta == 0)
                row.Clear();
            else
                System.Numerics.Tensors.TensorPrimitives.Multiply(row, beta, row);
        }
    }

    /// <summary>
    /// op(B) = B: each row of C gathers alpha·op(A)[i,p] times row p of B (rows are contiguous, length n).
    /// op(B) = Bᵀ with op(A) = A: each C[i,j] is a dot product of two contiguous length-k rows.
    /// Both transposed is rare (never produced by the ops) and falls back to plain loops.
    /// </summary>
    static void MultiplySmall(bool transA, bool transB, int m, int n, int k, float alpha,
        ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb, Span<float> c, int ldc)
    {
        if (!transB)
        {
            for (int i = 0; i < m; i++)
            {
                var crow = c.Slice(i * ldc, n);
                for (int p = 0; p < k; p++)
                {
                    float aip = alpha * (transA ? a[p * lda + i] : a[i * lda + p]);
                    if (aip != 0)
                        System.Numerics.Tensors.TensorPrimitives.MultiplyAdd(b.Slice(p * ldb, n), aip, crow, crow);
                }
            }
        }
        else if (!transA)
        {
            fixed (float* pa = a, pb = b, pc = c)
                DotRows(m, n, k, alpha, pa, lda, pb, ldb, pc, ldc);
        }
        else
            MultiplyScalar(transA, transB, m, n, k, alpha, a, lda, b, ldb, c, ldc);
    }

    /// <summary>
    /// C[i,j] += alpha · A[i,:]·B[j,:] for contiguous rows, two rows of A against four rows of B at a time: eight
    /// independent Vector256 accumulators cover the FMA latency, and each loaded vector serves two or four of them
    /// (6 loads per 8 FMAs instead of 2 per 1 for one dot product at a time). Ragged edges repeat the last row of A
    /// or B and drop the duplicate sums, so every element is summed in the same order whatever m and n are.
    /// </summary>
    static void DotRows(int m, int n, int k, float alpha, float* a, int lda, float* b, int ldb, float* c, int ldc)
    {
        for (int i = 0; i < m; i += 2)
        {
            float* a0 = a + (long)i * lda, a1 = i + 1 < m ? a0 + lda : a0;
            float* c0 = c + (long)i * ldc;
            float* c1 = i + 1 < m ? c0 + ldc : null;
            for (int j = 0; j < n; j += 4)
            {
                float* b0 = b + (long)j * ldb;
                float* b1 = j + 1 < n ? b0 + ldb : b0, b2 = j + 2 < n ? b0 + 2L * ldb : b0, b3 = j + 3 < n ? b0 + 3L * ldb : b0;
                Dot2x4(k, alpha, a0, a1, b0, b1, b2, b3, c0 + j, c1 is null ? null : c1 + j, Math.Min(4, n - j));
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Dot2x4(int k, float alpha, float* a0, float* a1, float* b0, float* b1, float* b2, float* b3, float* c0, float* c1, int cols)
    {
        Vector256<float> s00 = default, s01 = default, s02 = default, s03 = default;
        Vector256<float> s10 = default, s11 = default, s12 = default, s13 = default;
        int p = 0;
        for (; p <= k - 8; p += 8)
        {
            var x0 = Vector256.Load(a0 + p);
            var x1 = Vector256.Load(a1 + p);
            var y = Vector256.Load(b0 + p);
            s00 = Vector256.MultiplyAddEstimate(x0, y, s00); s10 = Vector256.MultiplyAddEstimate(x1, y, s10);
            y = Vector256.Load(b1 + p);
            s01 = Vector256.MultiplyAddEstimate(x0, y, s01); s11 = Vector256.MultiplyAddEstimate(x1, y, s11);
            y = Vector256.Load(b2 + p);
            s02 = Vector256.MultiplyAddEstimate(x0, y, s02); s12 = Vector256.MultiplyAddEstimate(x1, y, s12);
            y = Vector256.Load(b3 + p);
            s03 = Vector256.MultiplyAddEstimate(x0, y, s03); s13 = Vector256.MultiplyAddEstimate(x1, y, s13);
        }
        float t00 = Vector256.Sum(s00), t01 = Vector256.Sum(s01), t02 = Vector256.Sum(s02), t03 = Vector256.Sum(s03);
        float t10 = Vector256.Sum(s10), t11 = Vector256.Sum(s11), t12 = Vector256.Sum(s12), t13 = Vector256.Sum(s13);
        for (; p < k; p++)
        {
            float x0 = a0[p], x1 = a1[p];
            t00 += x0 * b0[p]; t01 += x0 * b1[p]; t02 += x0 * b2[p]; t03 += x0 * b3[p];
            t10 += x1 * b0[p]; t11 += x1 * b1[p]; t12 += x1 * b2[p]; t13 += x1 * b3[p];
        }
        c0[0] += alpha * t00;
        if (cols > 1) c0[1] += alpha * t01;
        if (cols > 2) c0[2] += alpha * t02;
        if (cols > 3) c0[3] += alpha * t03;
        if (c1 is null)
            return;
        c1[0] += alpha * t10;
        if (cols > 1) c1[1] += alpha * t11;
        if (cols > 2) c1[2] += alpha * t12;
        if (cols > 3) c1[3] += alpha * t13;
    }

    static void MultiplyScalar(bool transA, bool transB, int m, int n, int k, float alpha,
        ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb, Span<float> c, int ldc)
    {
        for (int i = 0; i < m; i++)
        {
            var crow = c.Slice(i * ldc, n);
            for (int p = 0; p < k; p++)
            {
                float aip = alpha * (transA ? a[p * lda + i] : a[i * lda + p]);
                if (transB)
                    for (int j = 0; j < n; j++)
                        crow[j] += aip * b[j * ldb + p];
                else
                {
                    var brow = b.Slice(p * ldb, n);
                    for (int j = 0; j < n; j++)
                        crow[j] += aip * brow[j];
                }
            }
        }
    }

    internal static void MultiplyPacked(bool transA, bool transB, int m, int n, int k, float alpha,
        float* a, int lda, float* b, int ldb, float* c, int ldc, bool wide = false, bool overwrite = false,
        bool prepacked = false, int stripOffset = 0, bool prepackedA = false, int rowOffset = 0)
    {
        // Prepacked A: a is op(A) (alpha applied) in PackA's layout for the whole product (see PackedAIndex), lda its
        // padded height, and these m rows start at row rowOffset of it (a multiple of six).
        // Prepacked: b is op(B) already in PackB's layout for the whole product (see PackedIndex), ldb its padded
        // width, and these n columns start at strip stripOffset of it.
        // Slack of one vector: PackA's overlapping stores write two floats past the last k of a panel.
        var bufA = packedA ??= GC.AllocateUninitializedArray<float>(MBlock * KBlock + 8, pinned: true);
        var bufB = packedB ??= GC.AllocateUninitializedArray<float>(KBlock * NBlock, pinned: true);
        float* tile = stackalloc float[MR * 2 * NR];
        fixed (float* pA = bufA, pB = bufB)
        {
            for (int j0 = 0; j0 < n; j0 += NBlock)
            {
                int nb = Math.Min(NBlock, n - j0);
                int strips = (nb + NR - 1) / NR;
                for (int p0 = 0; p0 < k; p0 += KBlock)
                {
                    int kb = Math.Min(KBlock, k - p0);
                    bool store = overwrite && p0 == 0;
                    float* blockB = pB;
                    if (prepacked)
                        blockB = b + (long)p0 * ldb + (long)(stripOffset + j0 / NR) * kb * NR;
                    else
                        PackB(transB, b, ldb, p0, kb, j0, nb, pB);
                    for (int i0 = 0; i0 < m; i0 += MBlock)
                    {
                        int mb = Math.Min(MBlock, m - i0);
                        int panels = (mb + MR - 1) / MR;
                        float* blockA = pA;
                        if (prepackedA)
                            blockA = a + (long)p0 * lda + (long)(rowOffset + i0) * kb;
                        else
                            PackA(transA, a, lda, i0, mb, p0, kb, alpha, pA);
                        // One B strip (kb×16, 16 KB) stays in L1 while every A panel of the block streams past it
                        // from L2: per step two vector loads from L1 and six broadcasts for twelve FMAs.
                        int s = 0;
                        if (wide)
                            for (; s + 1 < strips; s += 2)
                            {
                                // Two strips at once with the 6×32 Vector512 tile (same sums as two 6×16 tiles).
                                int jj = j0 + s * NR, nbs = Math.Min(2 * NR, n - jj);
                                float* strip = blockB + (long)s * kb * NR;
                                for (int q = 0; q < panels; q++)
                                {
                                    int ii = i0 + q * MR, rows = Math.Min(MR, m - ii);
                                    float* panel = blockA + (long)q * kb * MR;
                                    float* cTile = c + (long)ii * ldc + jj;
                                    if (rows == MR && nbs == 2 * NR)
                                        Kernel6x32(kb, panel, strip, strip + (long)kb * NR, cTile, ldc, store);
                                    else
                                    {
                                        Kernel6x32(kb, panel, strip, strip + (long)kb * NR, tile, 2 * NR, true);
                                        AddTile(tile, 2 * NR, cTile, ldc, rows, nbs, store);
                                    }
                                }
                            }
                        for (; s < strips; s++)
                        {
                            int jj = j0 + s * NR, nbs = Math.Min(NR, n - jj);
                            float* strip = blockB + (long)s * kb * NR;
                            int q = 0;
                            if (wide)
                                for (; q + 1 < panels; q += 2)
                                {
                                    // An odd last strip (169 columns = 5 pairs and 9): two panels at once on Vector512,
                                    // twelve accumulators, the same sums as two 6×16 Vector256 tiles.
                                    int ii = i0 + q * MR, rows = Math.Min(2 * MR, m - ii);
                                    float* panel = blockA + (long)q * kb * MR;
                                    float* cTile = c + (long)ii * ldc + jj;
                                    if (rows == 2 * MR && nbs == NR)
                                        Kernel12x16(kb, panel, panel + (long)kb * MR, strip, cTile, ldc, store);
                                    else
                                    {
                                        Kernel12x16(kb, panel, panel + (long)kb * MR, strip, tile, NR, true);
                                        AddTile(tile, NR, cTile, ldc, rows, nbs, store);
                                    }
                                }
                            for (; q < panels; q++)
                            {
                                int ii = i0 + q * MR, rows = Math.Min(MR, m - ii);
                                float* panel = blockA + (long)q * kb * MR;
                                float* cTile = c + (long)ii * ldc + jj;
                                if (rows == MR && nbs == NR)
                                    Kernel6x16(kb, panel, strip, cTile, ldc, store);
                                else
                                {
                                    // Edge tile: compute the full 6×16 into scratch, add only the valid part.
                                    Kernel6x16(kb, panel, strip, tile, NR, true);
                                    AddTile(tile, NR, cTile, ldc, rows, nbs, store);
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// <summary>The valid rows × cols of an edge tile computed in scratch: stored into C (the first K block of a
    /// beta = 0 product) or added to it.</summary>
    static void AddTile(float* tile, int ldt, float* c, int ldc, int rows, int cols, bool store)
    {
        for (int r = 0; r < rows; r++, tile += ldt, c += ldc)
            if (store)
                new ReadOnlySpan<float>(tile, cols).CopyTo(new Span<float>(c, cols));
            else
                System.Numerics.Tensors.TensorPrimitives.Add(new ReadOnlySpan<float>(c, cols), new ReadOnlySpan<float>(tile, cols), new Span<float>(c, cols));
    }

    /// <summary>
    /// Packs alpha · op(A)[i0.., p0..] (mb rows, kb deep) as 6-row panels, each k-major groups of 6 row values;
    /// rows past mb are zero.
    /// </summary>
    static void PackA(bool transA, float* a, int lda, int i0, int mb, int p0, int kb, float alpha, float* dst)
    {
        for (int r0 = 0; r0 < mb; r0 += MR, dst += (long)kb * MR)
        {
            int rows = Math.Min(MR, mb - r0);
            if (transA)
            {
                // op(A) rows are columns of A: the six values of one k are contiguous in memory. Where eight are
                // rows of this block (so readable), one vector store writes them; its last two lanes land on the next k's slots, which
                // the next store overwrites (the buffer has slack for the last one).
                float* src = a + (long)p0 * lda + i0 + r0;
                int p = 0;
                if (r0 + 8 <= mb)
                {
                    var va = Vector256.Create(alpha);
                    for (; p < kb; p++, src += lda)
                        Vector256.Store(Vector256.Load(src) * va, dst + p * MR);
                }
                for (; p < kb; p++, src += lda)
                {
                    float* d = dst + p * MR;
                    int r = 0;
                    for (; r < rows; r++) d[r] = alpha * src[r];
                    for (; r < MR; r++) d[r] = 0;
                }
            }
            else if (rows == MR)
            {
                // Six contiguous rows: transpose 8-wide column blocks in registers (two zero rows pad the 8×8
                // transpose), storing each k's six values with one overlapping vector store as above.
                float* src = a + (long)(i0 + r0) * lda + p0;
                var va = Vector256.Create(alpha);
                int p = 0;
                for (; p <= kb - 8; p += 8)
                {
                    float* s0 = src + p;
                    Transpose8x8(
                        Vector256.Load(s0), Vector256.Load(s0 + lda), Vector256.Load(s0 + 2L * lda),
                        Vector256.Load(s0 + 3L * lda), Vector256.Load(s0 + 4L * lda), Vector256.Load(s0 + 5L * lda),
                        Vector256<float>.Zero, Vector256<float>.Zero,
                        out var o0, out var o1, out var o2, out var o3, out var o4, out var o5, out var o6, out var o7);
                    float* d = dst + p * MR;
                    Vector256.Store(o0 * va, d); Vector256.Store(o1 * va, d + MR); Vector256.Store(o2 * va, d + 2 * MR);
                    Vector256.Store(o3 * va, d + 3 * MR); Vector256.Store(o4 * va, d + 4 * MR); Vector256.Store(o5 * va, d + 5 * MR);
                    Vector256.Store(o6 * va, d + 6 * MR); Vector256.Store(o7 * va, d + 7 * MR);
                }
                for (; p < kb; p++)
                    for (int r = 0; r < MR; r++)
                        dst[p * MR + r] = alpha * src[(long)r * lda + p];
            }
            else
            {
                // Each row is contiguous: read it sequentially, write every sixth slot.
                int r = 0;
                for (; r < rows; r++)
                {
                    float* src = a + (long)(i0 + r0 + r) * lda + p0;
                    float* d = dst + r;
                    if (alpha == 1)
                        for (int p = 0; p < kb; p++) d[p * MR] = src[p];
                    else
                        for (int p = 0; p < kb; p++) d[p * MR] = alpha * src[p];
                }
                for (; r < MR; r++)
                    for (int p = 0; p < kb; p++) dst[p * MR + r] = 0;
            }
        }
    }

    /// <summary>Packs op(B)[p0.., j0..] as 16-column strips, each k-major; missing columns are zero.</summary>
    static void PackB(bool transB, float* b, int ldb, int p0, int kb, int j0, int nb, float* dst)
    {
        for (int s = 0; s * NR < nb; s++, dst += (long)kb * NR)
        {
            int jBase = j0 + s * NR, cols = Math.Min(NR, nb - s * NR);
            if (!transB)
            {
                float* src = b + (long)p0 * ldb + jBase;
                if (cols == NR)
                    for (int p = 0; p < kb; p++, src += ldb)
                    {
                        Vector256.Store(Vector256.Load(src), dst + p * NR);
                        Vector256.Store(Vector256.Load(src + 8), dst + p * NR + 8);
                    }
                else
                    for (int p = 0; p < kb; p++, src += ldb)
                    {
                        float* d = dst + p * NR;
                        int q = 0;
                        for (; q < cols; q++) d[q] = src[q];
                        for (; q < NR; q++) d[q] = 0;
                    }
            }
            else if (cols == NR)
            {
                // op(B) columns are rows of B: transpose 8×8 blocks of two groups of eight rows in registers.
                int p = 0;
                for (; p <= kb - 8; p += 8)
                    for (int h = 0; h < NR; h += 8)
                    {
                        float* s0 = b + (long)(jBase + h) * ldb + p0 + p;
                        Transpose8x8(
                            Vector256.Load(s0), Vector256.Load(s0 + ldb), Vector256.Load(s0 + 2L * ldb), Vector256.Load(s0 + 3L * ldb),
                            Vector256.Load(s0 + 4L * ldb), Vector256.Load(s0 + 5L * ldb), Vector256.Load(s0 + 6L * ldb), Vector256.Load(s0 + 7L * ldb),
                            out var o0, out var o1, out var o2, out var o3, out var o4, out var o5, out var o6, out var o7);
                        float* d = dst + p * NR + h;
                        Vector256.Store(o0, d); Vector256.Store(o1, d + NR); Vector256.Store(o2, d + 2 * NR); Vector256.Store(o3, d + 3 * NR);
                        Vector256.Store(o4, d + 4 * NR); Vector256.Store(o5, d + 5 * NR); Vector256.Store(o6, d + 6 * NR); Vector256.Store(o7, d + 7 * NR);
                    }
                for (; p < kb; p++)
                    for (int q = 0; q < NR; q++)
                        dst[p * NR + q] = b[(long)(jBase + q) * ldb + p0 + p];
            }
            else
            {
                // op(B) columns are rows of B: read each sequentially, write every sixteenth slot.
                int q = 0;
                for (; q < cols; q++)
                {
                    float* src = b + (long)(jBase + q) * ldb + p0;
                    float* d = dst + q;
                    for (int p = 0; p < kb; p++) d[p * NR] = src[p];
                }
                for (; q < NR; q++)
                    for (int p = 0; p < kb; p++) dst[p * NR + q] = 0;
            }
        }
    }

    /// <summary>Transposes the 8×8 block whose rows are r0…r7: lane j of rᵢ becomes lane i of oⱼ.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Transpose8x8(
        Vector256<float> r0, Vector256<float> r1, Vector256<float> r2, Vector256<float> r3,
        Vector256<float> r4, Vector256<float> r5, Vector256<float> r6, Vector256<float> r7,
        out Vector256<float> o0, out Vector256<float> o1, out Vector256<float> o2, out Vector256<float> o3,
        out Vector256<float> o4, out Vector256<float> o5, out Vector256<float> o6, out Vector256<float> o7)
    {
        var t0 = Avx.UnpackLow(r0, r1); var t1 = Avx.UnpackHigh(r0, r1);
        var t2 = Avx.UnpackLow(r2, r3); var t3 = Avx.UnpackHigh(r2, r3);
        var t4 = Avx.UnpackLow(r4, r5); var t5 = Avx.UnpackHigh(r4, r5);
        var t6 = Avx.UnpackLow(r6, r7); var t7 = Avx.UnpackHigh(r6, r7);
        var u0 = Avx.Shuffle(t0, t2, 0x44); var u1 = Avx.Shuffle(t0, t2, 0xEE);
        var u2 = Avx.Shuffle(t1, t3, 0x44); var u3 = Avx.Shuffle(t1, t3, 0xEE);
        var u4 = Avx.Shuffle(t4, t6, 0x44); var u5 = Avx.Shuffle(t4, t6, 0xEE);
        var u6 = Avx.Shuffle(t5, t7, 0x44); var u7 = Avx.Shuffle(t5, t7, 0xEE);
        o0 = Avx.Permute2x128(u0, u4, 0x20); o1 = Avx.Permute2x128(u1, u5, 0x20);
        o2 = Avx.Permute2x128(u2, u6, 0x20); o3 = Avx.Permute2x128(u3, u7, 0x20);
        o4 = Avx.Permute2x128(u0, u4, 0x31); o5 = Avx.Permute2x128(u1, u5, 0x31);
        o6 = Avx.Permute2x128(u2, u6, 0x31); o7 = Avx.Permute2x128(u3, u7, 0x31);
    }

    /// <summary>C[6×16] += Apanel[6×kb] · Bstrip[kb×16], with 12 Vector256 accumulators held in registers.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Kernel6x16(int kb, float* a, float* b, float* c, int ldc, bool store)
    {
        Vector256<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector256<float> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        for (int p = 0; p < kb; p++, a += MR, b += NR)
        {
            var b0 = Avx.LoadVector256(b);
            var b1 = Avx.LoadVector256(b + 8);
            var ar = Vector256.Create(a[0]);
            c00 = Fma.MultiplyAdd(ar, b0, c00); c01 = Fma.MultiplyAdd(ar, b1, c01);
            ar = Vector256.Create(a[1]);
            c10 = Fma.MultiplyAdd(ar, b0, c10); c11 = Fma.MultiplyAdd(ar, b1, c11);
            ar = Vector256.Create(a[2]);
            c20 = Fma.MultiplyAdd(ar, b0, c20); c21 = Fma.MultiplyAdd(ar, b1, c21);
            ar = Vector256.Create(a[3]);
            c30 = Fma.MultiplyAdd(ar, b0, c30); c31 = Fma.MultiplyAdd(ar, b1, c31);
            ar = Vector256.Create(a[4]);
            c40 = Fma.MultiplyAdd(ar, b0, c40); c41 = Fma.MultiplyAdd(ar, b1, c41);
            ar = Vector256.Create(a[5]);
            c50 = Fma.MultiplyAdd(ar, b0, c50); c51 = Fma.MultiplyAdd(ar, b1, c51);
        }
        if (store)
        {
            StoreRow(c, c00, c01); c += ldc;
            StoreRow(c, c10, c11); c += ldc;
            StoreRow(c, c20, c21); c += ldc;
            StoreRow(c, c30, c31); c += ldc;
            StoreRow(c, c40, c41); c += ldc;
            StoreRow(c, c50, c51);
            return;
        }
        AddRow(c, c00, c01); c += ldc;
        AddRow(c, c10, c11); c += ldc;
        AddRow(c, c20, c21); c += ldc;
        AddRow(c, c30, c31); c += ldc;
        AddRow(c, c40, c41); c += ldc;
        AddRow(c, c50, c51);
    }

    /// <summary>
    /// C[6×32] += panel · (strip0 | strip1): twelve Vector512 accumulators (six rows × two 16-wide strips), each k one
    /// broadcast per row and two loads. Lane for lane the same fused multiply-adds, in the same order, as two
    /// <see cref="Kernel6x16"/> calls.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Kernel6x32(int kb, float* a, float* b0p, float* b1p, float* c, int ldc, bool store)
    {
        if (!store)
            PrefetchTile(c, ldc);
        Vector512<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector512<float> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        for (int p = 0; p < kb; p++, a += MR, b0p += NR, b1p += NR)
        {
            var b0 = Vector512.Load(b0p);
            var b1 = Vector512.Load(b1p);
            var ar = Vector512.Create(a[0]);
            c00 = Avx512F.FusedMultiplyAdd(ar, b0, c00); c01 = Avx512F.FusedMultiplyAdd(ar, b1, c01);
            ar = Vector512.Create(a[1]);
            c10 = Avx512F.FusedMultiplyAdd(ar, b0, c10); c11 = Avx512F.FusedMultiplyAdd(ar, b1, c11);
            ar = Vector512.Create(a[2]);
            c20 = Avx512F.FusedMultiplyAdd(ar, b0, c20); c21 = Avx512F.FusedMultiplyAdd(ar, b1, c21);
            ar = Vector512.Create(a[3]);
            c30 = Avx512F.FusedMultiplyAdd(ar, b0, c30); c31 = Avx512F.FusedMultiplyAdd(ar, b1, c31);
            ar = Vector512.Create(a[4]);
            c40 = Avx512F.FusedMultiplyAdd(ar, b0, c40); c41 = Avx512F.FusedMultiplyAdd(ar, b1, c41);
            ar = Vector512.Create(a[5]);
            c50 = Avx512F.FusedMultiplyAdd(ar, b0, c50); c51 = Avx512F.FusedMultiplyAdd(ar, b1, c51);
        }
        if (store)
        {
            StoreRow512(c, c00, c01); c += ldc;
            StoreRow512(c, c10, c11); c += ldc;
            StoreRow512(c, c20, c21); c += ldc;
            StoreRow512(c, c30, c31); c += ldc;
            StoreRow512(c, c40, c41); c += ldc;
            StoreRow512(c, c50, c51);
            return;
        }
        AddRow512(c, c00, c01); c += ldc;
        AddRow512(c, c10, c11); c += ldc;
        AddRow512(c, c20, c21); c += ldc;
        AddRow512(c, c30, c31); c += ldc;
        AddRow512(c, c40, c41); c += ldc;
        AddRow512(c, c50, c51);
    }

    /// <summary>
    /// C[12×16] += (panel0 over panel1) · strip: twelve Vector512 accumulators (one 16-wide row each), each k one load
    /// and twelve broadcasts. Lane for lane the same fused multiply-adds, in the same order, as two <see cref="Kernel6x16"/> calls.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Kernel12x16(int kb, float* a0, float* a1, float* b, float* c, int ldc, bool store)
    {
        Vector512<float> c0 = default, c1 = default, c2 = default, c3 = default, c4 = default, c5 = default;
        Vector512<float> c6 = default, c7 = default, c8 = default, c9 = default, c10 = default, c11 = default;
        for (int p = 0; p < kb; p++, a0 += MR, a1 += MR, b += NR)
        {
            var bv = Vector512.Load(b);
            c0 = Avx512F.FusedMultiplyAdd(Vector512.Create(a0[0]), bv, c0);
            c1 = Avx512F.FusedMultiplyAdd(Vector512.Create(a0[1]), bv, c1);
            c2 = Avx512F.FusedMultiplyAdd(Vector512.Create(a0[2]), bv, c2);
            c3 = Avx512F.FusedMultiplyAdd(Vector512.Create(a0[3]), bv, c3);
            c4 = Avx512F.FusedMultiplyAdd(Vector512.Create(a0[4]), bv, c4);
            c5 = Avx512F.FusedMultiplyAdd(Vector512.Create(a0[5]), bv, c5);
            c6 = Avx512F.FusedMultiplyAdd(Vector512.Create(a1[0]), bv, c6);
            c7 = Avx512F.FusedMultiplyAdd(Vector512.Create(a1[1]), bv, c7);
            c8 = Avx512F.FusedMultiplyAdd(Vector512.Create(a1[2]), bv, c8);
            c9 = Avx512F.FusedMultiplyAdd(Vector512.Create(a1[3]), bv, c9);
            c10 = Avx512F.FusedMultiplyAdd(Vector512.Create(a1[4]), bv, c10);
            c11 = Avx512F.FusedMultiplyAdd(Vector512.Create(a1[5]), bv, c11);
        }
        Row16(c, c0, store); c += ldc; Row16(c, c1, store); c += ldc; Row16(c, c2, store); c += ldc;
        Row16(c, c3, store); c += ldc; Row16(c, c4, store); c += ldc; Row16(c, c5, store); c += ldc;
        Row16(c, c6, store); c += ldc; Row16(c, c7, store); c += ldc; Row16(c, c8, store); c += ldc;
        Row16(c, c9, store); c += ldc; Row16(c, c10, store); c += ldc; Row16(c, c11, store);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Row16(float* c, Vector512<float> v, bool store) => Vector512.Store(store ? v : Vector512.Load(c) + v, c);

    /// <summary>
    /// Asks for the 6×32 C tile's cache lines (each row's 128 bytes, on up to three lines when unaligned) before the K
    /// loop: the tile is added to after it, and a C bigger than L2 (a 1000×512 weight gradient, added to image after
    /// image) would otherwise stall the end of every tile on a dozen L3 misses at once.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void PrefetchTile(float* c, int ldc)
    {
        for (int r = 0; r < MR; r++, c += ldc)
        {
            Sse.Prefetch0(c);
            Sse.Prefetch0(c + 16);
            Sse.Prefetch0(c + 2 * NR - 1);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void StoreRow512(float* c, Vector512<float> lo, Vector512<float> hi)
    {
        Vector512.Store(lo, c);
        Vector512.Store(hi, c + 16);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void StoreRow(float* c, Vector256<float> lo, Vector256<float> hi)
    {
        Avx.Store(c, lo);
        Avx.Store(c + 8, hi);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void AddRow512(float* c, Vector512<float> lo, Vector512<float> hi)
    {
        Vector512.Store(Vector512.Load(c) + lo, c);
        Vector512.Store(Vector512.Load(c + 16) + hi, c + 16);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void AddRow(float* c, Vector256<float> lo, Vector256<float> hi)
    {
        Avx.Store(c, Avx.Add(Avx.LoadVector256(c), lo));
        Avx.Store(c + 8, Avx.Add(Avx.LoadVector256(c + 8), hi));
    }
}
