using System.Security.Cryptography;
using SkiaSharp;
using Tailor.Images;
using Tailor.Spec;

namespace Tailor.Studio;

/// <summary>What an upload is, found from its bytes alone (never from its name): its format and the size its header declares.</summary>
internal sealed record ImageHeader(string Format, string ContentType, int Width, int Height);

/// <summary>Images stored by content hash: checks by content, header size limits before decoding, hashing, thumbnails.</summary>
internal static class ImageStore
{
    /// <summary>Reads at most <paramref name="cap"/> bytes; more is refused.</summary>
    public static byte[] ReadCapped(Stream content, long cap, string shownName)
    {
        using var buffer = new MemoryStream();
        var chunk = new byte[81920];
        while (true)
        {
            int n = content.Read(chunk, 0, chunk.Length);
            if (n == 0) break;
            if (buffer.Length + n > cap)
                throw new TailorException($"{shownName} is larger than {cap / (1 << 20)} MiB, the most one image may be (Workspace.MaxUploadBytes).");
            buffer.Write(chunk, 0, n);
        }
        if (buffer.Length == 0) throw new TailorException($"{shownName} is empty (0 bytes), not an image.");
        return buffer.ToArray();
    }

    /// <summary>The format by magic bytes; null when the bytes are none of the formats Tailor reads.</summary>
    public static (string Format, string ContentType)? Sniff(ReadOnlySpan<byte> head)
    {
        if (head.StartsWith((ReadOnlySpan<byte>)[0xFF, 0xD8, 0xFF])) return ("jpeg", "image/jpeg");
        if (head.StartsWith((ReadOnlySpan<byte>)[0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A])) return ("png", "image/png");
        if (head.StartsWith("GIF87a"u8) || head.StartsWith("GIF89a"u8)) return ("gif", "image/gif");
        if (head.StartsWith("BM"u8) && head.Length >= 26) return ("bmp", "image/bmp");
        if (head.Length >= 12 && head.StartsWith("RIFF"u8) && head[8..12].SequenceEqual("WEBP"u8)) return ("webp", "image/webp");
        return null;
    }

    public static string ContentTypeOf(string format) => format switch
    {
        "jpeg" => "image/jpeg", "png" => "image/png", "gif" => "image/gif", "bmp" => "image/bmp", "webp" => "image/webp",
        _ => "application/octet-stream",
    };

    /// <summary>Checks the content and reads the header's size; refuses what is not an image Tailor reads and what declares
    /// too many pixels, without decoding any pixel. Returns null sizes (0 × 0) when the header itself is unreadable (the
    /// image is then stored as corrupt).</summary>
    public static unsafe ImageHeader ReadHeader(ReadOnlySpan<byte> bytes, string shownName)
    {
        var sniffed = Sniff(bytes[..Math.Min(bytes.Length, 32)])
            ?? throw new TailorException($"{shownName} is not an image Tailor reads ({ImageLoader.SupportedFormats}): its content is none of these formats, whatever its name says.");
        fixed (byte* p = bytes)
        {
            // SKCodec.Create reads the header only; GetPixels (never called here) decodes.
            using var data = SKData.CreateCopy((nint)p, bytes.Length);
            using var codec = SKCodec.Create(data);
            if (codec is null) return new ImageHeader(sniffed.Format, sniffed.ContentType, 0, 0);
            int width = codec.Info.Width, height = codec.Info.Height;
            CheckSize(width, height, shownName);
            return new ImageHeader(sniffed.Format, sniffed.ContentType, width, height);
        }
    }

    /// <summary>The limits of <see cref="ImageLoader"/>, applied to a declared size.</summary>
    public static void CheckSize(int width, int height, string shownName)
    {
        if (width > ImageLoader.MaxSide || height > ImageLoader.MaxSide || (long)width * height > ImageLoader.MaxPixels)
            throw new TailorException(
                $"{shownName} declares {width}×{height} pixels ({(long)width * height / 1e6:0.#} megapixels); images may have up to " +
                $"{ImageLoader.MaxSide} pixels a side and {ImageLoader.MaxPixels / 1_000_000} megapixels (ImageLoader.MaxPixels). It was not decoded.");
        if (Math.Max(width, height) > (long)ImageLoader.MaxAspectRatio * Math.Max(1, Math.Min(width, height)))
            throw new TailorException(
                $"{shownName} is {width}×{height} pixels, more than {ImageLoader.MaxAspectRatio}:1; images may be at most {ImageLoader.MaxAspectRatio} times as long as they are wide.");
    }

    public static string Hash(byte[] bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));

    /// <summary>images/ab/&lt;hash&gt; (relative).</summary>
    public static string ImagePath(string hash) => Path.Combine("images", hash[..2], hash);

    /// <summary>thumbs/ab/&lt;hash&gt;.jpg (relative).</summary>
    public static string ThumbPath(string hash) => Path.Combine("thumbs", hash[..2], hash + ".jpg");

    /// <summary>Writes a thumbnail of the image at <paramref name="imagePath"/>: upright, at most <paramref name="side"/> pixels a
    /// side, JPEG. Throws <see cref="TailorException"/> when the image does not decode.</summary>
    public static void WriteThumbnail(string imagePath, string thumbPath, int side)
    {
        // Decoded only as large as needed: the loader's working size for a side×side box is 2 × side… halve the box.
        using var image = ImageLoader.Load(imagePath, new ImagePreprocessing { Width = Math.Max(1, side / 2), Height = Math.Max(1, side / 2), Resize = ResizeMode.Pad });
        double scale = Math.Min(1.0, (double)side / Math.Max(image.Width, image.Height));
        int w = Math.Max(1, (int)Math.Round(image.Width * scale)), h = Math.Max(1, (int)Math.Round(image.Height * scale));
        using var small = w == image.Width && h == image.Height ? image.Clone() : ImageResizer.Resize(image, w, h, Resampler.Bilinear);
        using var bitmap = new SKBitmap(new SKImageInfo(w, h, SKColorType.Rgba8888, SKAlphaType.Opaque));
        var pixels = new byte[w * h * 4];
        var rgb = small.Pixels;
        for (int i = 0, j = 0; i < w * h; i++, j += 3)
        {
            pixels[4 * i] = rgb[j];
            pixels[4 * i + 1] = rgb[j + 1];
            pixels[4 * i + 2] = rgb[j + 2];
            pixels[4 * i + 3] = 255;
        }
        System.Runtime.InteropServices.Marshal.Copy(pixels, 0, bitmap.GetPixels(), pixels.Length);
        using var encoded = bitmap.Encode(SKEncodedImageFormat.Jpeg, 82)
            ?? throw new TailorException("The thumbnail could not be encoded as JPEG.");
        Directory.CreateDirectory(Path.GetDirectoryName(thumbPath)!);
        AtomicFile.Write(thumbPath, s => encoded.SaveTo(s));
    }

    /// <summary>A grey placeholder shown for an image that does not decode.</summary>
    public static readonly byte[] CorruptThumbnail = System.Text.Encoding.UTF8.GetBytes(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"256\" height=\"256\" viewBox=\"0 0 256 256\">" +
        "<rect width=\"256\" height=\"256\" fill=\"#ddd\"/><path d=\"M64 64L192 192M192 64L64 192\" stroke=\"#a00\" stroke-width=\"16\"/></svg>");
}
