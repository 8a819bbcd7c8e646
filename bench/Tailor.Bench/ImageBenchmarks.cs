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
    /// <summary>Seconds per call, by the wall clock and in CPU time of the whole process (all threads). On a shared
    /// machine the wall clock also counts other processes' turns; CPU time does not.</summary>
    internal readonly record struct Cost(double WallSeconds, double CpuSeconds);

    /// <summary>Two ways to do the same work, measured in alternating rounds so a busy neighbour slows both alike:
    /// the medians of each and the median of the per-round ratios <c>Before / After</c>.</summary>
    internal sealed record Comparison(string Before, string After, Cost BeforeCost, Cost AfterCost, double WallRatio, double CpuRatio, int Rounds);

    internal sealed record DecodeFigures(int Width, int Height, long FileBytes, int ReducedWidth, int ReducedHeight,
        Comparison Decode, Comparison DecodeAndPreprocess);

    internal sealed record AugmentFigures(int Photos, int Variants, Comparison FeatureExtractionPerVariant,
        Comparison PreprocessFullSizeVsWorkingSize, Comparison PreprocessNoneVsWorkingSize);

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
                Console.Out.WriteLine(JsonSerializer.Serialize(new { decode, augmentation = augment, augmentation_option = AugmentationOptions.FewShot.ToString() },
                    Measure.Json));
                return 0;
            }

            Console.WriteLine($"One {decode.Width}×{decode.Height} JPEG ({decode.FileBytes / 1e6:F1} MB) → {spec.Width}×{spec.Height} tensor, one thread " +
                              $"(medians of {decode.Decode.Rounds} alternating rounds; ratio = median of the rounds' ratios):");
            Print(decode.Decode, "decode");
            Print(decode.DecodeAndPreprocess, "decode + preprocess");
            Console.WriteLine();
            var f = augment.FeatureExtractionPerVariant;
            Console.WriteLine($"Feature extraction of {augment.Photos} such photos through FeatureCache (default model's prefix, all cores), per variant:");
            Print(f, "per variant");
            Console.WriteLine($"  → the default augmentation costs {1 / f.WallRatio:F2}× (wall) / {1 / f.CpuRatio:F2}× (CPU) of --augment none per variant (target ≤ 2×)");
            Console.WriteLine("Preprocessing alone (decode share included, no model), one photo, one thread, per variant:");
            Print(augment.PreprocessFullSizeVsWorkingSize, "per variant");
            Print(augment.PreprocessNoneVsWorkingSize, "per variant");
            return 0;
        }
        finally
        {
            try { Directory.Delete(folder, recursive: true); } catch (IOException) { }
        }
    }

    private static void Print(Comparison c, string what)
    {
        int width = Math.Max(c.Before.Length, c.After.Length);
        Console.WriteLine($"  {c.Before.PadRight(width)}  {c.BeforeCost.WallSeconds * 1e3,9:F1} ms wall  {c.BeforeCost.CpuSeconds * 1e3,9:F1} ms CPU");
        Console.WriteLine($"  {c.After.PadRight(width)}  {c.AfterCost.WallSeconds * 1e3,9:F1} ms wall  {c.AfterCost.CpuSeconds * 1e3,9:F1} ms CPU");
        Console.WriteLine($"  {("ratio, " + what).PadRight(width)}  {c.WallRatio,9:F2}×   wall  {c.CpuRatio,9:F2}×   CPU");
    }

    private static Cost Time(Action operation, int calls)
    {
        var cpu = Environment.CpuUsage.TotalTime;
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < calls; i++) operation();
        double wall = clock.Elapsed.TotalSeconds;
        return new Cost(wall / calls, (Environment.CpuUsage.TotalTime - cpu).TotalSeconds / calls);
    }

    /// <summary>Warms both up, then alternates <paramref name="rounds"/> rounds of each, every round about
    /// <paramref name="roundSeconds"/> long; <paramref name="perCall"/> divides a call's cost (variants per call).</summary>
    private static Comparison Compare(string beforeName, Action before, string afterName, Action after, int rounds, double roundSeconds, double perCall = 1,
                                      double afterPerCall = 1)
    {
        var first = Time(before, 1);
        var second = Time(after, 1);
        int beforeCalls = Math.Max(1, (int)(roundSeconds / Math.Max(first.WallSeconds, 1e-6)));
        int afterCalls = Math.Max(1, (int)(roundSeconds / Math.Max(second.WallSeconds, 1e-6)));
        var b = new List<Cost>();
        var a = new List<Cost>();
        for (int r = 0; r < rounds; r++)
        {
            b.Add(Time(before, beforeCalls));
            a.Add(Time(after, afterCalls));
        }
        Cost Per(Cost c, double n) => new(c.WallSeconds / n, c.CpuSeconds / n);
        var bs = b.Select(c => Per(c, perCall)).ToList();
        var @as = a.Select(c => Per(c, afterPerCall)).ToList();
        return new Comparison(beforeName, afterName,
            new Cost(Measure.Median(bs.Select(c => c.WallSeconds)), Measure.Median(bs.Select(c => c.CpuSeconds))),
            new Cost(Measure.Median(@as.Select(c => c.WallSeconds)), Measure.Median(@as.Select(c => c.CpuSeconds))),
            Measure.Median(bs.Zip(@as, (x, y) => x.WallSeconds / y.WallSeconds)),
            Measure.Median(bs.Zip(@as, (x, y) => x.CpuSeconds / y.CpuSeconds)), rounds);
    }

    private static DecodeFigures Decode(string path, ImagePreprocessing spec)
    {
        var tensor = new float[ImageLoader.TensorLength(spec)];
        int width, height, reducedWidth, reducedHeight;
        using (var full = ImageLoader.Load(path)) (width, height) = (full.Width, full.Height);
        using (var reduced = ImageLoader.Load(path, spec, factor: 1)) (reducedWidth, reducedHeight) = (reduced.Width, reduced.Height);

        var decode = Compare("full-size decode (before)", () => ImageLoader.Load(path).Dispose(),
            $"reduced decode, {reducedWidth}×{reducedHeight} (now)", () => ImageLoader.Load(path, spec, factor: 1).Dispose(), rounds: 7, roundSeconds: 0.5);
        var preprocess = Compare("full-size decode + resize (before)", () =>
        {
            using var image = ImageLoader.Load(path);
            ImageLoader.LoadInto(image, spec, tensor);
        }, "ImageLoader.LoadInto (now)", () => ImageLoader.LoadInto(path, spec, tensor), rounds: 7, roundSeconds: 0.5);
        return new DecodeFigures(width, height, new FileInfo(path).Length, reducedWidth, reducedHeight, decode, preprocess);
    }

    private static AugmentFigures Augment(UpdatableModel model, List<string> paths, ImagePreprocessing spec, TextWriter log)
    {
        var cut = GraphCut.Compute(model.Proto.Graph, model.Spec);
        using var extractor = new FeatureExtractor(model, cut);
        var augmentation = AugmentationOptions.FewShot;
        int variants = FeatureCache.VariantsFor(augmentation);

        void Build(AugmentationOptions options)
        {
            var (cache, failures) = FeatureCache.Build(extractor, paths, options, seed: 42);
            cache.Dispose();
            if (failures.Count > 0) throw new InvalidOperationException(failures[0].Reason);
        }
        // Per variant: --augment none makes one per photo, the default four.
        var extraction = Compare("--augment none", () => Build(AugmentationOptions.None),
            augmentation.ToString(), () => Build(augmentation), rounds: 3, roundSeconds: 0, perCall: paths.Count, afterPerCall: paths.Count * variants);

        // Preprocessing alone, one photo, one thread: what FeatureCache.Build does per example, without the model.
        var augmenter = new Augmenter(augmentation, 42);
        var tensor = new float[ImageLoader.TensorLength(spec)];
        string path = paths[0];
        log.WriteLine("images: preprocessing alone, augmenting at full size (before; slow) vs at the working size…");
        // What feature extraction now does per photo: one decode for augmentation, variant 0 from it, the others from
        // the image reduced to the working size.
        void AugmentedNow()
        {
            using var image = ImageLoader.Load(path, spec);
            ImageLoader.LoadInto(image, spec, tensor);
            using var working = ImageLoader.ToWorkingSize(image, spec);
            for (int v = 1; v < variants; v++)
            {
                using var variant = augmenter.Apply(working, 0, v);
                ImageLoader.LoadInto(variant, spec, tensor);
            }
        }

        var preprocess = Compare("augmented at full size (before)", () =>
        {
            using var image = ImageLoader.Load(path);
            ImageLoader.LoadInto(image, spec, tensor);
            for (int v = 1; v < variants; v++)
            {
                using var variant = augmenter.Apply(image, 0, v);
                ImageLoader.LoadInto(variant, spec, tensor);
            }
        }, "augmented at the working size (now)", AugmentedNow, rounds: 5, roundSeconds: 0.5, perCall: variants, afterPerCall: variants);
        var none = Compare("no augmentation (ImageLoader.LoadInto)", () => ImageLoader.LoadInto(path, spec, tensor),
            "augmented at the working size (now)", AugmentedNow, rounds: 5, roundSeconds: 0.5, perCall: 1, afterPerCall: variants);
        return new AugmentFigures(paths.Count, variants, extraction, preprocess, none);
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
