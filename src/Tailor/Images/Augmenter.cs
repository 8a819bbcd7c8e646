namespace Tailor.Images;

/// <summary>Applies <see cref="AugmentationOptions"/> to decoded images, reproducibly: the same seed,
/// example index and variant index always give the same pixels, whatever the thread or the order in which
/// variants are made.</summary>
/// <remarks>The result is a new image at (about) the source's size; the model's resize comes after, in
/// <see cref="ImageLoader.LoadInto(RgbImage, Tailor.Spec.ImagePreprocessing, Span{float})"/>. Give it images at
/// the working size (<see cref="ImageLoader.Load(string, Tailor.Spec.ImagePreprocessing)"/>), not at camera
/// resolution: every transform costs in proportion to the pixels. All transforms are managed code with a fixed
/// order of floating-point operations, so the pixels are the same on every machine.</remarks>
public sealed class Augmenter
{
    /// <summary>The transforms applied.</summary>
    public AugmentationOptions Options { get; }

    /// <summary>The seed every variant's random stream is derived from.</summary>
    public int Seed { get; }

    /// <summary>Creates an augmenter.</summary>
    /// <exception cref="TailorException">An option is outside its range.</exception>
    public Augmenter(AugmentationOptions options, int seed)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        Options = options;
        Seed = seed;
    }

    /// <summary>Variant <paramref name="variantIndex"/> of example <paramref name="exampleIndex"/>. Its random
    /// stream is seeded from (<see cref="Seed"/>, example, variant) alone. The caller disposes the result;
    /// <paramref name="source"/> is not modified.</summary>
    public RgbImage Apply(RgbImage source, int exampleIndex, int variantIndex) =>
        Apply(source, Options, new Random(VariantSeed(Seed, exampleIndex, variantIndex)));

    /// <summary>The seed of one variant's random stream: a SplitMix64 mix of the three numbers, so nearby
    /// indices get unrelated streams.</summary>
    public static int VariantSeed(int seed, int exampleIndex, int variantIndex)
    {
        ulong z = Mix((ulong)(uint)seed) ^ Mix(((ulong)(uint)exampleIndex << 32) | (uint)variantIndex);
        return (int)(Mix(z) >> 33);

        static ulong Mix(ulong x)
        {
            x += 0x9E3779B97F4A7C15UL;
            x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9UL;
            x = (x ^ (x >> 27)) * 0x94D049BB133111EBUL;
            return x ^ (x >> 31);
        }
    }

    /// <summary>Applies <paramref name="options"/> to a copy of <paramref name="source"/>, drawing every random
    /// number from <paramref name="random"/> in a fixed order. The caller disposes the result.</summary>
    /// <exception cref="TailorException">An option is outside its range.</exception>
    public static RgbImage Apply(RgbImage source, AugmentationOptions options, Random random)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(random);
        options.Validate();

        var image = source.Clone();
        try
        {
            if (options.CropMinScale < 1f)
            {
                var region = RandomCrop(image.Width, image.Height, options, random);
                Replace(ref image, Crop(image, region));
            }
            if (options.HorizontalFlip && random.Next(2) == 1)
                Replace(ref image, Remap(image, image.Width, image.Height, image.Width - 1, -1, image.Width));
            if (options.VerticalFlip && random.Next(2) == 1)
                Replace(ref image, Remap(image, image.Width, image.Height, (image.Height - 1) * image.Width, 1, -image.Width));
            if (options.Rotate90)
            {
                int w = image.Width, h = image.Height;
                // Source (x, y) lands at index first + x·stepX + y·stepY of the turned image (clockwise turns).
                switch (random.Next(4))
                {
                    case 1: Replace(ref image, Remap(image, h, w, h - 1, h, -1)); break;                 // 90°
                    case 2: Replace(ref image, Remap(image, w, h, w * h - 1, -1, -w)); break;             // 180°
                    case 3: Replace(ref image, Remap(image, h, w, (w - 1) * h, -h, 1)); break;            // 270°
                }
            }
            if (options.RotationDegrees > 0)
            {
                float degrees = Uniform(random, -options.RotationDegrees, options.RotationDegrees);
                if (degrees != 0)
                    Replace(ref image, RotateAndZoom(image, degrees));
            }
            if (options.Brightness > 0)
            {
                float factor = Uniform(random, 1 - options.Brightness, 1 + options.Brightness);
                MapChannels(image, factor, 0);
            }
            if (options.Contrast > 0)
            {
                // Away from or towards mid-grey: c' = (c − 127.5)·f + 127.5.
                float factor = Uniform(random, 1 - options.Contrast, 1 + options.Contrast);
                MapChannels(image, factor, 127.5f * (1 - factor));
            }
            if (options.Saturation > 0)
            {
                float factor = Uniform(random, 1 - options.Saturation, 1 + options.Saturation);
                Saturate(image, factor);
            }
            return image;
        }
        catch
        {
            image.Dispose();
            throw;
        }
    }

    private static void Replace(ref RgbImage image, RgbImage next)
    {
        image.Dispose();
        image = next;
    }

    private static float Uniform(Random random, float min, float max) => min + (float)random.NextDouble() * (max - min);

    /// <summary>torchvision's RandomResizedCrop region: 10 tries at a random area and log-uniform aspect
    /// ratio, then the centre crop with the ratio clamped into range.</summary>
    internal static CropRegion RandomCrop(int width, int height, AugmentationOptions options, Random random)
    {
        double area = (double)width * height;
        double logMin = Math.Log(options.CropMinAspectRatio), logMax = Math.Log(options.CropMaxAspectRatio);
        for (int attempt = 0; attempt < 10; attempt++)
        {
            double target = area * (options.CropMinScale + random.NextDouble() * (1 - options.CropMinScale));
            double ratio = Math.Exp(logMin + random.NextDouble() * (logMax - logMin));
            int w = (int)Math.Round(Math.Sqrt(target * ratio));
            int h = (int)Math.Round(Math.Sqrt(target / ratio));
            if (w >= 1 && h >= 1 && w <= width && h <= height)
                return new CropRegion(random.Next(width - w + 1), random.Next(height - h + 1), w, h);
        }
        double imageRatio = (double)width / height;
        int cw = width, ch = height;
        if (imageRatio < options.CropMinAspectRatio)
            ch = Math.Max(1, (int)Math.Round(width / options.CropMinAspectRatio));
        else if (imageRatio > options.CropMaxAspectRatio)
            cw = Math.Max(1, (int)Math.Round(height * options.CropMaxAspectRatio));
        return new CropRegion((width - cw) / 2, (height - ch) / 2, cw, ch);
    }

    /// <summary>A rectangle of pixels: its top-left corner and size.</summary>
    internal readonly record struct CropRegion(int X, int Y, int Width, int Height);

    private static RgbImage Crop(RgbImage image, CropRegion region)
    {
        var result = new RgbImage(region.Width, region.Height);
        for (int y = 0; y < region.Height; y++)
            image.Row(region.Y + y).Slice(3 * region.X, 3 * region.Width).CopyTo(result.Row(y));
        return result;
    }

    /// <summary>A <paramref name="width"/> × <paramref name="height"/> image where source pixel (x, y) sits at pixel
    /// index <c>first + x·stepX + y·stepY</c>: flips and quarter turns.</summary>
    private static RgbImage Remap(RgbImage source, int width, int height, int first, int stepX, int stepY)
    {
        var result = new RgbImage(width, height);
        var from = source.Pixels;
        var to = result.Pixels;
        for (int y = 0; y < source.Height; y++)
        {
            int at = first + y * stepY;
            for (int x = 0; x < source.Width; x++, at += stepX)
            {
                int i = 3 * (y * source.Width + x);
                to[3 * at] = from[i];
                to[3 * at + 1] = from[i + 1];
                to[3 * at + 2] = from[i + 2];
            }
        }
        return result;
    }

    /// <summary>Rotates clockwise by <paramref name="degrees"/> about the centre, keeps the largest centred rectangle
    /// with the source's aspect ratio that lies wholly inside the rotated picture, and scales it back to the source's
    /// size — in one bilinear pass, so no black corner (a cue the classifier could learn) appears and the pixels are
    /// resampled once.</summary>
    private static RgbImage RotateAndZoom(RgbImage image, float degrees)
    {
        int width = image.Width, height = image.Height;
        double radians = degrees * Math.PI / 180, cos = Math.Cos(radians), sin = Math.Sin(radians);
        double absCos = Math.Abs(cos), absSin = Math.Abs(sin);
        // A centred w·s × h·s rectangle fits inside the rotated w × h one iff its extents along the rotated
        // axes, s·(w cos + h sin) and s·(w sin + h cos), are within w and h.
        double s = Math.Min(width / (width * absCos + height * absSin), height / (width * absSin + height * absCos));
        // Half a pixel of margin: the bilinear taps at the kept rectangle's edge stay inside the source.
        double zoomX = Math.Max(1, width * s - 1) / width, zoomY = Math.Max(1, height * s - 1) / height;
        double cx = width / 2.0, cy = height / 2.0;

        var result = new RgbImage(width, height);
        var from = image.Pixels;
        var to = result.Pixels;
        int stride = 3 * width;
        for (int y = 0; y < height; y++)
        {
            double v = (y + 0.5 - cy) * zoomY;
            for (int x = 0; x < width; x++)
            {
                double u = (x + 0.5 - cx) * zoomX;
                // Output point (u, v) is the source point rotated clockwise by the angle (y points down):
                // undo it by rotating back.
                double sx = cx + u * cos + v * sin - 0.5, sy = cy - u * sin + v * cos - 0.5;
                int x0 = Math.Clamp((int)Math.Floor(sx), 0, width - 1), y0 = Math.Clamp((int)Math.Floor(sy), 0, height - 1);
                int x1 = Math.Min(x0 + 1, width - 1), y1 = Math.Min(y0 + 1, height - 1);
                float fx = (float)Math.Clamp(sx - x0, 0, 1), fy = (float)Math.Clamp(sy - y0, 0, 1);
                int a = y0 * stride + 3 * x0, b = y0 * stride + 3 * x1, c = y1 * stride + 3 * x0, d = y1 * stride + 3 * x1;
                int o = y * stride + 3 * x;
                for (int ch = 0; ch < 3; ch++)
                {
                    float top = from[a + ch] + (from[b + ch] - from[a + ch]) * fx;
                    float bottom = from[c + ch] + (from[d + ch] - from[c + ch]) * fx;
                    to[o + ch] = ImageResizer.ToByte(top + (bottom - top) * fy);
                }
            }
        }
        return result;
    }

    /// <summary>Every channel value c becomes <c>c·factor + offset</c>, rounded and clamped to 0..255.</summary>
    private static void MapChannels(RgbImage image, float factor, float offset)
    {
        Span<byte> table = stackalloc byte[256];
        for (int c = 0; c < 256; c++)
            table[c] = ImageResizer.ToByte(c * factor + offset);
        var pixels = image.Pixels;
        for (int i = 0; i < pixels.Length; i++)
            pixels[i] = table[pixels[i]];
    }

    /// <summary>Moves each pixel away from (factor &gt; 1) or towards (factor &lt; 1) its own grey, the Rec. 709 luma
    /// <c>0.2126 R + 0.7152 G + 0.0722 B</c> (as the CSS saturate() filter).</summary>
    private static void Saturate(RgbImage image, float factor)
    {
        var pixels = image.Pixels;
        for (int i = 0; i < pixels.Length; i += 3)
        {
            float r = pixels[i], g = pixels[i + 1], b = pixels[i + 2];
            float gray = 0.2126f * r + 0.7152f * g + 0.0722f * b;
            pixels[i] = ImageResizer.ToByte(gray + (r - gray) * factor);
            pixels[i + 1] = ImageResizer.ToByte(gray + (g - gray) * factor);
            pixels[i + 2] = ImageResizer.ToByte(gray + (b - gray) * factor);
        }
    }
}
