using System.Diagnostics;
using System.Text.Json;
using SkiaSharp;
using Tailor.Building;
using Tailor.Features;
using Tailor.Images;
using Tailor.Spec;

namespace Tailor.Bench;

/// <summary>
/// What a phone photo costs on its way to the model. (1) One 12-megapixel JPEG to the default model's input tensor:
/// Tailor's reduced-size decode against a full-size decode followed by the same resize (the way every image was read
/// before, and still the only way for formats without scaled decoding), one thread. (2) Feature extraction of a few
/// 12-megapixel photos with the default augmentation (4 variants) against <c>--augment none</c>, per variant, through
/// the same <see cref="FeatureCache"/> training uses; and the preprocessing alone per variant, with augmentation at the
/// working size against augmentation of the full-size image (what the feature cache did before).
/// The photos are generated (seeded gradients, soft shapes and sensor-like noise) and encoded by Skia at quality 90.
/// </summary>
internal static class ImageBenchmarks
{
    internal sealed record DecodeFigures(int Width, int Height, long FileBytes, double FullDecodeSeconds, double FullDecodeAndResizeSeconds,
        double ReducedDecodeSeconds, double ReducedDecodeAndResizeSeconds, int ReducedWidth, int ReducedHeight)
    {
        public double Speedup => FullDecodeAndResizeSeconds / ReducedDecodeAndResizeSeconds;
    }

    internal sealed record AugmentFigures(int Photos, int Variants, double NoneSeconds, double DefaultSeconds,
        double PreprocessNoneSecondsPerVariant, double PreprocessWorkingSizeSecondsPerVariant, double PreprocessFullSizeSecondsPerVariant)
    {
        public double NoneSecondsPerVariant => NoneSeconds / Photos;
        public double DefaultSecondsPerVariant => DefaultSeconds / (Photos * Variants);
        /// <summary>The target: ≤ 2.</summary>
        public double PerVariantRatio => DefaultSecondsPerVariant / NoneSecondsPerVariant;
        public double PreprocessWorkingSizeRatio => PreprocessWorkingSizeSecondsPerVariant / PreprocessNoneSecondsPerVariant;
        public double PreprocessFullSizeRatio => PreprocessFullSizeSecondsPerVariant / PreprocessNoneSecondsPerVariant;
    }

    public static int Run(bool json, int photos)
    {
        Measure.WarnIfDebug();
        var log = Console.Error;
        string folder = Directory.CreateTempSubdirectory("tailor-bench-images").FullName;
        try
        {
            log.WriteLine($"images: writing {photos} generated 4032×3024 JPEGs (quality 90) to {folder}…");
            var paths = Enumerable.Range(0, photos).Select(i =>
            {
                string path = Path.Combine(folder, $"photo{i}.jpg");
                File.WriteAllBytes(path, PhotoJpeg(4032, 3024, seed: i));
                return path;
            }).ToList();

            log.WriteLine("images: preparing the default model…");
            var model = ModelBuilder.Prepare(new PrepareOptions { Labels = ["a", "b"] });
            var spec = model.Spec.Preprocessing;

            log.WriteLine("images: decode + preprocess of one photo, full-size decode vs reduced…");
            var decode = Decode(paths[0], spec);

            log.WriteLine("images: feature extraction, --augment none vs the default augmentation…");
            var augment = Augment(model, paths, spec, log);

            if (json)
            {
                Console.Out.WriteLine(JsonSerializer.Serialize(new
                {
                    decode,
                    decode_speedup = decode.Speedup,
                    augmentation = augment,
                    per_variant_ratio = augment.PerVariantRatio,
                    augmentation_option = AugmentationOptions.FewShot.ToString(),
                }, Measure.Json));
                return 0;
            }

            Console.WriteLine($"One {decode.Width}×{decode.Height} JPEG ({decode.FileBytes / 1e6:F1} MB) → {spec.Width}×{spec.Height} tensor, one thread:");
            Console.WriteLine($"  full-size decode            {decode.FullDecodeSeconds * 1e3,8:F1} ms");
            Console.WriteLine($"  full-size decode + resize   {decode.FullDecodeAndResizeSeconds * 1e3,8:F1} ms   (before)");
            Console.WriteLine($"  reduced decode ({decode.ReducedWidth}×{decode.ReducedHeight})  {decode.ReducedDecodeSeconds * 1e3,8:F1} ms");
            Console.WriteLine($"  reduced decode + resize     {decode.ReducedDecodeAndResizeSeconds * 1e3,8:F1} ms   (now: ImageLoader.LoadInto)");
            Console.WriteLine($"  speed-up                    {decode.Speedup,8:F1}×");
            Console.WriteLine();
            Console.WriteLine($"Feature extraction of {augment.Photos} such photos (default model's prefix, all cores):");
            Console.WriteLine($"  --augment none              {augment.NoneSeconds,8:F2} s   {augment.NoneSecondsPerVariant * 1e3,8:F1} ms per variant");
            Console.WriteLine($"  {AugmentationOptions.FewShot} {augment.DefaultSeconds,6:F2} s   {augment.DefaultSecondsPerVariant * 1e3,8:F1} ms per variant ({augment.Variants} variants)");
            Console.WriteLine($"  per-variant ratio           {augment.PerVariantRatio,8:F2}×   (target ≤ 2×)");
            Console.WriteLine("Preprocessing alone per variant (decode share included, no model), one thread:");
            Console.WriteLine($"  no augmentation             {augment.PreprocessNoneSecondsPerVariant * 1e3,8:F1} ms");
            Console.WriteLine($"  augmented at working size   {augment.PreprocessWorkingSizeSecondsPerVariant * 1e3,8:F1} ms   {augment.PreprocessWorkingSizeRatio,6:F2}×   (now)");
            Console.WriteLine($"  augmented at full size      {augment.PreprocessFullSizeSecondsPerVariant * 1e3,8:F1} ms   {augment.PreprocessFullSizeRatio,6:F2}×   (before)");
            return 0;
        }
        finally
        {
            try { Directory.Delete(folder, recursive: true); } catch (IOException) { }
        }
    }

    private static DecodeFigures Decode(string path, ImagePreprocessing spec)
    {
        var tensor = new float[ImageLoader.TensorLength(spec)];
        int width, height, reducedWidth, reducedHeight;
        using (var full = ImageLoader.Load(path)) (width, height) = (full.Width, full.Height);
        using (var reduced = ImageLoader.Load(path, spec, factor: 1)) (reducedWidth, reducedHeight) = (reduced.Width, reduced.Height);

        var fullDecode = Measure.Time(() => ImageLoader.Load(path).Dispose(), sampleSeconds: 0.3, samples: 7, warmupSeconds: 1);
        var fullAndResize = Measure.Time(() =>
        {
            using var image = ImageLoader.Load(path);
            ImageLoader.LoadInto(image, spec, tensor);
        }, sampleSeconds: 0.3, samples: 7, warmupSeconds: 1);
        var reducedDecode = Measure.Time(() => ImageLoader.Load(path, spec, factor: 1).Dispose(), sampleSeconds: 0.3, samples: 7, warmupSeconds: 1);
        var reducedAndResize = Measure.Time(() => ImageLoader.LoadInto(path, spec, tensor), sampleSeconds: 0.3, samples: 7, warmupSeconds: 1);
        return new DecodeFigures(width, height, new FileInfo(path).Length, fullDecode.Median, fullAndResize.Median,
            reducedDecode.Median, reducedAndResize.Median, reducedWidth, reducedHeight);
    }

    private static AugmentFigures Augment(UpdatableModel model, List<string> paths, ImagePreprocessing spec, TextWriter log)
    {
        var cut = GraphCut.Compute(model.Proto.Graph, model.Spec);
        using var extractor = new FeatureExtractor(model, cut);
        var augmentation = AugmentationOptions.FewShot;
        int variants = FeatureCache.VariantsFor(augmentation);

        double Build(AugmentationOptions options)
        {
            var clock = Stopwatch.StartNew();
            var (cache, failures) = FeatureCache.Build(extractor, paths, options, seed: 42);
            cache.Dispose();
            if (failures.Count > 0) throw new InvalidOperationException(failures[0].Reason);
            return clock.Elapsed.TotalSeconds;
        }
        Build(AugmentationOptions.None);   // warm-up: JIT, ONNX Runtime's first runs
        // Alternate the two so a busy neighbour slows both alike; the median of three each.
        var none = new List<double>();
        var augmented = new List<double>();
        for (int run = 0; run < 3; run++)
        {
            none.Add(Build(AugmentationOptions.None));
            augmented.Add(Build(augmentation));
            log.WriteLine($"images:   run {run + 1}: none {none[^1]:F2} s, default {augmented[^1]:F2} s");
        }

        // Preprocessing alone, one photo, one thread: what FeatureCache.Build does per example, without the model.
        var augmenter = new Augmenter(augmentation, 42);
        var tensor = new float[ImageLoader.TensorLength(spec)];
        string path = paths[0];
        var plain = Measure.Time(() => ImageLoader.LoadInto(path, spec, tensor), sampleSeconds: 0.3, samples: 5, warmupSeconds: 1);
        var workingSize = Measure.Time(() =>
        {
            using var image = ImageLoader.Load(path, spec);
            ImageLoader.LoadInto(image, spec, tensor);
            using var working = ImageLoader.ToWorkingSize(image, spec);
            for (int v = 1; v < variants; v++)
            {
                using var variant = augmenter.Apply(working, 0, v);
                ImageLoader.LoadInto(variant, spec, tensor);
            }
        }, sampleSeconds: 0.3, samples: 5, warmupSeconds: 1);
        log.WriteLine("images: augmenting at full size (before; slow)…");
        var fullSize = Measure.Time(() =>
        {
            using var image = ImageLoader.Load(path);
            ImageLoader.LoadInto(image, spec, tensor);
            for (int v = 1; v < variants; v++)
            {
                using var variant = augmenter.Apply(image, 0, v);
                ImageLoader.LoadInto(variant, spec, tensor);
            }
        }, sampleSeconds: 0.5, samples: 3, warmupSeconds: 0.5);
        return new AugmentFigures(paths.Count, variants, Measure.Median(none), Measure.Median(augmented),
            plain.Median, workingSize.Median / variants, fullSize.Median / variants);
    }

    /// <summary>A photo-like JPEG: smooth lighting, a few soft-edged shapes and per-pixel noise like a phone sensor's,
    /// so the entropy decoder has as much to do as with a real photo of the same size and quality.</summary>
    internal static byte[] PhotoJpeg(int width, int height, int seed)
    {
        var random = new Random(seed);
        var discs = Enumerable.Range(0, 6).Select(_ => (X: random.NextDouble(), Y: random.NextDouble(), R: 0.05 + 0.2 * random.NextDouble(),
            Color: (R: random.Next(256), G: random.Next(256), B: random.Next(256)))).ToArray();
        using var bitmap = new SKBitmap(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Opaque));
        var pixels = bitmap.GetPixelSpan();
        var noise = new byte[width * 3];
        for (int y = 0; y < height; y++)
        {
            random.NextBytes(noise);
            double v = (double)y / height;
            for (int x = 0; x < width; x++)
            {
                double u = (double)x / width;
                double r = 70 + 100 * u, g = 80 + 90 * v, b = 150 - 80 * u * v;
                foreach (var d in discs)
                {
                    double dist = Math.Sqrt((u - d.X) * (u - d.X) + (v - d.Y) * (v - d.Y) * 0.56);
                    double t = Math.Clamp((d.R - dist) * 200, 0, 1);   // a soft edge a few pixels wide
                    r += (d.Color.R - r) * t;
                    g += (d.Color.G - g) * t;
                    b += (d.Color.B - b) * t;
                }
                int at = 4 * (y * width + x);
                pixels[at] = (byte)Math.Clamp(r + (noise[3 * x] - 128) / 7.0, 0, 255);
                pixels[at + 1] = (byte)Math.Clamp(g + (noise[3 * x + 1] - 128) / 7.0, 0, 255);
                pixels[at + 2] = (byte)Math.Clamp(b + (noise[3 * x + 2] - 128) / 7.0, 0, 255);
                pixels[at + 3] = 255;
            }
        }
        using var pixmap = bitmap.PeekPixels();
        using var data = pixmap.Encode(new SKJpegEncoderOptions(90, SKJpegEncoderDownsample.Downsample420, SKJpegEncoderAlphaOption.Ignore))
                         ?? throw new InvalidOperationException("Skia could not encode the benchmark photo.");
        return data.ToArray();
    }
}
