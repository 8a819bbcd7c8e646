using System.Runtime.CompilerServices;

namespace Tailor.Engine.Kernels;

/// <summary>Eight ints held inline, so shape bookkeeping in hot paths needs no heap array.</summary>
[InlineArray(8)]
internal struct Int8Array
{
    int element;
}

/// <summary>
/// How two tensors broadcast against each other (ONNX multidirectional = numpy rules), reduced to runs:
/// dimensions where the output has size 1 are dropped, neighbours with the same "A broadcast / B broadcast"
/// pattern are merged, and the last merged dimension becomes a contiguous run over which A and B each
/// either advance (inner stride 1) or repeat one value (inner stride 0). Per-channel [1,C,1,1] on
/// [N,C,H,W] thus becomes N·C runs of H·W with B constant; a bias row becomes runs with both advancing.
/// Built on the stack in each call: cheap, and always matches the current batch size.
/// </summary>
internal struct Broadcast
{
    Int8Array outerSize, aStride, bStride;
    int outerRank;

    /// <summary>Runs to visit, each <see cref="Inner"/> long.</summary>
    public int OuterCount;
    public int Inner;
    /// <summary>1 when A advances along a run, 0 when one A value is repeated.</summary>
    public int AInner, BInner;

    /// <summary>The broadcast output shape, or null if the shapes are incompatible.</summary>
    public static int[]? OutputShape(int[] a, int[] b)
    {
        int rank = Math.Max(a.Length, b.Length);
        var result = new int[rank];
        for (int d = 0; d < rank; d++)
        {
            int ad = d - (rank - a.Length) >= 0 ? a[d - (rank - a.Length)] : 1;
            int bd = d - (rank - b.Length) >= 0 ? b[d - (rank - b.Length)] : 1;
            if (ad != bd && ad != 1 && bd != 1)
                return null;
            result[d] = ad == 1 ? bd : ad;
        }
        return result;
    }

    public static Broadcast Create(int[] a, int[] b, int[] output)
    {
        int rank = output.Length;
        Int8Array size = default;
        Span<bool> aFull = stackalloc bool[8], bFull = stackalloc bool[8];
        int merged = 0;
        for (int d = 0; d < rank; d++)
        {
            int od = output[d];
            if (od == 1)
                continue;
            int ad = d - (rank - a.Length) >= 0 ? a[d - (rank - a.Length)] : 1;
            int bd = d - (rank - b.Length) >= 0 ? b[d - (rank - b.Length)] : 1;
            bool af = ad == od, bf = bd == od;
            if (merged > 0 && aFull[merged - 1] == af && bFull[merged - 1] == bf)
                size[merged - 1] *= od;
            else
            {
                if (merged == 8)
                    throw new NotSupportedException("Broadcasting needs more than 8 merged dimensions.");
                size[merged] = od;
                aFull[merged] = af;
                bFull[merged] = bf;
                merged++;
            }
        }
        var result = new Broadcast();
        if (merged == 0)
        {
            result.OuterCount = 1;
            result.Inner = 1;
            result.AInner = result.BInner = 1;
            return result;
        }
        int aRun = 1, bRun = 1;
        Int8Array aStr = default, bStr = default;
        for (int d = merged - 1; d >= 0; d--)
        {
            aStr[d] = aFull[d] ? aRun : 0;
            bStr[d] = bFull[d] ? bRun : 0;
            if (aFull[d]) aRun *= size[d];
            if (bFull[d]) bRun *= size[d];
        }
        result.Inner = size[merged - 1];
        result.AInner = aFull[merged - 1] ? 1 : 0;
        result.BInner = bFull[merged - 1] ? 1 : 0;
        result.outerRank = merged - 1;
        result.OuterCount = 1;
        for (int d = 0; d < merged - 1; d++)
        {
            result.outerSize[d] = size[d];
            result.aStride[d] = aStr[d];
            result.bStride[d] = bStr[d];
            result.OuterCount *= size[d];
        }
        return result;
    }

    /// <summary>Offsets of run <paramref name="run"/> in the output, A and B.</summary>
    public readonly void Offsets(int run, out int outOffset, out int aOffset, out int bOffset)
    {
        outOffset = run * Inner;
        aOffset = 0;
        bOffset = 0;
        for (int d = outerRank - 1; d >= 0; d--)
        {
            int size = outerSize[d];
            int index = run % size;
            run /= size;
            aOffset += index * aStride[d];
            bOffset += index * bStride[d];
        }
    }
}
