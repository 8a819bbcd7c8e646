using Tailor.Engine.Kernels;

namespace Tailor.Tests.Engine;

[Trait("Category", "Slow")]
public class GemmKernelTests
{

    static float[] Values(Random rng, int count)
    {
        var v = new float[count];
        for (int i = 0; i < count; i++) v[i] = (float)(rng.NextDouble() * 2 - 1);
        return v;
    }

    /// <summary>Runs one product with leading dimensions wider than the matrices and compares with a double-precision reference.</summary>
    static void CheckOne(GemmVariant variant, bool transA, bool transB, int m, int n, int k, float alpha, float beta, int seed)
    {
        var rng = new Random(seed);
        int aRows = transA ? k : m, aCols = transA ? m : k, bRows = transB ? n : k, bCols = transB ? k : n;
        int lda = aCols + 3, ldb = bCols + 1, ldc = n + 2;
        var a = Values(rng, Math.Max(0, aRows * lda));
        var b = Values(rng, Math.Max(0, bRows * ldb));
        var c = Values(rng, Math.Max(0, m * ldc));
        if (beta == 0 && c.Length > 0) c[0] = float.NaN; // beta = 0 must overwrite, never multiply
        var expected = new double[m * n];
        double scaleSum = 0;
        for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++)
        {
            double sum = 0, abs = 0;
            for (int p = 0; p < k; p++)
            {
                double term = (double)(transA ? a[p * lda + i] : a[i * lda + p]) * (transB ? b[j * ldb + p] : b[p * ldb + j]);
                sum += term;
                abs += Math.Abs(term);
            }
            expected[i * n + j] = alpha * sum + (beta == 0 ? 0 : beta * (double)c[i * ldc + j]);
            scaleSum = Math.Max(scaleSum, abs);
        }
        var padding = c.Select((v, idx) => (v, idx)).Where(t => t.idx % ldc >= n).ToArray();
        Gemm.Multiply(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, variant);
        // Float rounding grows with the sum of |terms|, so the tolerance scales with it.
        double tolerance = 1e-6 * (scaleSum + 1) * Math.Sqrt(k + 1) + 1e-6;
        for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++)
            Assert.True(Math.Abs(expected[i * n + j] - c[i * ldc + j]) <= tolerance,
                $"{variant} tA={transA} tB={transB} m={m} n={n} k={k}: C[{i},{j}] = {c[i * ldc + j]}, expected {expected[i * n + j]}");
        foreach (var (v, idx) in padding)
            Assert.Equal(v, c[idx]); // nothing outside the m×n window is touched
    }

    [Theory, InlineData(GemmVariant.Scalar), InlineData(GemmVariant.Vector256Fma), InlineData(GemmVariant.Vector512Fma), InlineData(GemmVariant.SmallDirect)]
    public void EverySize0To257_InEachDimension_AllTransposes(object variantBoxed)
    {
        // Every variant runs everywhere except the packed SIMD ones, which need AVX + FMA (CI's CPU has them;
        // without AVX-512, Vector512Fma runs the Vector256 tile).
        var variant = (GemmVariant)variantBoxed;
        if (variant is GemmVariant.Vector256Fma or GemmVariant.Vector512Fma && !Gemm.SimdAvailable) return;
        for (int size = 0; size <= 257; size++)
        for (int t = 0; t < 4; t++)
        {
            bool ta = (t & 1) != 0, tb = (t & 2) != 0;
            CheckOne(variant, ta, tb, size, 7, 5, 1f, 0f, size * 4 + t);
            CheckOne(variant, ta, tb, 5, size, 3, 1f, 1f, size * 4 + t + 1);
            CheckOne(variant, ta, tb, 7, 17, size, 0.5f, 0.25f, size * 4 + t + 2);
        }
    }

    [Theory, InlineData(GemmVariant.Scalar), InlineData(GemmVariant.Vector256Fma), InlineData(GemmVariant.Vector512Fma), InlineData(GemmVariant.SmallDirect)]
    public void LargeProblems_SplitAcrossThreads_AcrossKAndNBlocks(object variantBoxed)
    {
        // Every variant runs everywhere except the packed SIMD ones, which need AVX + FMA (CI's CPU has them).
        var variant = (GemmVariant)variantBoxed;
        if (variant is GemmVariant.Vector256Fma or GemmVariant.Vector512Fma && !Gemm.SimdAvailable) return;
        CheckOne(variant, false, false, 131, 300, 270, 1f, 0f, 1);   // split by rows, two K blocks, two N blocks
        CheckOne(variant, true, true, 20, 520, 300, -0.5f, 1f, 2);   // few rows: split by columns
        CheckOne(variant, false, true, 200, 33, 513, 2f, 0.5f, 3);
    }

    [Fact]
    public void SimdAndScalar_AgreeClosely()
    {
        if (!Gemm.SimdAvailable) return;
        var rng = new Random(5);
        var a = Values(rng, 37 * 41);
        var b = Values(rng, 41 * 29);
        var c1 = new float[37 * 29];
        var c2 = new float[37 * 29];
        Gemm.Multiply(false, false, 37, 29, 41, 1, a, 41, b, 29, 0, c1, 29, GemmVariant.Scalar);
        Gemm.Multiply(false, false, 37, 29, 41, 1, a, 41, b, 29, 0, c2, 29, GemmVariant.Vector256Fma);
        for (int i = 0; i < c1.Length; i++)
            Assert.True(MathF.Abs(c1[i] - c2[i]) < 1e-4f);
    }

    [Fact]
    public void WideTile_GivesTheBitsOfTheVector256Tile_ForEveryTransposeAndRaggedEdge()
    {
        // The 6×32 Vector512 tile runs the same fused multiply-adds per lane as two 6×16 Vector256 tiles: choosing it
        // changes no product. (Without AVX-512 both variants run the Vector256 tile.)
        if (!Gemm.SimdAvailable) return;
        var rng = new Random(13);
        // (30, 48, 70) and (25, 16, 300): an odd last strip of 16 whole columns under pairs of whole panels (the 12×16 tile
        // straight into C), and a partial pair of panels under it.
        foreach (var (m, n, k) in new[] { (6, 32, 9), (13, 47, 300), (131, 300, 270), (7, 17, 5), (200, 33, 513), (64, 512, 257), (30, 48, 70), (25, 16, 300) })
            for (int t = 0; t < 4; t++)
            {
                bool ta = (t & 1) != 0, tb = (t & 2) != 0;
                var a = Values(rng, m * k);
                var b = Values(rng, k * n);
                var c256 = Values(rng, m * n);
                var c512 = (float[])c256.Clone();
                int lda = ta ? m : k, ldb = tb ? k : n;
                Gemm.Multiply(ta, tb, m, n, k, 0.75f, a, lda, b, ldb, 0.5f, c256, n, GemmVariant.Vector256Fma);
                Gemm.Multiply(ta, tb, m, n, k, 0.75f, a, lda, b, ldb, 0.5f, c512, n, GemmVariant.Vector512Fma);
                Assert.True(c256.AsSpan().SequenceEqual(c512), $"tA={ta} tB={tb} m={m} n={n} k={k}");
            }
    }

    /// <summary>op(B) written into the packed layout element by element, as a producer of <see cref="Gemm.MultiplyPrepacked"/> would.</summary>
    static float[] Pack(float[] b, int ldb, bool transB, int k, int n)
    {
        var packed = new float[Gemm.PackedLength(k, n)];
        Array.Fill(packed, float.NaN);
        int width = (n + 15) / 16 * 16;
        for (int p = 0; p < k; p++)
            for (int j = 0; j < width; j++)
                packed[Gemm.PackedIndex(k, n, p, j)] = j < n ? (transB ? b[j * ldb + p] : b[p * ldb + j]) : 0;
        Assert.DoesNotContain(packed, float.IsNaN); // the layout covers every slot exactly
        return packed;
    }

    [Fact]
    public void Prepacked_GivesTheBitsOfMultiply_ForRaggedEdges_KBlocks_BothTransposesOfA_AndThreadSplits()
    {
        // Every edge: m, n, k not multiples of the 6×16 (6×32) tile, k across two and three K blocks, n across one and two
        // N blocks, products split by rows and by columns across threads; beta 0 (C full of NaN: overwritten, never read),
        // 1 and 0.5. Each against Multiply with the same variant (the same sums, bit for bit) and the scalar reference.
        if (!Gemm.SimdAvailable) return;
        var rng = new Random(21);
        foreach (var (m, n, k) in new[] { (1, 1, 1), (6, 16, 8), (7, 17, 5), (13, 47, 300), (128, 512, 512), (131, 300, 270), (20, 520, 300), (200, 33, 513), (5, 40, 600) })
            foreach (bool ta in new[] { false, true })
                foreach (bool tb in new[] { false, true })
                    foreach (float beta in new[] { 0f, 1f, 0.5f })
                        foreach (var variant in new[] { GemmVariant.Vector256Fma, GemmVariant.Vector512Fma, GemmVariant.Scalar })
                        {
                            int lda = ta ? m : k, ldb = tb ? k : n;
                            var a = Values(rng, m * k);
                            var b = Values(rng, k * n);
                            var expected = beta == 0 ? new float[m * n] : Values(rng, m * n);
                            var actual = (float[])expected.Clone();
                            if (beta == 0) Array.Fill(actual, float.NaN);
                            Gemm.Multiply(ta, tb, m, n, k, 0.75f, a, lda, b, ldb, beta, expected, n, variant);
                            Gemm.MultiplyPrepacked(ta, m, n, k, 0.75f, a, lda, Pack(b, ldb, tb, k, n), beta, actual, n, variant);
                            AssertAsMultiply(variant, expected, actual, $"{variant} tA={ta} tB={tb} m={m} n={n} k={k} beta={beta}");
                        }
    }

    /// <summary>A prepacked product against <see cref="Gemm.Multiply"/>'s: bit for bit on the packed variants, within
    /// float rounding on the scalar one (which reads the packed layout element by element).</summary>
    static void AssertAsMultiply(GemmVariant variant, float[] expected, float[] actual, string what)
    {
        if (variant == GemmVariant.Scalar)
            for (int i = 0; i < expected.Length; i++)
                Assert.True(MathF.Abs(expected[i] - actual[i]) <= 1e-4f * (1 + MathF.Abs(expected[i])), $"{what}: [{i}] {actual[i]} vs {expected[i]}");
        else
            Assert.True(expected.AsSpan().SequenceEqual(actual), what);
    }

    [Fact]
    public void PrepackedA_GivesTheBitsOfMultiply_ForRaggedEdges_KBlocks_BothTransposes_AndRowSplits()
    {
        // alpha · op(A) packed once by PackAInto (either op(A)), then the product: bit for bit Multiply's with the same
        // variant and alpha, on ragged m, n, k, two and three K blocks, several M blocks, and products big enough to be split by rows.
        if (!Gemm.SimdAvailable) return;
        var rng = new Random(22);
        foreach (var (m, n, k) in new[] { (1, 1, 1), (6, 16, 8), (7, 17, 5), (13, 47, 300), (1000, 169, 512), (131, 300, 270), (200, 33, 513), (5, 40, 600) })
            foreach (bool ta in new[] { false, true })
                foreach (bool tb in new[] { false, true })
                    foreach (float beta in new[] { 0f, 1f })
                        foreach (var variant in new[] { GemmVariant.Vector256Fma, GemmVariant.Vector512Fma, GemmVariant.Scalar })
                        {
                            int lda = ta ? m : k, ldb = tb ? k : n;
                            var a = Values(rng, m * k);
                            var b = Values(rng, k * n);
                            var expected = Values(rng, m * n);
                            var actual = (float[])expected.Clone();
                            if (beta == 0) Array.Fill(actual, float.NaN);
                            var packed = new float[Gemm.PackedALength(m, k)];
                            Gemm.PackAInto(ta, m, k, 0.75f, a, lda, packed);
                            Gemm.Multiply(ta, tb, m, n, k, 0.75f, a, lda, b, ldb, beta, expected, n, variant);
                            Gemm.MultiplyPrepackedA(m, n, k, packed, tb, b, ldb, beta, actual, n, variant);
                            AssertAsMultiply(variant, expected, actual, $"{variant} tA={ta} tB={tb} m={m} n={n} k={k} beta={beta}");
                        }
    }

    [Fact]
    public void BetaZero_OverwritesWhateverCHeld_OnEveryEdgeTile()
    {
        // beta = 0 stores the first K block's tiles instead of adding them to a cleared C: NaN and garbage anywhere in
        // the m×n window are replaced, and nothing outside it is written.
        if (!Gemm.SimdAvailable) return;
        var rng = new Random(23);
        foreach (var variant in new[] { GemmVariant.Vector256Fma, GemmVariant.Vector512Fma })
            foreach (var (m, n, k) in new[] { (7, 17, 5), (13, 47, 300), (131, 300, 270), (20, 520, 300) })
            {
                var a = Values(rng, m * k);
                var b = Values(rng, k * n);
                int ldc = n + 3;
                var reference = new float[m * ldc];
                var c = new float[m * ldc];
                Array.Fill(c, float.NaN);
                for (int i = 0; i < m; i++)
                    for (int j = n; j < ldc; j++)
                        c[i * ldc + j] = -7; // outside the window
                Gemm.Multiply(false, false, m, n, k, 1, a, k, b, n, 1, reference, ldc, variant);
                Gemm.Multiply(false, false, m, n, k, 1, a, k, b, n, 0, c, ldc, variant);
                for (int i = 0; i < m; i++)
                    for (int j = 0; j < ldc; j++)
                        Assert.Equal(j < n ? reference[i * ldc + j] : -7, c[i * ldc + j]);
            }
    }

    [Fact]
    public void DeterministicAcrossRuns_EvenWhenParallel()
    {
        var rng = new Random(9);
        var a = Values(rng, 256 * 300);
        var b = Values(rng, 300 * 200);
        var c1 = new float[256 * 200];
        var c2 = new float[256 * 200];
        Gemm.Multiply(false, false, 256, 200, 300, 1, a, 300, b, 200, 0, c1, 200);
        Gemm.Multiply(false, false, 256, 200, 300, 1, a, 300, b, 200, 0, c2, 200);
        Assert.Equal(c1, c2);
    }
}
