using SkiaSharp;
using Tailor.Images;
using Tailor.Spec;
using Tailor.Tests.Images;
using Xunit.Abstractions;
using Format = Tailor.Tests.Fuzz.ImageMutator.Format;

namespace Tailor.Tests.Fuzz;

/// <summary>
/// Mutated images (the hands photos and small PNG, WebP, BMP, GIF and JPEG files made here) through the image loader
/// and through <c>evaluate</c>, <c>predict</c> and <c>train --skip-bad</c>: every one is read or refused with a
/// <see cref="TailorException"/> naming the file, never another exception, a hang or gigabytes of memory. See
/// <see cref="FuzzSession"/> for the seed and the budget (a few seconds by default; TAILOR_FUZZ_SECONDS for more).
/// </summary>
[Collection("Serial")]
[Trait("Category", "Slow")]
public sealed class ImageFuzzTests(PreparedModelFixture model, ITestOutputHelper output) : IClassFixture<PreparedModelFixture>
{
    private static readonly TimeSpan LoaderTimeout = TimeSpan.FromSeconds(30), CliTimeout = TimeSpan.FromMinutes(2);

    /// <summary>The unmutated inputs: every hands training photo, and one small image per format and encoder.</summary>
    private static readonly Lazy<(byte[] Bytes, Format Format, string Name)[]> s_seeds = new(() =>
    {
        using var photo = ImageLoaderTests.PhotoLike(24, 16);
        using var other = ImageLoaderTests.PhotoLike(9, 13);
        using var few = new RgbImage(6, 5);   // a GIF holds 256 colours at most: four here
        for (int p = 0; p < 30; p++) few.Pixels[3 * p + p % 3] = (byte)(60 * (p % 4));
        var made = new (byte[], Format, string)[]
        {
            (TestImages.Png(photo), Format.Png, "png rgb 24x16"),
            (TestImages.Png(4, 3, colorType: 6, bitDepth: 16, Enumerable.Range(0, 4 * 3 * 8).Select(i => (byte)(i * 37)).ToArray()), Format.Png, "png rgba16 4x3"),
            (TestImages.Bmp(photo), Format.Bmp, "bmp 24x16"),
            (TestImages.Gif(few, few), Format.Gif, "gif 2 frames"),
            (TestImages.WebpLossless(photo), Format.Webp, "webp lossless"),
            (WebpLossy(photo), Format.Webp, "webp lossy"),
            (TestImages.Jpeg(photo, quality: 80, subsample: true), Format.Jpeg, "jpeg 4:2:0"),
            (TestImages.WithExifOrientation(TestImages.Jpeg(other), 6), Format.Jpeg, "jpeg exif 6"),
        };
        var hands = Directory.EnumerateFiles(TestData.HandsTrain, "*.jpg", SearchOption.AllDirectories).Order(StringComparer.Ordinal)
            .Select(path => (File.ReadAllBytes(path), Format.Jpeg, "hands " + Path.GetFileName(path)));
        return [.. made, .. hands];
    });

    [Fact]
    public async Task MutatedImages_ThroughTheLoader_AreReadOrRefusedNamingTheFile()
    {
        var fuzz = new FuzzSession(nameof(MutatedImages_ThroughTheLoader_AreReadOrRefusedNamingTheFile), defaultIterations: 300, output);
        using var folder = new TempFolder();
        foreach (int i in fuzz.Cases())
        {
            var random = fuzz.Random(i);
            var (bytes, description, path) = MutatedFile(random, folder.Path, "image");
            var spec = RandomSpec(random);
            await fuzz.CheckAsync(i, $"{description} → {spec}", LoaderTimeout, _ =>
            {
                string outcome = "read";
                foreach (var load in (Action[])[
                    () => ImageLoader.Load(path).Dispose(),
                    () => ImageLoader.Load(path, spec).Dispose(),
                    () => ImageLoader.LoadInto(path, spec, new float[ImageLoader.TensorLength(spec)])])
                {
                    try { load(); }
                    catch (TailorException e)
                    {
                        if (Complaint(e.Message, path) is { } complaint) return Task.FromResult<string?>(complaint);
                        outcome = "refused";
                    }
                }
                var (_, results) = ImageLoader.LoadBatch([path], spec);
                if (results[0].Error is { } reason && Complaint(reason, path) is { } batchComplaint) return Task.FromResult<string?>(batchComplaint);
                fuzz.Count(outcome);
                return Task.FromResult<string?>(null);
            });
        }
        fuzz.AssertNoFailures();
    }

    [Fact]
    public async Task MutatedImages_ThroughEvaluatePredictAndTrain_EndInAnErrorOrASkipReason()
    {
        var fuzz = new FuzzSession(nameof(MutatedImages_ThroughEvaluatePredictAndTrain_EndInAnErrorOrASkipReason), defaultIterations: 1, output);
        using var folder = new TempFolder();
        foreach (int i in fuzz.Cases())
        {
            var random = fuzz.Random(i);
            string work = Directory.CreateDirectory(Path.Combine(folder.Path, $"case{i}")).FullName;
            string data = folder.HandsSubset($"case{i}/data", ("✊", "✊", 1), ("✋", "✋", 1));
            var described = new List<string>();
            for (int m = 0; m < 6; m++)
            {
                string label = m % 2 == 0 ? "✊" : "✋";
                var (_, description, _) = MutatedFile(random, Path.Combine(data, label), $"m{m}");
                described.Add($"{label}/m{m}: {description}");
            }
            bool json = random.Next(2) == 0;
            // Augmented variants decode through the working-size path (the loader test covers it too) and cost 4× the
            // training time, so a third of the cases augment.
            string[] augment = random.Next(3) == 0 ? [] : ["--augment", "none"];
            string[][] runs =
            [
                ["evaluate", model.Path, "--data", data, .. json ? ["--json"] : Array.Empty<string>()],
                ["predict", model.Path, data, .. json ? ["--json"] : random.Next(2) == 0 ? ["--format", "csv"] : Array.Empty<string>()],
                ["train", model.Path, "--data", data, "--skip-bad", "--epochs", "1", "--out", Path.Combine(work, "trained.onnx"), .. augment,
                    .. json ? ["--json"] : Array.Empty<string>()],
            ];
            foreach (var args in runs)
                await fuzz.CheckAsync(i, $"tailor {string.Join(' ', args)}\n    with {string.Join("\n         ", described)}", CliTimeout,
                    async ct =>
                    {
                        var result = await Cli.InProcessCli.RunAsync(args, cancellationToken: ct);
                        fuzz.Count($"{args[0]} exit {result.ExitCode}");
                        return CliJudge.Complaint(result);
                    });
            Directory.Delete(work, recursive: true);
        }
        fuzz.AssertNoFailures();
    }

    /// <summary>A mutated copy of a random seed image written to <paramref name="folder"/>, usually with its format's
    /// extension, sometimes with another's.</summary>
    private static (byte[] Bytes, string Description, string Path) MutatedFile(Random random, string folder, string name)
    {
        var seeds = s_seeds.Value;
        var (original, format, seedName) = seeds[random.Next(seeds.Length)];
        var (bytes, mutation) = ImageMutator.Mutate(original, format, random);
        string extension = random.Next(8) == 0 ? ".jpg" : format switch
        {
            Format.Jpeg => ".jpg", Format.Png => ".png", Format.Bmp => ".bmp", Format.Gif => ".gif", _ => ".webp",
        };
        string path = System.IO.Path.Combine(folder, name + extension);
        File.WriteAllBytes(path, bytes);
        return (bytes, $"{seedName} ({original.Length} bytes) {mutation} → {bytes.Length} bytes", path);
    }

    private static ImagePreprocessing RandomSpec(Random random)
    {
        int[] sizes = [224, 224, 1, 3, 64, 401];
        return new ImagePreprocessing
        {
            Width = sizes[random.Next(sizes.Length)],
            Height = sizes[random.Next(sizes.Length)],
            Channels = (ChannelOrder)random.Next(3),
            Layout = (TensorLayout)random.Next(2),
            Resize = (ResizeMode)random.Next(3),
            Resampler = Enum.GetValues<Resampler>()[random.Next(Enum.GetValues<Resampler>().Length)],
        };
    }

    /// <summary>What is wrong with a refusal: it must name the file and say what is wrong in Tailor's words.</summary>
    internal static string? Complaint(string message, string path)
    {
        if (!message.Contains(Path.GetFileName(path), StringComparison.Ordinal)) return $"the message does not name the file: {message}";
        foreach (var internalText in (string[])["Object reference not set", "Exception of type", "Index was outside", "Arithmetic operation"])
            if (message.Contains(internalText, StringComparison.Ordinal)) return $"the message passes on an internal message: {message}";
        return null;
    }

    private static byte[] WebpLossy(RgbImage image)
    {
        using var bitmap = new SKBitmap(new SKImageInfo(image.Width, image.Height, SKColorType.Rgba8888, SKAlphaType.Opaque));
        for (int y = 0; y < image.Height; y++)
            for (int x = 0; x < image.Width; x++)
            {
                var row = image.Row(y);
                bitmap.SetPixel(x, y, new SKColor(row[3 * x], row[3 * x + 1], row[3 * x + 2]));
            }
        using var data = bitmap.Encode(SKEncodedImageFormat.Webp, 75);
        return data.ToArray();
    }
}
