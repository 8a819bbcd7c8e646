using System.Buffers;
using System.Numerics.Tensors;
using Tailor.Spec;

namespace Tailor.Images;

/// <summary>Separable resampling of <see cref="RgbImage"/>s, as PIL does it (and ImageSharp did for Tailor before Skia): when shrinking, the
/// filter widens by the shrink factor so every source pixel contributes (no aliasing from skipped pixels).</summary>
/// <remarks>Bilinear is the triangle filter (radius 1), bicubic the Keys cubic with a = −0.5 (radius 2),
/// nearest neighbour picks the source pixel under each output pixel's centre. Pixel centres sit at half
/// integers; weights falling outside the image are dropped and the rest renormalized. Results are rounded
/// to bytes.</remarks>
internal static class ImageResizer
{
    /// <summary>A new image of <paramref name="width"/> × <paramref name="height"/> (a copy when the size is the same).</summary>
    public static RgbImage Resize(RgbImage source, int width, int height, Resampler resampler)
    {
        if (width == source.Width && height == source.Height)
            return source.Clone();
        var columns = Weights.For(source.Width, width, resampler);
        var rows = Weights.For(source.Height, height, resampler);
        var result = new RgbImage(width, height);
        float[] temp = ArrayPool<float>.Shared.Rent(3 * width * source.Height);
        try
        {
            // Horizontal pass into floats, then vertical pass into bytes: one rounding only.
            for (int y = 0; y < source.Height; y++)
                ResampleRow(source.Row(y), temp.AsSpan(3 * width * y, 3 * width), columns);
            ResampleColumns(temp, source.Height, width, result, rows);
        }
        finally
        {
            ArrayPool<float>.Shared.Return(temp);
        }
        return result;
    }

    private static void ResampleRow(ReadOnlySpan<byte> row, Span<float> output, Weights weights)
    {
        for (int x = 0; x < weights.Count; x++)
        {
            int start = weights.Start[x], taps = weights.Taps[x];
            var w = weights.Values.AsSpan(x * weights.MaxTaps, taps);
            var from = row.Slice(3 * start, 3 * taps);
            float r = 0, g = 0, b = 0;
            for (int t = 0; t < w.Length; t++)
            {
                float k = w[t];
                r += k * from[3 * t];
                g += k * from[3 * t + 1];
                b += k * from[3 * t + 2];
            }
            output[3 * x] = r;
            output[3 * x + 1] = g;
            output[3 * x + 2] = b;
        }
    }

    private static void ResampleColumns(float[] temp, int sourceHeight, int width, RgbImage result, Weights weights)
    {
        int stride = 3 * width;
        float[] sum = ArrayPool<float>.Shared.Rent(stride);
        try
        {
            var acc = sum.AsSpan(0, stride);
            for (int y = 0; y < weights.Count; y++)
            {
                int start = weights.Start[y], taps = weights.Taps[y];
                var w = weights.Values.AsSpan(y * weights.MaxTaps, taps);
                // Whole rows at a time (vectorized), walking the temporary image in memory order.
                TensorPrimitives.Multiply(temp.AsSpan(start * stride, stride), w[0], acc);
                for (int t = 1; t < w.Length; t++)
                    TensorPrimitives.MultiplyAdd(temp.AsSpan((start + t) * stride, stride), w[t], acc, acc);
                var output = result.Row(y);
                for (int i = 0; i < stride; i++)
                    output[i] = ToByte(acc[i]);
            }
        }
        finally
        {
            ArrayPool<float>.Shared.Return(sum);
        }
    }

    internal static byte ToByte(float value) => value <= 0 ? (byte)0 : value >= 255 ? (byte)255 : (byte)(value + 0.5f);

    /// <summary>For each output position: the first source index, the number of taps and their weights.</summary>
    private sealed class Weights
    {
        public required int Count { get; init; }
        public required int MaxTaps { get; init; }
        public required int[] Start { get; init; }
        public required int[] Taps { get; init; }
        public required float[] Values { get; init; }

        public static Weights For(int sourceLength, int outputLength, Resampler resampler)
        {
            double scale = (double)sourceLength / outputLength;
            if (resampler == Resampler.NearestNeighbor)
            {
                var start = new int[outputLength];
                for (int i = 0; i < outputLength; i++)
                    start[i] = Math.Clamp((int)Math.Floor((i + 0.5) * scale), 0, sourceLength - 1);
                return new Weights { Count = outputLength, MaxTaps = 1, Start = start, Taps = Ones(outputLength), Values = Ones(outputLength).Select(_ => 1f).ToArray() };
            }

            double radius = resampler switch
            {
                Resampler.Bilinear => 1,
                Resampler.Bicubic => 2,
                _ => throw new TailorException($"Unknown resampler {resampler}; allowed: Bilinear, Bicubic, NearestNeighbor."),
            };
            double filterScale = Math.Max(scale, 1), support = radius * filterScale;
            int maxTaps = (int)Math.Ceiling(support) * 2 + 1;
            var starts = new int[outputLength];
            var taps = new int[outputLength];
            var values = new float[outputLength * maxTaps];
            var kernel = new double[maxTaps];
            for (int i = 0; i < outputLength; i++)
            {
                double center = (i + 0.5) * scale;
                int first = Math.Max(0, (int)Math.Floor(center - support));
                int last = Math.Min(sourceLength, (int)Math.Ceiling(center + support));   // exclusive
                double total = 0;
                int n = last - first;
                for (int t = 0; t < n; t++)
                {
                    double k = Kernel(resampler, (first + t + 0.5 - center) / filterScale);
                    kernel[t] = k;
                    total += k;
                }
                // total > 0 always: the source pixel under the centre lies within the support.
                for (int t = 0; t < n; t++)
                    values[i * maxTaps + t] = (float)(kernel[t] / total);
                starts[i] = first;
                taps[i] = n;
            }
            return new Weights { Count = outputLength, MaxTaps = maxTaps, Start = starts, Taps = taps, Values = values };
        }

        private static int[] Ones(int n)
        {
            var a = new int[n];
            Array.Fill(a, 1);
            return a;
        }

        private static double Kernel(Resampler resampler, double x)
        {
            x = Math.Abs(x);
            if (resampler == Resampler.Bilinear)
                return x < 1 ? 1 - x : 0;
            // Keys cubic convolution, a = −0.5 (Catmull–Rom).
            const double a = -0.5;
            if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
            if (x < 2) return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a;
            return 0;
        }
    }
}
