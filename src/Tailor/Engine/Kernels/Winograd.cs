using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Tailor.Engine.Kernels;

/// <summary>
/// Winograd's minimal filtering F(4×4, 3×3) (Lavin and Gray, "Fast Algorithms for Convolutional Neural Networks", 2016)
/// for a 3×3, stride-1, undilated, ungrouped convolution: each 4×4 block of output (a tile) comes from a 6×6 patch of
/// input as Y = Aᵀ[(G w Gᵀ) ⊙ (Bᵀ d B)]A. Summed over the input channels, the element-wise product is 36 independent
/// matrix products, one per position of the 6×6 transform, each [tiles × C] · [C × M]: 36 multiply-adds per tile and
/// channel pair instead of 9 × 16 = 144, a quarter of the direct convolution's arithmetic (a 7×7 plane takes 2×2 tiles,
/// so 64 outputs are computed for its 49: about a third).
/// </summary>
/// <remarks>
/// The transforms run on Vector256 across eight channels at a time, so every transformed matrix is channel-last
/// ([position][tile][channel], the channel count rounded up to <see cref="Lanes"/>): V = Bᵀ d B (input), U = G w Gᵀ (weights),
/// M (the products, [position][tile][output channel]). The gradients are the exact adjoints of the same linear map:
/// dM = A dY Aᵀ, dU = Σ over tiles of dM ⊗ V (again 36 products), dw = Gᵀ dU G, dV = dM · U and dX = B dV Bᵀ summed over
/// the overlapping patches. In exact arithmetic all of it equals the direct convolution and its gradients; in single
/// precision the transforms' constants (up to 8 and 1/24) add a little rounding error (WinogradConvTests holds the two
/// paths within 2e-5 of each tensor's largest magnitude).
/// </remarks>
internal static unsafe class Winograd
{
    /// <summary>Output tile side, input patch side, and the number of transform positions (6 × 6).</summary>
    public const int Tile = 4, Patch = 6, Positions = Patch * Patch;

    /// <summary>Channels per vector in the transforms; channel strides are rounded up to a multiple of it.</summary>
    public const int Lanes = 8;

    /// <summary>Vectors of scratch space every tile transform takes.</summary>
    public const int ScratchVectors = Positions + Patch;

    public static int RoundUp(int channels) => (channels + Lanes - 1) / Lanes * Lanes;

    // ---- One-dimensional transforms: 6 (or 3, 4) vectors at stride s in, at stride t out. ----------------------------

    /// <summary>v = Bᵀ d.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void InputRow(Vector256<float>* d, int s, Vector256<float>* v, int t)
    {
        Vector256<float> d0 = d[0], d1 = d[s], d2 = d[2 * s], d3 = d[3 * s], d4 = d[4 * s], d5 = d[5 * s];
        var four = Vector256.Create(4f);
        var two = Vector256.Create(2f);
        v[0] = four * d0 - Vector256.Create(5f) * d2 + d4;
        v[t] = (d3 + d4) - four * (d1 + d2);
        v[2 * t] = (d4 - d3) + four * (d1 - d2);
        v[3 * t] = (d4 - d2) + two * (d3 - d1);
        v[4 * t] = (d4 - d2) - two * (d3 - d1);
        v[5 * t] = four * d1 - Vector256.Create(5f) * d3 + d5;
    }

    /// <summary>d = B v (the adjoint of <see cref="InputRow"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void InputRowAdjoint(Vector256<float>* v, int s, Vector256<float>* d, int t)
    {
        Vector256<float> v0 = v[0], v1 = v[s], v2 = v[2 * s], v3 = v[3 * s], v4 = v[4 * s], v5 = v[5 * s];
        var four = Vector256.Create(4f);
        var two = Vector256.Create(2f);
        var five = Vector256.Create(5f);
        d[0] = four * v0;
        d[t] = four * (v2 - v1 + v5) + two * (v4 - v3);
        d[2 * t] = -(five * v0 + four * (v1 + v2) + v3 + v4);
        d[3 * t] = (v1 - v2) + two * (v3 - v4) - five * v5;
        d[4 * t] = v0 + v1 + v2 + v3 + v4;
        d[5 * t] = v5;
    }

    /// <summary>u = G g for three taps.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void WeightRow(Vector256<float>* g, int s, Vector256<float>* u, int t)
    {
        Vector256<float> g0 = g[0], g1 = g[s], g2 = g[2 * s];
        var outer = g0 + g2;
        var sixth = Vector256.Create(1f / 6);
        var side = g0 * Vector256.Create(1f / 24) + g2 * sixth;
        var mid = g1 * Vector256.Create(1f / 12);
        u[0] = g0 * Vector256.Create(0.25f);
        u[t] = -(outer + g1) * sixth;
        u[2 * t] = -(outer - g1) * sixth;
        u[3 * t] = side + mid;
        u[4 * t] = side - mid;
        u[5 * t] = g2;
    }

    /// <summary><see cref="WeightRow(Vector256{float}*, int, Vector256{float}*, int)"/> on sixteen lanes: the same operations in the same order, lane for lane.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void WeightRow(Vector512<float>* g, int s, Vector512<float>* u, int t)
    {
        Vector512<float> g0 = g[0], g1 = g[s], g2 = g[2 * s];
        var outer = g0 + g2;
        var sixth = Vector512.Create(1f / 6);
        var side = g0 * Vector512.Create(1f / 24) + g2 * sixth;
        var mid = g1 * Vector512.Create(1f / 12);
        u[0] = g0 * Vector512.Create(0.25f);
        u[t] = -(outer + g1) * sixth;
        u[2 * t] = -(outer - g1) * sixth;
        u[3 * t] = side + mid;
        u[4 * t] = side - mid;
        u[5 * t] = g2;
    }

    /// <summary>g = Gᵀ u (the adjoint of <see cref="WeightRow(Vector256{float}*, int, Vector256{float}*, int)"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void WeightRowAdjoint(Vector256<float>* u, int s, Vector256<float>* g, int t)
    {
        Vector256<float> u0 = u[0], u1 = u[s], u2 = u[2 * s], u3 = u[3 * s], u4 = u[4 * s], u5 = u[5 * s];
        var sixth = Vector256.Create(1f / 6);
        var a = u1 + u2;
        var b = u3 + u4;
        g[0] = u0 * Vector256.Create(0.25f) - a * sixth + b * Vector256.Create(1f / 24);
        g[t] = (u2 - u1) * sixth + (u3 - u4) * Vector256.Create(1f / 12);
        g[2 * t] = (b - a) * sixth + u5;
    }

    /// <summary>y = Aᵀ m: four outputs from six.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void OutputRow(Vector256<float>* m, int s, Vector256<float>* y, int t)
    {
        Vector256<float> m0 = m[0], m1 = m[s], m2 = m[2 * s], m3 = m[3 * s], m4 = m[4 * s], m5 = m[5 * s];
        var a = m1 + m2;
        var b = m1 - m2;
        var c = m3 + m4;
        var d = m3 - m4;
        y[0] = m0 + a + c;
        y[t] = b + Vector256.Create(2f) * d;
        y[2 * t] = a + Vector256.Create(4f) * c;
        y[3 * t] = b + Vector256.Create(8f) * d + m5;
    }

    /// <summary>m = A y (the adjoint of <see cref="OutputRow"/>): six from four.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void OutputRowAdjoint(Vector256<float>* y, int s, Vector256<float>* m, int t)
    {
        Vector256<float> y0 = y[0], y1 = y[s], y2 = y[2 * s], y3 = y[3 * s];
        var even = y0 + y2;
        var odd = y1 + y3;
        var even4 = y0 + Vector256.Create(4f) * y2;
        var odd4 = Vector256.Create(2f) * (y1 + Vector256.Create(4f) * y3);
        m[0] = y0;
        m[t] = even + odd;
        m[2 * t] = even - odd;
        m[3 * t] = even4 + odd4;
        m[4 * t] = even4 - odd4;
        m[5 * t] = y3;
    }

    // ---- Two-dimensional transforms of one tile, eight channels ------------------------------------------------------

    /// <summary>V = Bᵀ d B: <paramref name="d"/> holds 36 vectors row-major; the 36 results go to
    /// <paramref name="v"/> + position · <paramref name="positionStride"/> floats. <paramref name="scratch"/>: <see cref="ScratchVectors"/> vectors.</summary>
    public static void InputTile(Vector256<float>* d, float* v, long positionStride, Vector256<float>* scratch)
    {
        for (int col = 0; col < Patch; col++)
            InputRow(d + col, Patch, scratch + col, Patch);
        var row = scratch + Positions;
        for (int i = 0; i < Patch; i++)
        {
            InputRow(scratch + i * Patch, 1, row, 1);
            for (int j = 0; j < Patch; j++)
                Vector256.Store(row[j], v + (i * Patch + j) * positionStride);
        }
    }

    /// <summary>d = B dV Bᵀ: the 36 vectors at <paramref name="dv"/> + position · <paramref name="positionStride"/> → 36 vectors row-major in <paramref name="d"/>.</summary>
    public static void InputTileAdjoint(float* dv, long positionStride, Vector256<float>* d, Vector256<float>* scratch)
    {
        var row = scratch + Positions;
        for (int i = 0; i < Patch; i++)
        {
            for (int j = 0; j < Patch; j++)
                row[j] = Vector256.Load(dv + (i * Patch + j) * positionStride);
            InputRowAdjoint(row, 1, scratch + i * Patch, 1);
        }
        for (int col = 0; col < Patch; col++)
            InputRowAdjoint(scratch + col, Patch, d + col, Patch);
    }

    /// <summary>U = G g Gᵀ: <paramref name="g"/> holds the 9 taps row-major; results to <paramref name="u"/> + position · stride.</summary>
    public static void WeightTile(Vector256<float>* g, float* u, long positionStride, Vector256<float>* scratch)
    {
        for (int col = 0; col < 3; col++)
            WeightRow(g + col, 3, scratch + col, 3); // scratch: 6 × 3
        var row = scratch + Positions;
        for (int i = 0; i < Patch; i++)
        {
            WeightRow(scratch + i * 3, 1, row, 1);
            for (int j = 0; j < Patch; j++)
                Vector256.Store(row[j], u + (i * Patch + j) * positionStride);
        }
    }

    /// <summary><see cref="WeightTile(Vector256{float}*, float*, long, Vector256{float}*)"/> on sixteen lanes (where Vector512 is accelerated): the same bits lane for lane.</summary>
    public static void WeightTile(Vector512<float>* g, float* u, long positionStride, Vector512<float>* scratch)
    {
        for (int col = 0; col < 3; col++)
            WeightRow(g + col, 3, scratch + col, 3); // scratch: 6 × 3
        var row = scratch + Positions;
        for (int i = 0; i < Patch; i++)
        {
            WeightRow(scratch + i * 3, 1, row, 1);
            for (int j = 0; j < Patch; j++)
                Vector512.Store(row[j], u + (i * Patch + j) * positionStride);
        }
    }

    /// <summary>dg = Gᵀ dU G: the 36 vectors at <paramref name="du"/> + position · stride → 9 taps row-major in <paramref name="g"/>.</summary>
    public static void WeightTileAdjoint(float* du, long positionStride, Vector256<float>* g, Vector256<float>* scratch)
    {
        var row = scratch + Positions;
        for (int i = 0; i < Patch; i++)
        {
            for (int j = 0; j < Patch; j++)
                row[j] = Vector256.Load(du + (i * Patch + j) * positionStride);
            WeightRowAdjoint(row, 1, scratch + i * 3, 1); // scratch: 6 × 3
        }
        for (int col = 0; col < 3; col++)
            WeightRowAdjoint(scratch + col, 3, g + col, 3);
    }

    /// <summary>Y = Aᵀ M A: the 36 vectors at <paramref name="m"/> + position · stride → 16 vectors row-major in <paramref name="y"/>.</summary>
    public static void OutputTile(float* m, long positionStride, Vector256<float>* y, Vector256<float>* scratch)
    {
        var row = scratch + Positions;
        for (int i = 0; i < Patch; i++)
        {
            for (int j = 0; j < Patch; j++)
                row[j] = Vector256.Load(m + (i * Patch + j) * positionStride);
            OutputRow(row, 1, scratch + i * Tile, 1); // scratch: 6 × 4
        }
        for (int col = 0; col < Tile; col++)
            OutputRow(scratch + col, Tile, y + col, Tile);
    }

    /// <summary>dM = A dY Aᵀ: 16 vectors row-major in <paramref name="dy"/> → 36 vectors at <paramref name="dm"/> + position · stride.</summary>
    public static void OutputTileAdjoint(Vector256<float>* dy, float* dm, long positionStride, Vector256<float>* scratch)
    {
        for (int col = 0; col < Tile; col++)
            OutputRowAdjoint(dy + col, Tile, scratch + col, Tile); // scratch: 6 × 4
        var row = scratch + Positions;
        for (int i = 0; i < Patch; i++)
        {
            OutputRowAdjoint(scratch + i * Tile, 1, row, 1);
            for (int j = 0; j < Patch; j++)
                Vector256.Store(row[j], dm + (i * Patch + j) * positionStride);
        }
    }
}
