using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using SixLabors.ImageSharp.Processing;

namespace Tailor.Images;

/// <summary>Applies <see cref="AugmentationOptions"/> to decoded images, reproducibly: the same seed,
/// example index and variant index always give the same pixels, whatever the thread or the order in which
/// variants are made.</summary>
/// <remarks>The result is a new image at (about) the source's size; the model's resize comes after, in
/// <see cref="ImageLoader.LoadInto(Image{Rgb24}, Tailor.Spec.ImagePreprocessing, Span{float})"/>.</remarks>
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
    public Image<Rgb24> Apply(Image<Rgb24> source, int exampleIndex, int variantIndex) =>
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
    public static Image<Rgb24> Apply(Image<Rgb24> source, AugmentationOptions options, Random random)
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
                image.Mutate(x => x.Crop(region));
            }
            if (options.HorizontalFlip && random.Next(2) == 1)
                image.Mutate(x => x.Flip(FlipMode.Horizontal));
            if (options.VerticalFlip && random.Next(2) == 1)
                image.Mutate(x => x.Flip(FlipMode.Vertical));
            if (options.Rotate90)
            {
                var mode = random.Next(4) switch { 1 => RotateMode.Rotate90, 2 => RotateMode.Rotate180, 3 => RotateMode.Rotate270, _ => RotateMode.None };
                if (mode != RotateMode.None)
                    image.Mutate(x => x.Rotate(mode));
            }
            if (options.RotationDegrees > 0)
            {
                float degrees = Uniform(random, -options.RotationDegrees, options.RotationDegrees);
                RotateAndZoom(image, degrees);
            }
            if (options.Brightness > 0)
            {
                float factor = Uniform(random, 1 - options.Brightness, 1 + options.Brightness);
                image.Mutate(x => x.Brightness(factor));
            }
            if (options.Contrast > 0)
            {
                float factor = Uniform(random, 1 - options.Contrast, 1 + options.Contrast);
                image.Mutate(x => x.Contrast(factor));
            }
            if (options.Saturation > 0)
            {
                float factor = Uniform(random, 1 - options.Saturation, 1 + options.Saturation);
                image.Mutate(x => x.Saturate(factor));
            }
            return image;
        }
        catch
        {
            image.Dispose();
            throw;
        }
    }

    private static float Uniform(Random random, float min, float max) => min + (float)random.NextDouble() * (max - min);

    /// <summary>torchvision's RandomResizedCrop region: 10 tries at a random area and log-uniform aspect
    /// ratio, then the centre crop with the ratio clamped into range.</summary>
    internal static Rectangle RandomCrop(int width, int height, AugmentationOptions options, Random random)
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
                return new Rectangle(random.Next(width - w + 1), random.Next(height - h + 1), w, h);
        }
        double imageRatio = (double)width / height;
        int cw = width, ch = height;
        if (imageRatio < options.CropMinAspectRatio)
            ch = Math.Max(1, (int)Math.Round(width / options.CropMinAspectRatio));
        else if (imageRatio > options.CropMaxAspectRatio)
            cw = Math.Max(1, (int)Math.Round(height * options.CropMaxAspectRatio));
        return new Rectangle((width - cw) / 2, (height - ch) / 2, cw, ch);
    }

    /// <summary>Rotates about the centre, then keeps the largest centred rectangle with the source's aspect
    /// ratio that lies wholly inside the rotated picture and scales it back to the source's size, so no
    /// black corner (a cue the classifier could learn) appears.</summary>
    private static void RotateAndZoom(Image<Rgb24> image, float degrees)
    {
        if (degrees == 0) return;
        int width = image.Width, height = image.Height;
        double radians = Math.Abs(degrees) * Math.PI / 180, cos = Math.Cos(radians), sin = Math.Sin(radians);
        // A centred w·s × h·s rectangle fits inside the rotated w × h one iff its extents along the rotated
        // axes, s·(w cos + h sin) and s·(w sin + h cos), are within w and h.
        double s = Math.Min(width / (width * cos + height * sin), height / (width * sin + height * cos));
        // One pixel of margin: the rotated edge is antialiased against black.
        int keepWidth = Math.Max(1, (int)Math.Floor(width * s) - 2), keepHeight = Math.Max(1, (int)Math.Floor(height * s) - 2);

        image.Mutate(x => x.Rotate(degrees, KnownResamplers.Triangle));
        var region = new Rectangle((image.Width - keepWidth) / 2, (image.Height - keepHeight) / 2, keepWidth, keepHeight);
        image.Mutate(x => x.Crop(region).Resize(width, height, KnownResamplers.Triangle));
    }
}
