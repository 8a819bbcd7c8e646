using System.Buffers;
using SkiaSharp;
using Tailor.Spec;
using ResizeMode = Tailor.Spec.ResizeMode;

namespace Tailor.Images;

/// <summary>Turns image files into model input tensors, as an <see cref="ImagePreprocessing"/> describes.</summary>
/// <remarks>
/// <para>Every file goes through the same steps: decode with Skia (JPEG, PNG, BMP, GIF — first frame only —,
/// WebP — first frame of an animation), apply the EXIF orientation, convert to 8-bit RGB, resize as
/// <see cref="ImagePreprocessing.Resize"/> says, and write each channel value (0..255) times
/// <see cref="ImagePreprocessing.Scale"/> into the destination. TIFF, HEIC and AVIF are refused with a message
/// naming the file and the supported formats (Skia has no TIFF decoder; convert such files to PNG or JPEG).</para>
/// <para>Size: an image is decoded only as large as it is needed. To write a tensor
/// (<see cref="LoadInto(string, ImagePreprocessing, Span{float})"/>, <see cref="LoadBatch(IReadOnlyList{string}, ImagePreprocessing, Memory{float}, CancellationToken)"/>)
/// it is decoded at no less than the model's input (the shorter side for <see cref="ResizeMode.Stretch"/> and
/// <see cref="ResizeMode.CenterCrop"/>, the longer for <see cref="ResizeMode.Pad"/>); to be augmented
/// (<see cref="Load(string, ImagePreprocessing)"/>) at no less than its <b>working size</b>,
/// <see cref="WorkingSizeFactor"/> times that, so crops and rotations still have the input's detail. Never larger
/// than the image. JPEGs are decoded at 1/8, 2/8 … 8/8 of their size inside libjpeg-turbo (a 12-megapixel photo for
/// a 224×224 model: 504×378 for a tensor, 1008×756 to augment), WebP at any scale; other formats at full size. The
/// final resize to the input is a filter over all covered pixels (see <see cref="Resampler"/>), so the
/// decoder's reduction saves time and changes the tensor by a fraction of a level. Images whose header declares
/// more than <see cref="MaxPixels"/> pixels, a side above <see cref="MaxSide"/> or a shape beyond <see cref="MaxAspectRatio"/>:1
/// are refused before decoding.</para>
/// <para>Conversions: grayscale becomes R = G = B; 16-bit channels are rounded to 8 bits; CMYK and YCCK JPEGs
/// are converted as Adobe writes them (inverted ink, RGB = C·K/255, …), without ICC colour management (no image
/// is colour-managed: the tensor holds the file's own RGB values, as the training photos' did); transparent
/// pixels are composited over <b>white</b> (<c>out = (c·a + 255·(255 − a)) / 255</c>), which is how viewers and
/// browsers usually show them, so a black logo on a transparent background stays a black logo on white.
/// <see cref="ResizeMode.Pad"/> pads with black (zeros in the tensor).</para>
/// <para>For <see cref="ChannelOrder.Gray"/> the single channel is the BT.601 luma
/// <c>0.299 R + 0.587 G + 0.114 B</c> (what PIL and OpenCV use).</para>
/// </remarks>
public static class ImageLoader
{
    /// <summary>The formats Tailor reads, as error messages name them.</summary>
    public const string SupportedFormats = "JPEG, PNG, BMP, GIF, WebP";

    /// <summary>The working size is this many times the model's input side (see the class remarks): enough for
    /// augmentation's crops and rotations to keep full detail at the input, small enough that a 12-megapixel
    /// photo costs a few milliseconds per augmented variant.</summary>
    public const int WorkingSizeFactor = 2;

    /// <summary>Images whose header declares more pixels than this (100 megapixels) are refused before decoding.</summary>
    public const long MaxPixels = 100_000_000;

    /// <summary>Images whose header declares a side longer than this are refused before decoding.</summary>
    public const int MaxSide = 30_000;

    /// <summary>Images whose header declares a longer side more than this many times the shorter (100:1) are refused
    /// before decoding: no photo is that shape, and scaling such a sliver to cover a model's input would make an
    /// intermediate image of gigabytes (a 24,000×16 image center-cropped to 3×401 is first scaled to 600,000×401).</summary>
    public const int MaxAspectRatio = 100;

    private static readonly HashSet<SKEncodedImageFormat> s_formats =
        [SKEncodedImageFormat.Jpeg, SKEncodedImageFormat.Png, SKEncodedImageFormat.Bmp, SKEncodedImageFormat.Gif, SKEncodedImageFormat.Webp];

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

    /// <summary>Decodes a file at full size into an upright 8-bit RGB image: EXIF orientation applied, grayscale,
    /// 16-bit, CMYK converted, alpha composited over white. The caller disposes it. To feed a model, prefer
    /// <see cref="Load(string, ImagePreprocessing)"/>, which decodes only as large as the model needs.</summary>
    /// <exception cref="TailorException">The file is missing, empty, unreadable, too large, or not an image in a
    /// supported format (<see cref="SupportedFormats"/>); the message names the file and says which.</exception>
    public static RgbImage Load(string path) => Decode(path, null, 1);

    /// <summary>Decodes a file for augmentation: at the smallest size the decoder offers that still covers the
    /// working size for <paramref name="spec"/> (see the class remarks); otherwise as <see cref="Load(string)"/>.
    /// Bring it to the working size with a filter before transforming it (formats without scaled decoding arrive
    /// at full size).</summary>
    /// <exception cref="TailorException">As <see cref="Load(string)"/>, or the spec is not valid.</exception>
    public static RgbImage Load(string path, ImagePreprocessing spec)
    {
        Validate(spec);
        return Decode(path, spec, WorkingSizeFactor);
    }

    /// <summary>Decodes a file at the smallest size the decoder offers that covers <paramref name="factor"/> times
    /// the input of <paramref name="spec"/>.</summary>
    internal static RgbImage Load(string path, ImagePreprocessing spec, double factor)
    {
        Validate(spec);
        return Decode(path, spec, factor);
    }

    /// <summary>The working size of a <paramref name="width"/> × <paramref name="height"/> image for
    /// <paramref name="spec"/>: scaled by <see cref="WorkingSizeFactor"/> × the resize mode's scale, never up.</summary>
    internal static (int Width, int Height) WorkingSize(int width, int height, ImagePreprocessing spec)
    {
        double scale = CoverScale(width, height, spec, WorkingSizeFactor);
        return scale >= 1 ? (width, height)
            : (Math.Max(1, (int)Math.Ceiling(width * scale - 1e-9)), Math.Max(1, (int)Math.Ceiling(height * scale - 1e-9)));
    }

    /// <summary>The scale at which the image covers <paramref name="factor"/> × the input, at most 1.</summary>
    private static double CoverScale(int width, int height, ImagePreprocessing spec, double factor)
    {
        double wide = (double)spec.Width / width, high = (double)spec.Height / height;
        double toInput = spec.Resize == ResizeMode.Pad ? Math.Min(wide, high) : Math.Max(wide, high);
        return Math.Min(1, factor * toInput);
    }

    /// <summary>An image at the working size for <paramref name="spec"/>: <paramref name="image"/> itself when it
    /// is not larger, otherwise a bilinear (triangle-filtered) reduction the caller disposes.</summary>
    internal static RgbImage ToWorkingSize(RgbImage image, ImagePreprocessing spec)
    {
        var (width, height) = WorkingSize(image.Width, image.Height, spec);
        return width >= image.Width && height >= image.Height ? image : ImageResizer.Resize(image, width, height, Resampler.Bilinear);
    }

    private static unsafe RgbImage Decode(string path, ImagePreprocessing? spec, double factor)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (Directory.Exists(path))
            throw new TailorException($"'{Shown.Path(path)}' is a folder, not an image file.");
        // Before opening: opening a named pipe waits for a writer, for ever.
        RegularFile.Check(path, "an image file");
        // Also before opening, for systems where the kind is not told: pipes and devices report 0 bytes.
        if (File.Exists(path) && new FileInfo(path).Length == 0)
            throw new TailorException($"'{Shown.Path(path)}' is empty (0 bytes), not an image.");

        FileStream stream;
        try
        {
            stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1 << 16);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new TailorException($"'{Shown.Path(path)}' does not exist.", e);
        }
        catch (UnauthorizedAccessException e)
        {
            throw new TailorException($"'{Shown.Path(path)}' cannot be read: access denied.", e);
        }
        catch (IOException e)
        {
            throw new TailorException($"'{Shown.Path(path)}' cannot be read: {e.Message}", e);
        }

        using (stream)
        {
            try
            {
                if (stream.Length == 0)
                    throw new TailorException($"'{Shown.Path(path)}' is empty (0 bytes), not an image.");
                Span<byte> head = stackalloc byte[16];
                int headLength = stream.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
                head = head[..headLength];
                if (UnsupportedFormat(head) is { } format)
                    throw new TailorException(
                        $"'{Shown.Path(path)}' is a {format} image, which Tailor cannot read; supported formats: {SupportedFormats}. Convert it to PNG or JPEG.");
                if (stream.Length > int.MaxValue)
                    throw new TailorException(
                        $"'{Shown.Path(path)}' is {stream.Length / (1 << 20)} MiB; Tailor reads image files up to 2 GiB (and {MaxPixels / 1_000_000} megapixels).");

                // The codec reads from native memory holding the whole file, never through a managed stream: a damaged
                // file can make a decoder ask that stream for an absurd number of bytes, and the ArgumentOutOfRangeException
                // SkiaSharp's stream wrapper then throws inside a native callback ends the process (found by fuzzing).
                using var data = SKData.Create(stream.Length)
                    ?? throw new TailorException($"'{Shown.Path(path)}' cannot be read: no memory for its {stream.Length} bytes.");
                stream.Position = 0;
                stream.ReadExactly(new Span<byte>((void*)data.Data, (int)stream.Length));
                return DecodeData(path, data, spec, factor);
            }
            catch (IOException e)
            {
                throw new TailorException($"'{Shown.Path(path)}' cannot be read: {e.Message}", e);
            }
        }
    }

    /// <summary>Decodes an image held in memory, as <see cref="Decode(string, ImagePreprocessing?, double)"/> does a file;
    /// <paramref name="name"/> names it in messages.</summary>
    private static unsafe RgbImage Decode(ReadOnlySpan<byte> content, string name, ImagePreprocessing? spec, double factor)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (content.IsEmpty)
            throw new TailorException($"'{Shown.Path(name)}' is empty (0 bytes), not an image.");
        if (UnsupportedFormat(content[..Math.Min(content.Length, 16)]) is { } format)
            throw new TailorException(
                $"'{Shown.Path(name)}' is a {format} image, which Tailor cannot read; supported formats: {SupportedFormats}. Convert it to PNG or JPEG.");
        // A copy in native memory, for the reason Decode(path) gives.
        fixed (byte* bytes = content)
        {
            using var data = SKData.CreateCopy((nint)bytes, (ulong)content.Length)
                ?? throw new TailorException($"'{Shown.Path(name)}' cannot be read: no memory for its {content.Length} bytes.");
            return DecodeData(name, data, spec, factor);
        }
    }

    /// <summary>Decodes the encoded image in <paramref name="data"/> (the whole file); <paramref name="path"/> names it in messages.</summary>
    private static RgbImage DecodeData(string path, SKData data, ImagePreprocessing? spec, double factor)
    {
        // The codec owns the memory stream (SkiaSharp hands it over), and the stream holds a reference to the data.
        using var codec = SKCodec.Create(new SKMemoryStream(data), out var created);
        if (codec is null)
            throw created is SKCodecResult.IncompleteInput or SKCodecResult.ErrorInInput or SKCodecResult.InvalidInput
                ? Damaged(path, Describe(created))
                : new TailorException($"'{Shown.Path(path)}' is not an image Tailor can read ({SupportedFormats}): its content is not in any of these formats.");
        if (!s_formats.Contains(codec.EncodedFormat))
            throw new TailorException(
                $"'{Shown.Path(path)}' is a {codec.EncodedFormat} image, which Tailor does not read; supported formats: {SupportedFormats}.");
        return DecodePixels(path, codec, spec, factor);
    }

    private static TailorException Damaged(string path, string detail, Exception? inner = null)
    {
        string message = $"'{Shown.Path(path)}' is not an image Tailor can read ({SupportedFormats}): it looks damaged or truncated ({detail}).";
        return inner is null ? new TailorException(message) : new TailorException(message, inner);
    }

    private static string Describe(SKCodecResult result) => result switch
    {
        SKCodecResult.IncompleteInput => "the data ends early",
        SKCodecResult.ErrorInInput => "the data is corrupt",
        SKCodecResult.InvalidInput => "the header is invalid",
        _ => $"the decoder answered {result}",
    };

    /// <summary>Names formats recognized by their first bytes that Skia cannot decode, so the message can say so.</summary>
    private static string? UnsupportedFormat(ReadOnlySpan<byte> head)
    {
        if (head.StartsWith("II*\0"u8) || head.StartsWith("MM\0*"u8)) return "TIFF";
        if (head.Length >= 12 && head[4..8].SequenceEqual("ftyp"u8))
        {
            var brand = head[8..12];
            if (brand.SequenceEqual("avif"u8) || brand.SequenceEqual("avis"u8)) return "AVIF";
            if (brand.SequenceEqual("heic"u8) || brand.SequenceEqual("heix"u8) || brand.SequenceEqual("mif1"u8)
                || brand.SequenceEqual("msf1"u8) || brand.SequenceEqual("hevc"u8)) return "HEIC";
        }
        return null;
    }

    private static unsafe RgbImage DecodePixels(string path, SKCodec codec, ImagePreprocessing? spec, double factor)
    {
        var size = codec.Info.Size;
        int width = size.Width, height = size.Height;
        if (width > MaxSide || height > MaxSide || (long)width * height > MaxPixels)
            throw new TailorException(
                $"'{Shown.Path(path)}' is {width}×{height} pixels ({(long)width * height / 1e6:0.#} megapixels); Tailor reads images up to " +
                $"{MaxSide} pixels a side and {MaxPixels / 1_000_000} megapixels.");
        if (Math.Max(width, height) > (long)MaxAspectRatio * Math.Min(width, height))
            throw new TailorException(
                $"'{Shown.Path(path)}' is {width}×{height} pixels, more than {MaxAspectRatio}:1; Tailor reads images up to {MaxAspectRatio} times " +
                "as long as they are wide (or wide as they are long).");

        var origin = codec.EncodedOrigin;
        bool transposed = origin is SKEncodedOrigin.LeftTop or SKEncodedOrigin.RightTop or SKEncodedOrigin.RightBottom or SKEncodedOrigin.LeftBottom;
        if (spec is not null)
        {
            // The scale is the same in both orientations, so it is computed upright and applied to the stored size.
            double scale = transposed ? CoverScale(height, width, spec, factor) : CoverScale(width, height, spec, factor);
            var decoded = ScaledSize(codec, width, height, scale);
            (width, height) = (decoded.Width, decoded.Height);
        }

        var info = new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        int length = checked(width * height * 4);
        byte[] rgba = ArrayPool<byte>.Shared.Rent(length);
        try
        {
            SKCodecResult result;
            fixed (byte* pixels = rgba)
            {
                try
                {
                    result = codec.GetPixels(info, (nint)pixels);
                }
                catch (Exception e) when (e is not (OutOfMemoryException or IOException))
                {
                    throw Damaged(path, e.Message, e);
                }
            }
            if (result != SKCodecResult.Success)
                throw Damaged(path, Describe(result));
            return Orient(rgba.AsSpan(0, length), width, height, origin);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rgba);
        }
    }

    /// <summary>The smallest size the codec decodes to directly that covers <paramref name="scale"/> of the image.</summary>
    private static SKSizeI ScaledSize(SKCodec codec, int width, int height, double scale)
    {
        var full = new SKSizeI(width, height);
        if (scale >= 1) return full;
        int needWidth = (int)Math.Ceiling(width * scale - 1e-9), needHeight = (int)Math.Ceiling(height * scale - 1e-9);
        // libjpeg-turbo scales by k/8; other codecs answer with the full size (or, WebP, with any size).
        foreach (float k in (ReadOnlySpan<float>)[1 / 8f, 2 / 8f, 3 / 8f, 4 / 8f, 5 / 8f, 6 / 8f, 7 / 8f])
        {
            if (k < scale - 1e-6) continue;
            var candidate = codec.GetScaledDimensions(k);
            if (candidate.Width >= needWidth && candidate.Height >= needHeight && (long)candidate.Width * candidate.Height < (long)width * height)
                return candidate;
        }
        return full;
    }

    /// <summary>Applies the EXIF orientation while converting RGBA (unpremultiplied) to RGB over white.</summary>
    private static RgbImage Orient(ReadOnlySpan<byte> rgba, int width, int height, SKEncodedOrigin origin)
    {
        bool transposed = origin is SKEncodedOrigin.LeftTop or SKEncodedOrigin.RightTop or SKEncodedOrigin.RightBottom or SKEncodedOrigin.LeftBottom;
        int outWidth = transposed ? height : width, outHeight = transposed ? width : height;
        // Stored pixel (x, y) goes to output pixel index base + x·stepX + y·stepY (EXIF 2.32, tag 0x0112).
        var (first, stepX, stepY) = origin switch
        {
            SKEncodedOrigin.TopRight => (width - 1, -1, outWidth),                                  // 2: mirrored
            SKEncodedOrigin.BottomRight => ((height - 1) * outWidth + width - 1, -1, -outWidth),    // 3: 180°
            SKEncodedOrigin.BottomLeft => ((height - 1) * outWidth, 1, -outWidth),                  // 4: flipped
            SKEncodedOrigin.LeftTop => (0, outWidth, 1),                                            // 5: transposed
            SKEncodedOrigin.RightTop => (height - 1, outWidth, -1),                                 // 6: 90° clockwise
            SKEncodedOrigin.RightBottom => ((width - 1) * outWidth + height - 1, -outWidth, -1),    // 7: transverse
            SKEncodedOrigin.LeftBottom => ((width - 1) * outWidth, -outWidth, 1),                   // 8: 90° anticlockwise
            _ => (0, 1, outWidth),                                                                  // 1: as stored
        };
        var image = new RgbImage(outWidth, outHeight);
        var output = image.Pixels;
        for (int y = 0; y < height; y++)
        {
            var row = rgba.Slice(y * width * 4, width * 4);
            int at = first + y * stepY;
            for (int x = 0; x < width; x++, at += stepX)
            {
                int r = row[4 * x], g = row[4 * x + 1], b = row[4 * x + 2], a = row[4 * x + 3];
                if (a != 255)
                {
                    // Rounded integer blend over white.
                    int background = 255 * (255 - a);
                    r = (r * a + background + 127) / 255;
                    g = (g * a + background + 127) / 255;
                    b = (b * a + background + 127) / 255;
                }
                output[3 * at] = (byte)r;
                output[3 * at + 1] = (byte)g;
                output[3 * at + 2] = (byte)b;
            }
        }
        return image;
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
        using var image = Decode(path, spec, 1);
        WriteTensor(image, spec, destination);
    }

    /// <summary>Decodes an image held in memory — an upload, a webcam frame — and writes it into
    /// <paramref name="destination"/> exactly as <see cref="LoadInto(string, ImagePreprocessing, Span{float})"/> does a
    /// file with the same bytes (the same checks, the same tensor), without writing it anywhere.</summary>
    /// <param name="content">The encoded image: the whole file's bytes.</param>
    /// <param name="name">How messages name the image (a file name, "the uploaded image").</param>
    /// <param name="spec">Size, channel order, layout, resize mode, resampler and scale of the tensor.</param>
    /// <param name="destination">Exactly <see cref="TensorLength"/> floats: one image, no batch stride.</param>
    /// <exception cref="TailorException">The bytes are empty, not an image in a supported format
    /// (<see cref="SupportedFormats"/>), damaged, or declare too many pixels (the message names <paramref name="name"/>);
    /// or the spec is not valid.</exception>
    /// <exception cref="ArgumentException"><paramref name="destination"/> has the wrong length.</exception>
    public static void LoadInto(ReadOnlySpan<byte> content, string name, ImagePreprocessing spec, Span<float> destination)
    {
        CheckDestination(spec, destination);
        using var image = Decode(content, name, spec, 1);
        WriteTensor(image, spec, destination);
    }

    /// <summary>Writes an already decoded image (for instance one produced by the <see cref="Augmenter"/>)
    /// into <paramref name="destination"/>. The image is resized as the spec says; it is not modified.</summary>
    /// <exception cref="TailorException">The spec is not valid.</exception>
    /// <exception cref="ArgumentException"><paramref name="destination"/> has the wrong length.</exception>
    public static void LoadInto(RgbImage image, ImagePreprocessing spec, Span<float> destination)
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
                using var image = Decode(paths[i], spec, 1);
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

    /// <summary>Resizes (into a temporary image when needed) and writes the tensor.</summary>
    private static void WriteTensor(RgbImage image, ImagePreprocessing spec, Span<float> destination)
    {
        int width = spec.Width, height = spec.Height;
        var (scaledWidth, scaledHeight) = ScaledSize(image.Width, image.Height, spec);

        RgbImage? resized = null;
        try
        {
            var source = image;
            if (scaledWidth != image.Width || scaledHeight != image.Height)
            {
                resized = ImageResizer.Resize(image, scaledWidth, scaledHeight, spec.Resampler);
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

    private static void WritePixels(RgbImage source, ImagePreprocessing spec, Span<float> destination,
                                    int cropX, int cropY, int padX, int padY, int copyWidth, int copyHeight)
    {
        int width = spec.Width, height = spec.Height, plane = width * height;
        float scale = spec.Scale;
        bool bgr = spec.Channels == ChannelOrder.Bgr, gray = spec.Channels == ChannelOrder.Gray;
        bool nchw = spec.Layout == TensorLayout.Nchw;
        int channels = gray ? 1 : 3;

        for (int y = 0; y < copyHeight; y++)
        {
            var row = source.Row(cropY + y).Slice(3 * cropX, 3 * copyWidth);
            int outY = padY + y;
            for (int x = 0; x < copyWidth; x++)
            {
                byte r = row[3 * x], g = row[3 * x + 1], b = row[3 * x + 2];
                int pixel = outY * width + padX + x;
                if (gray)
                {
                    destination[pixel] = (0.299f * r + 0.587f * g + 0.114f * b) * scale;
                    continue;
                }
                float first = bgr ? b : r, third = bgr ? r : b;
                if (nchw)
                {
                    destination[pixel] = first * scale;
                    destination[plane + pixel] = g * scale;
                    destination[2 * plane + pixel] = third * scale;
                }
                else
                {
                    int at = pixel * channels;
                    destination[at] = first * scale;
                    destination[at + 1] = g * scale;
                    destination[at + 2] = third * scale;
                }
            }
        }
    }
}
