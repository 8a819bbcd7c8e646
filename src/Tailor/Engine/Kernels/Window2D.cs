namespace Tailor.Engine.Kernels;

/// <summary>
/// The sliding-window geometry shared by Conv and the pools, for NCHW with two spatial dimensions:
/// kernel, stride, dilation, and the four pads resolved from ONNX's attributes for a given input size.
/// </summary>
/// <remarks>
/// ONNX lists pads as [x1_begin, x2_begin, x1_end, x2_end] = [top, left, bottom, right]; they may be
/// asymmetric (ResNet18's file has [1,1,0,0] on a stride-2 pool). auto_pad SAME_UPPER/SAME_LOWER choose
/// pads so that output = ceil(input / stride), with the odd extra pixel at the end (UPPER) or the
/// beginning (LOWER); VALID means no padding; NOTSET uses the explicit pads.
/// </remarks>
internal readonly record struct Window2D(
    int KernelH, int KernelW, int StrideH, int StrideW, int DilationH, int DilationW,
    int PadTop, int PadLeft, int PadBottom, int PadRight, int InH, int InW, int OutH, int OutW)
{
    /// <summary>Parsed, validated attributes; <see cref="Resolve"/> turns them into a geometry for an input size.</summary>
    internal sealed record Attributes(string AutoPad, int[] Kernel, int[] Strides, int[] Dilations, int[] Pads, bool CeilMode);

    public static Attributes ReadAttributes(OpContext context, int[]? kernelFromWeights)
    {
        int[] kernel = context.IntsAsInt32("kernel_shape") ?? kernelFromWeights
            ?? throw context.Fail("kernel_shape is required.");
        if (kernel.Length != 2)
            throw context.Fail($"only 2-D windows (NCHW) are supported; kernel_shape has {kernel.Length} dimensions.");
        int[] strides = context.IntsAsInt32("strides") ?? [1, 1];
        int[] dilations = context.IntsAsInt32("dilations") ?? [1, 1];
        int[] pads = context.IntsAsInt32("pads") ?? [0, 0, 0, 0];
        string autoPad = context.String("auto_pad", "NOTSET");
        if (strides.Length != 2 || strides.Any(s => s < 1))
            throw context.Fail($"strides must be two positive values, got [{string.Join(",", strides)}].");
        if (dilations.Length != 2 || dilations.Any(s => s < 1))
            throw context.Fail($"dilations must be two positive values, got [{string.Join(",", dilations)}].");
        if (pads.Length != 4 || pads.Any(p => p < 0))
            throw context.Fail($"pads must be four non-negative values [top,left,bottom,right], got [{string.Join(",", pads)}].");
        if (kernel.Any(k => k < 1))
            throw context.Fail($"kernel_shape must be positive, got [{string.Join(",", kernel)}].");
        if (autoPad is not ("NOTSET" or "SAME_UPPER" or "SAME_LOWER" or "VALID"))
            throw context.Fail($"auto_pad '{autoPad}' is not one of NOTSET, SAME_UPPER, SAME_LOWER, VALID.");
        return new Attributes(autoPad, kernel, strides, dilations, pads, context.Int("ceil_mode", 0) != 0);
    }

    /// <summary>The geometry for an <paramref name="inH"/>×<paramref name="inW"/> input; <paramref name="error"/> says why it does not fit, if it does not.</summary>
    public static Window2D Resolve(Attributes a, int inH, int inW, out string? error)
    {
        int kh = a.Kernel[0], kw = a.Kernel[1], sh = a.Strides[0], sw = a.Strides[1], dh = a.Dilations[0], dw = a.Dilations[1];
        int ekh = (kh - 1) * dh + 1, ekw = (kw - 1) * dw + 1; // effective (dilated) kernel extent
        int top, left, bottom, right, outH, outW;
        switch (a.AutoPad)
        {
            case "VALID":
                top = left = bottom = right = 0;
                outH = (inH - ekh) / sh + 1;
                outW = (inW - ekw) / sw + 1;
                break;
            case "SAME_UPPER" or "SAME_LOWER":
                outH = (inH + sh - 1) / sh;
                outW = (inW + sw - 1) / sw;
                int totalH = Math.Max(0, (outH - 1) * sh + ekh - inH), totalW = Math.Max(0, (outW - 1) * sw + ekw - inW);
                bool upper = a.AutoPad == "SAME_UPPER";
                top = upper ? totalH / 2 : totalH - totalH / 2;
                left = upper ? totalW / 2 : totalW - totalW / 2;
                bottom = totalH - top;
                right = totalW - left;
                break;
            default:
                (top, left, bottom, right) = (a.Pads[0], a.Pads[1], a.Pads[2], a.Pads[3]);
                int spanH = inH + top + bottom - ekh, spanW = inW + left + right - ekw;
                outH = (a.CeilMode ? (spanH + sh - 1) / sh : spanH / sh) + 1;
                outW = (a.CeilMode ? (spanW + sw - 1) / sw : spanW / sw) + 1;
                // ceil_mode: a last window that would start entirely in the end padding is dropped.
                if (a.CeilMode && (outH - 1) * sh >= inH + top) outH--;
                if (a.CeilMode && (outW - 1) * sw >= inW + left) outW--;
                break;
        }
        if (outH < 1 || outW < 1 || inH + top + bottom < ekh || inW + left + right < ekw)
            error = $"the {kh}×{kw} window (dilation {dh}×{dw}) does not fit the {inH}×{inW} input with pads [{top},{left},{bottom},{right}].";
        else
            error = null;
        return new Window2D(kh, kw, sh, sw, dh, dw, top, left, bottom, right, inH, inW, outH, outW);
    }

    public bool IsPointwise => KernelH == 1 && KernelW == 1 && StrideH == 1 && StrideW == 1 &&
        PadTop == 0 && PadLeft == 0 && PadBottom == 0 && PadRight == 0;

    /// <summary>
    /// Unfolds one image's <paramref name="channels"/> planes into columns: row (c·kh + i)·kw + j, column
    /// oy·OutW + ox holds x[c, oy·sh − top + i·dh, ox·sw − left + j·dw], or 0 in the padding. Rows are
    /// <paramref name="rowStride"/> floats apart (default OutH·OutW): a wider stride lays several images side by side.
    /// </summary>
    public void Im2Col(ReadOnlySpan<float> image, int channels, Span<float> columns, int rowStride = 0)
    {
        int outArea = OutH * OutW, inArea = InH * InW;
        if (rowStride == 0) rowStride = outArea;
        if (StrideH == 1 && StrideW == 1 && InW == OutW)
        {
            Im2ColSamePlane(image, channels, columns, rowStride);
            return;
        }
        for (int c = 0; c < channels; c++)
        {
            var plane = image.Slice(c * inArea, inArea);
            for (int i = 0; i < KernelH; i++)
            for (int j = 0; j < KernelW; j++)
            {
                var row = columns.Slice(((c * KernelH + i) * KernelW + j) * rowStride, outArea);
                for (int oy = 0; oy < OutH; oy++)
                {
                    int y = oy * StrideH - PadTop + i * DilationH;
                    var dst = row.Slice(oy * OutW, OutW);
                    if ((uint)y >= (uint)InH)
                    {
                        dst.Clear();
                        continue;
                    }
                    int x0 = j * DilationW - PadLeft;
                    if (StrideW == 1)
                    {
                        // One contiguous run of the input row (ox from lo to hi), zeros in the padding either side.
                        int lo = Math.Clamp(-x0, 0, OutW), hi = Math.Clamp(InW - x0, lo, OutW);
                        dst[..lo].Clear();
                        if (hi > lo) plane.Slice(y * InW + x0 + lo, hi - lo).CopyTo(dst[lo..]);
                        dst[hi..].Clear();
                        continue;
                    }
                    for (int ox = 0; ox < OutW; ox++)
                    {
                        int x = ox * StrideW + x0;
                        dst[ox] = (uint)x < (uint)InW ? plane[y * InW + x] : 0f;
                    }
                }
            }
        }
    }

    /// <summary>
    /// <see cref="Im2Col"/> when the output rows are as wide as the input rows and both strides are 1 (a "same"
    /// convolution such as 3×3 with padding 1): the output rows that read input rows read consecutive ones, so each
    /// kernel offset is one copy of the whole block, and the few entries that fall in the left or right padding
    /// (which the block copy filled from the neighbouring row) are zeroed after. On 7×7 planes that is one copy of
    /// up to 49 floats instead of seven of 7.
    /// </summary>
    void Im2ColSamePlane(ReadOnlySpan<float> image, int channels, Span<float> columns, int rowStride)
    {
        int outArea = OutH * OutW, inArea = InH * InW;
        for (int c = 0; c < channels; c++)
        {
            var plane = image.Slice(c * inArea, inArea);
            for (int i = 0; i < KernelH; i++)
            {
                // Output rows oyLo..oyHi read input rows y = oy − top + i·dh inside the image; the others are padding.
                int shift = i * DilationH - PadTop;
                int oyLo = Math.Clamp(-shift, 0, OutH), oyHi = Math.Clamp(InH - shift, oyLo, OutH);
                for (int j = 0; j < KernelW; j++)
                {
                    var row = columns.Slice(((c * KernelH + i) * KernelW + j) * rowStride, outArea);
                    row[..(oyLo * OutW)].Clear();
                    row[(oyHi * OutW)..].Clear();
                    if (oyHi == oyLo)
                        continue;
                    int x0 = j * DilationW - PadLeft;
                    int src = (oyLo + shift) * InW + x0, dst = oyLo * OutW, length = (oyHi - oyLo) * OutW;
                    int s0 = Math.Max(src, 0), s1 = Math.Min(src + length, inArea);
                    if (s1 > s0)
                        plane[s0..s1].CopyTo(row[(dst + s0 - src)..]);
                    // Columns ox < lo and ox ≥ hi read the padding (or, in the block copy, the next or previous row).
                    int lo = Math.Clamp(-x0, 0, OutW), hi = Math.Clamp(InW - x0, lo, OutW);
                    if (lo == 0 && hi == OutW)
                        continue;
                    for (int oy = oyLo; oy < oyHi; oy++)
                    {
                        var line = row.Slice(oy * OutW, OutW);
                        line[..lo].Clear();
                        line[hi..].Clear();
                    }
                }
            }
        }
    }

    /// <summary>The adjoint of <see cref="Im2Col"/> (same <paramref name="rowStride"/>): adds each column entry back onto the pixel it came from.</summary>
    public void Col2ImAdd(ReadOnlySpan<float> columns, int channels, Span<float> image, int rowStride = 0)
    {
        int outArea = OutH * OutW, inArea = InH * InW;
        if (rowStride == 0) rowStride = outArea;
        for (int c = 0; c < channels; c++)
        {
            var plane = image.Slice(c * inArea, inArea);
            for (int i = 0; i < KernelH; i++)
            for (int j = 0; j < KernelW; j++)
            {
                var row = columns.Slice(((c * KernelH + i) * KernelW + j) * rowStride, outArea);
                for (int oy = 0; oy < OutH; oy++)
                {
                    int y = oy * StrideH - PadTop + i * DilationH;
                    if ((uint)y >= (uint)InH)
                        continue;
                    var src = row.Slice(oy * OutW, OutW);
                    int x0 = j * DilationW - PadLeft;
                    if (StrideW == 1)
                    {
                        int lo = Math.Clamp(-x0, 0, OutW), hi = Math.Clamp(InW - x0, lo, OutW);
                        if (hi == lo) continue;
                        var dst = plane.Slice(y * InW + x0 + lo, hi - lo);
                        System.Numerics.Tensors.TensorPrimitives.Add(dst, src[lo..hi], dst);
                        continue;
                    }
                    for (int ox = 0; ox < OutW; ox++)
                    {
                        int x = ox * StrideW + x0;
                        if ((uint)x < (uint)InW)
                            plane[y * InW + x] += src[ox];
                    }
                }
            }
        }
    }
}
