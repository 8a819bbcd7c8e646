using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Advanced;
using SixLabors.ImageSharp.Formats.Gif;
using SixLabors.ImageSharp.Formats.Tiff;
using SixLabors.ImageSharp.Memory;
using SixLabors.ImageSharp.Metadata;
using SixLabors.ImageSharp.PixelFormats;
using SixLabors.ImageSharp.Processing;
using SixLabors.ImageSharp.Processing.Processors.Transforms;
using Tailor.Spec;
using ResizeMode = Tailor.Spec.ResizeMode;

namespace Tailor.Images;

/// <summary>Turns image files into model input tensors, as an <see cref="ImagePreprocessing"/> describes.</summary>
/// <remarks>
/// <para>Every file goes through the same steps: decode (JPEG, PNG, BMP, GIF — first frame only —, WebP,
/// TIFF; ImageSharp also reads TGA and PBM), apply the EXIF orientation, convert to 8-bit RGB, resize as
/// <see cref="ImagePreprocessing.Resize"/> says, and write each channel value (0..255) times
/// <see cref="ImagePreprocessing.Scale"/> into the destination.</para>
/// <para>Conversions: grayscale becomes R = G = B; 16-bit channels are rounded to 8 bits; CMYK and YCCK
/// JPEGs are converted by ImageSharp's decoder (without ICC colour management, which ImageSharp 2.1 does
/// not do); transparent pixels are composited over <b>white</b>
/// (<c>out = (c·a + 255·(255 − a)) / 255</c>), which is how viewers and browsers usually show them, so a
/// black logo on a transparent background stays a black logo on white. <see cref="ResizeMode.Pad"/>
/// pads with black (zeros in the tensor).</para>
/// <para>For <see cref="ChannelOrder.Gray"/> the single channel is the BT.601 luma
/// <c>0.299 R + 0.587 G + 0.114 B</c> (what PIL and OpenCV use).</para>
/// </remarks>
public static class ImageLoader
{
    /// <summary>The formats named in error messages: the ones Tailor is tested with.</summary>
    public const string SupportedFormats = "JPEG, PNG, BMP, GIF, WebP, TIFF";

    // One configuration for all loads: the default formats, but GIF and TIFF decode only their first
    // frame, so an animated GIF costs one frame of memory, not hundreds.
    private static readonly Configuration s_configuration = CreateConfiguration();

    private static Configuration CreateConfiguration()
    {
        var configuration = Configuration.Default.Clone();
        configuration.ImageFormatsManager.SetDecoder(GifFormat.Instance, new GifDecoder { DecodingMode = FrameDecodingMode.First });
        configuration.ImageFormatsManager.SetDecoder(TiffFormat.Instance, new TiffDecoder { DecodingMode = FrameDecodingMode.First });
        return configuration;
    }

    /// <summary>Number of floats one image occupies in a tensor: <c>Width × Height × channels</c>, with 1
    /// channel for <see cref="ChannelOrder.Gray"/> and 3 otherwise.</summary>
    /// <exception cref="TailorException">The spec's size or scale is not valid.</exception>
    public static int TensorLength(ImagePreprocessing spec)
    {
        Validate(spec);
        return checked(spec.Width * spec.Height * ChannelCount(spec));
    }

    /// <summary>Number of channels the spec writes: 1 for <see cref="ChannelOrder.Gray"/>, 3 otherwise.</summary>
    public static int ChannelCount(ImagePreprocessing spec) => spec.Channels == ChannelOrder.Gray ? 1 : 3;

    /// <summary>Decodes a file into an upright 8-bit RGB image: EXIF orientation applied, grayscale, 16-bit,
    /// CMYK converted, alpha composited over white. The caller disposes it.</summary>
    /// <exception cref="TailorException">The file is missing, empty, unreadable, or not an image ImageSharp
    /// can read; the message names the file and says which.</exception>
    public static Image<Rgb24> Load(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (Directory.Exists(path))
            throw new TailorException($"'{path}' is a folder, not an image file.");

        FileStream stream;
        try
        {
            stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1 << 16);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new TailorException($"'{path}' does not exist.", e);
        }
        catch (UnauthorizedAccessException e)
        {
            throw new TailorException($"'{path}' cannot be read: access denied.", e);
        }
        catch (IOException e)
        {
            throw new TailorException($"'{path}' cannot be read: {e.Message}", e);
        }

        using (stream)
        {
            if (stream.Length == 0)
                throw new TailorException($"'{path}' is empty (0 bytes), not an image.");
            try
            {
                using var decoded = Image.Load<Rgba32>(s_configuration, stream);
                decoded.Mutate(x => x.AutoOrient());
                return FlattenOverWhite(decoded);
            }
            catch (UnknownImageFormatException e)
            {
                throw new TailorException(
                    $"'{path}' is not an image ImageSharp can read ({SupportedFormats}): its content is not in any of these formats.", e);
            }
            catch (InvalidMemoryOperationException e)
            {
                throw new TailorException($"'{path}' is too large to decode in memory: {e.Message}", e);
            }
            catch (IOException e) when (e is not EndOfStreamException)
            {
                throw new TailorException($"'{path}' cannot be read: {e.Message}", e);
            }
            catch (Exception e) when (e is not (OutOfMemoryException or OperationCanceledException))
            {
                // Corrupt and truncated files surface as InvalidImageContentException, but a decoder fed garbage
                // may also throw IndexOutOfRange, Argument or Overflow exceptions: all mean the same to the user.
                throw new TailorException(
                    $"'{path}' is not an image ImageSharp can read ({SupportedFormats}): it looks damaged or truncated ({e.Message}).", e);
            }
        }
    }

    /// <summary>Decodes <paramref name="path"/> and writes it into <paramref name="destination"/> as
    /// <paramref name="spec"/> says (see the class remarks for every step).</summary>
    /// <param name="path">The image file.</param>
    /// <param name="spec">Size, channel order, layout, resize mode, resampler and scale of the tensor.</param>
    /// <param name="destination">Exactly <see cref="TensorLength"/> floats: one image, no batch stride.</param>
    /// <exception cref="TailorException">The file cannot be read as an image (the message names it), or the
    /// spec is not valid.</exception>
    /// <exception cref="ArgumentException"><paramref name="destination"/> has the wrong length.</exception>
    public static void LoadInto(string path, ImagePreprocessing spec, Span<float> destination)
    {
        CheckDestination(spec, destination);
        using var image = Load(path);
        WriteTensor(image, spec, destination);
    }

    /// <summary>Writes an already decoded image (for instance one produced by the <see cref="Augmenter"/>)
    /// into <paramref name="destination"/>. The image is resized as the spec says; it is not modified.</summary>
    /// <exception cref="TailorException">The spec is not valid.</exception>
    /// <exception cref="ArgumentException"><paramref name="destination"/> has the wrong length.</exception>
    public static void LoadInto(Image<Rgb24> image, ImagePreprocessing spec, Span<float> destination)
    {
        ArgumentNullException.ThrowIfNull(image);
        CheckDestination(spec, destination);
        WriteTensor(image, spec, destination);
    }

    /// <summary>Decodes many files into one contiguous batch, <see cref="TensorLength"/> floats per file in
    /// the order given, on all cores (<see cref="Environment.ProcessorCount"/>). A file that cannot be read
    /// does not stop the others: its slot is zero-filled and its result carries the reason.</summary>
    /// <param name="paths">The files; file <c>i</c> goes to slot <c>i</c>.</param>
    /// <param name="spec">How each image becomes a tensor.</param>
    /// <param name="batch">At least <c>paths.Count × TensorLength(spec)</c> floats; anything after the last
    /// slot is left untouched.</param>
    /// <param name="cancellationToken">Stops starting new files; throws <see cref="OperationCanceledException"/>.</param>
    /// <returns>One result per path, in the same order.</returns>
    /// <exception cref="TailorException">The spec is not valid.</exception>
    /// <exception cref="ArgumentException"><paramref name="batch"/> is too small.</exception>
    public static ImageLoadResult[] LoadBatch(IReadOnlyList<string> paths, ImagePreprocessing spec, Memory<float> batch,
                                              CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(paths);
        int length = TensorLength(spec);
        long needed = (long)paths.Count * length;
        if (batch.Length < needed)
            throw new ArgumentException(
                $"The batch buffer holds {batch.Length} floats but {paths.Count} images of {spec.Width}×{spec.Height}×{ChannelCount(spec)} need {needed}.",
                nameof(batch));

        var results = new ImageLoadResult[paths.Count];
        var options = new ParallelOptions
        {
            MaxDegreeOfParallelism = Environment.ProcessorCount,
            CancellationToken = cancellationToken,
        };
        Parallel.For(0, paths.Count, options, i =>
        {
            var slot = batch.Span.Slice(i * length, length);
            try
            {
                using var image = Load(paths[i]);
                WriteTensor(image, spec, slot);
                results[i] = new ImageLoadResult(paths[i], i, null);
            }
            catch (TailorException e)
            {
                slot.Clear();
                results[i] = new ImageLoadResult(paths[i], i, e.Message);
            }
        });
        return results;
    }

    /// <summary>Decodes many files into a new batch array; see
    /// <see cref="LoadBatch(IReadOnlyList{string}, ImagePreprocessing, Memory{float}, CancellationToken)"/>.</summary>
    public static (float[] Batch, ImageLoadResult[] Results) LoadBatch(IReadOnlyList<string> paths, ImagePreprocessing spec,
                                                                       CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(paths);
        var batch = new float[checked(paths.Count * TensorLength(spec))];
        var results = LoadBatch(paths, spec, batch, cancellationToken);
        return (batch, results);
    }

    private static void CheckDestination(ImagePreprocessing spec, Span<float> destination)
    {
        int length = TensorLength(spec);
        if (destination.Length != length)
            throw new ArgumentException(
                $"The destination holds {destination.Length} floats but one {spec.Width}×{spec.Height}×{ChannelCount(spec)} image needs exactly {length}.",
                nameof(destination));
    }

    private static void Validate(ImagePreprocessing spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        if (spec.Width <= 0 || spec.Height <= 0)
            throw new TailorException($"The input size {spec.Width}×{spec.Height} is not valid: width and height must be at least 1.");
        if (!float.IsFinite(spec.Scale))
            throw new TailorException($"The input scale {spec.Scale} is not valid: it must be a finite number.");
        if (!Enum.IsDefined(spec.Channels) || !Enum.IsDefined(spec.Layout) || !Enum.IsDefined(spec.Resize) || !Enum.IsDefined(spec.Resampler))
            throw new TailorException(
                $"The preprocessing spec has an unknown value (channels {spec.Channels}, layout {spec.Layout}, resize {spec.Resize}, resampler {spec.Resampler}).");
    }

    private static Image<Rgb24> FlattenOverWhite(Image<Rgba32> source)
    {
        var result = new Image<Rgb24>(s_configuration, source.Width, source.Height);
        for (int y = 0; y < source.Height; y++)
        {
            var from = source.DangerousGetPixelRowMemory(y).Span;
            var to = result.DangerousGetPixelRowMemory(y).Span;
            for (int x = 0; x < from.Length; x++)
            {
                var p = from[x];
                int a = p.A, background = 255 * (255 - a);
                // Rounded integer blend; a = 255 gives the colour back exactly.
                to[x] = new Rgb24(
                    (byte)((p.R * a + background + 127) / 255),
                    (byte)((p.G * a + background + 127) / 255),
                    (byte)((p.B * a + background + 127) / 255));
            }
        }
        return result;
    }

    private static IResampler ToSampler(Resampler resampler) => resampler switch
    {
        Resampler.Bilinear => KnownResamplers.Triangle,
        Resampler.Bicubic => KnownResamplers.Bicubic,
        Resampler.NearestNeighbor => KnownResamplers.NearestNeighbor,
        _ => throw new TailorException($"Unknown resampler {resampler}; allowed: Bilinear, Bicubic, NearestNeighbor."),
    };

    /// <summary>Resizes (into a temporary image when needed) and writes the tensor.</summary>
    private static void WriteTensor(Image<Rgb24> image, ImagePreprocessing spec, Span<float> destination)
    {
        int width = spec.Width, height = spec.Height;
        var (scaledWidth, scaledHeight) = ScaledSize(image.Width, image.Height, spec);

        Image<Rgb24>? resized = null;
        try
        {
            var source = image;
            if (scaledWidth != image.Width || scaledHeight != image.Height)
            {
                var sampler = ToSampler(spec.Resampler);
                resized = image.Clone(x => x.Resize(scaledWidth, scaledHeight, sampler));
                source = resized;
            }

            // CenterCrop: the window of the scaled image that is kept. Pad: where the scaled image sits in
            // the (black) target. Stretch: both are zero.
            int cropX = Math.Max(0, (scaledWidth - width) / 2), cropY = Math.Max(0, (scaledHeight - height) / 2);
            int padX = Math.Max(0, (width - scaledWidth) / 2), padY = Math.Max(0, (height - scaledHeight) / 2);
            int copyWidth = Math.Min(width, scaledWidth), copyHeight = Math.Min(height, scaledHeight);

            if (padX > 0 || padY > 0)
                destination.Clear();
            WritePixels(source, spec, destination, cropX, cropY, padX, padY, copyWidth, copyHeight);
        }
        finally
        {
            resized?.Dispose();
        }
    }

    /// <summary>The size the image is resized to before cropping or padding.</summary>
    internal static (int Width, int Height) ScaledSize(int imageWidth, int imageHeight, ImagePreprocessing spec)
    {
        int width = spec.Width, height = spec.Height;
        switch (spec.Resize)
        {
            case ResizeMode.Stretch:
                return (width, height);
            case ResizeMode.CenterCrop:
            {
                // Shorter side to the target: the larger of the two ratios.
                double scale = Math.Max((double)width / imageWidth, (double)height / imageHeight);
                return (Math.Max(width, (int)Math.Round(imageWidth * scale)), Math.Max(height, (int)Math.Round(imageHeight * scale)));
            }
            case ResizeMode.Pad:
            {
                // Longer side to the target: the smaller of the two ratios.
                double scale = Math.Min((double)width / imageWidth, (double)height / imageHeight);
                return (Math.Clamp((int)Math.Round(imageWidth * scale), 1, width), Math.Clamp((int)Math.Round(imageHeight * scale), 1, height));
            }
            default:
                throw new TailorException($"Unknown resize mode {spec.Resize}; allowed: Stretch, CenterCrop, Pad.");
        }
    }

    private static void WritePixels(Image<Rgb24> source, ImagePreprocessing spec, Span<float> destination,
                                    int cropX, int cropY, int padX, int padY, int copyWidth, int copyHeight)
    {
        int width = spec.Width, height = spec.Height, plane = width * height;
        float scale = spec.Scale;
        bool bgr = spec.Channels == ChannelOrder.Bgr, gray = spec.Channels == ChannelOrder.Gray;
        bool nchw = spec.Layout == TensorLayout.Nchw;
        int channels = gray ? 1 : 3;

        for (int y = 0; y < copyHeight; y++)
        {
            var row = source.DangerousGetPixelRowMemory(cropY + y).Span.Slice(cropX, copyWidth);
            int outY = padY + y;
            for (int x = 0; x < row.Length; x++)
            {
                var p = row[x];
                int pixel = outY * width + padX + x;
                if (gray)
                {
                    destination[pixel] = (0.299f * p.R + 0.587f * p.G + 0.114f * p.B) * scale;
                    continue;
                }
                float first = bgr ? p.B : p.R, third = bgr ? p.R : p.B;
                if (nchw)
                {
                    destination[pixel] = first * scale;
                    destination[plane + pixel] = p.G * scale;
                    destination[2 * plane + pixel] = third * scale;
                }
                else
                {
                    int at = pixel * channels;
                    destination[at] = first * scale;
                    destination[at + 1] = p.G * scale;
                    destination[at + 2] = third * scale;
                }
            }
        }
    }
}
