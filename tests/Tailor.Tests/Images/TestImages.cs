using System.Buffers.Binary;
using System.IO.Compression;
using SkiaSharp;
using Tailor.Images;

namespace Tailor.Tests.Images;

/// <summary>
/// Image files for the tests, made in code. JPEG and WebP come from Skia's own encoders; PNG (any colour type and
/// bit depth — Skia cannot write 16-bit grey), BMP, GIF (Skia writes neither), TIFF and the EXIF block are written
/// here byte by byte, each a few lines of its file-format specification, so the decoder under test is never also
/// the only judge of its input. CMYK/YCCK JPEGs are in <see cref="FlatBlockJpeg"/>.
/// </summary>
internal static class TestImages
{
    // ---- Skia encoders ----

    /// <summary>A JPEG at <paramref name="quality"/>, chroma not subsampled by default (so flat colours survive).</summary>
    public static byte[] Jpeg(RgbImage image, int quality = 100, bool subsample = false) =>
        Encode(image, pixmap => pixmap.Encode(new SKJpegEncoderOptions(quality,
            subsample ? SKJpegEncoderDownsample.Downsample420 : SKJpegEncoderDownsample.Downsample444, SKJpegEncoderAlphaOption.Ignore)));

    /// <summary>A lossless WebP.</summary>
    public static byte[] WebpLossless(RgbImage image) =>
        Encode(image, pixmap => pixmap.Encode(new SKWebpEncoderOptions(SKWebpEncoderCompression.Lossless, 100)));

    private static byte[] Encode(RgbImage image, Func<SKPixmap, SKData?> encode)
    {
        using var bitmap = new SKBitmap(new SKImageInfo(image.Width, image.Height, SKColorType.Rgba8888, SKAlphaType.Opaque));
        var rgba = bitmap.GetPixelSpan();
        var rgb = image.Pixels;
        for (int i = 0, j = 0; i < rgb.Length; i += 3, j += 4)
        {
            rgba[j] = rgb[i];
            rgba[j + 1] = rgb[i + 1];
            rgba[j + 2] = rgb[i + 2];
            rgba[j + 3] = 255;
        }
        using var pixmap = bitmap.PeekPixels();
        using var data = encode(pixmap) ?? throw new InvalidOperationException("Skia could not encode the test image.");
        return data.ToArray();
    }

    /// <summary>The JPEG with an EXIF (APP1) block right after its start marker holding only the orientation tag.</summary>
    public static byte[] WithExifOrientation(byte[] jpeg, ushort orientation)
    {
        // "Exif\0\0", then a big-endian TIFF header and one IFD with one SHORT entry: tag 0x0112, count 1.
        var tiff = new byte[] { (byte)'M', (byte)'M', 0, 42, 0, 0, 0, 8, 0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1,
                                (byte)(orientation >> 8), (byte)orientation, 0, 0, 0, 0, 0, 0 };
        var app1 = new List<byte> { 0xFF, 0xE1, 0, 0 };
        app1.AddRange("Exif\0\0"u8.ToArray());
        app1.AddRange(tiff);
        int length = app1.Count - 2;
        app1[2] = (byte)(length >> 8);
        app1[3] = (byte)length;
        return [.. jpeg[..2], .. app1, .. jpeg[2..]];
    }

    // ---- PNG (ISO/IEC 15948) ----

    /// <summary>An 8-bit RGB PNG.</summary>
    public static byte[] Png(RgbImage image) => Png(image.Width, image.Height, colorType: 2, bitDepth: 8, image.Pixels.ToArray());

    /// <summary>A PNG whose header declares <paramref name="width"/>×<paramref name="height"/> 8-bit RGB pixels and whose
    /// data holds none: what a decompression bomb looks like to a reader that checks the header first.</summary>
    public static byte[] PngHeaderOnly(int width, int height) => Png(width, height, colorType: 2, bitDepth: 8, []);

    /// <summary>A PNG from raw samples (big-endian for 16 bits), row after row without filter bytes. Colour types:
    /// 0 grey, 2 RGB, 4 grey + alpha, 6 RGBA.</summary>
    public static byte[] Png(int width, int height, byte colorType, byte bitDepth, byte[] samples, bool truncateData = false)
    {
        int channels = colorType switch { 0 => 1, 2 => 3, 4 => 2, 6 => 4, _ => throw new ArgumentOutOfRangeException(nameof(colorType)) };
        int rowBytes = width * channels * bitDepth / 8;
        using var raw = new MemoryStream();
        using (var zlib = new ZLibStream(raw, CompressionLevel.Optimal, leaveOpen: true))
        {
            for (int y = 0; y < samples.Length / rowBytes; y++)
            {
                zlib.WriteByte(0); // filter: none
                zlib.Write(samples, y * rowBytes, rowBytes);
            }
        }
        byte[] data = raw.ToArray();
        if (truncateData) data = data[..(data.Length / 2)];

        var png = new MemoryStream();
        png.Write([0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A]);
        var header = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(header, width);
        BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(4), height);
        header[8] = bitDepth;
        header[9] = colorType;
        Chunk(png, "IHDR", header);
        Chunk(png, "IDAT", data);
        if (!truncateData) Chunk(png, "IEND", []);
        return png.ToArray();
    }

    private static void Chunk(Stream png, string type, byte[] data)
    {
        Span<byte> four = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(four, data.Length);
        png.Write(four);
        byte[] typed = [.. System.Text.Encoding.ASCII.GetBytes(type), .. data];
        png.Write(typed);
        BinaryPrimitives.WriteUInt32BigEndian(four, Crc32(typed));
        png.Write(four);
    }

    internal static uint Crc32(ReadOnlySpan<byte> bytes)
    {
        uint crc = 0xFFFFFFFF;
        foreach (byte b in bytes)
        {
            crc ^= b;
            for (int k = 0; k < 8; k++)
                crc = (crc & 1) != 0 ? 0xEDB88320 ^ (crc >> 1) : crc >> 1;
        }
        return ~crc;
    }

    // ---- BMP (Windows bitmap, BITMAPINFOHEADER, 24 bits, bottom-up) ----

    public static byte[] Bmp(RgbImage image)
    {
        int rowBytes = (image.Width * 3 + 3) & ~3, size = 54 + rowBytes * image.Height;
        var bmp = new byte[size];
        bmp[0] = (byte)'B';
        bmp[1] = (byte)'M';
        BinaryPrimitives.WriteInt32LittleEndian(bmp.AsSpan(2), size);
        BinaryPrimitives.WriteInt32LittleEndian(bmp.AsSpan(10), 54);
        BinaryPrimitives.WriteInt32LittleEndian(bmp.AsSpan(14), 40);
        BinaryPrimitives.WriteInt32LittleEndian(bmp.AsSpan(18), image.Width);
        BinaryPrimitives.WriteInt32LittleEndian(bmp.AsSpan(22), image.Height);
        BinaryPrimitives.WriteInt16LittleEndian(bmp.AsSpan(26), 1);
        BinaryPrimitives.WriteInt16LittleEndian(bmp.AsSpan(28), 24);
        BinaryPrimitives.WriteInt32LittleEndian(bmp.AsSpan(34), rowBytes * image.Height);
        for (int y = 0; y < image.Height; y++)
        {
            var row = bmp.AsSpan(54 + (image.Height - 1 - y) * rowBytes);
            for (int x = 0; x < image.Width; x++)
            {
                var p = image[x, y];
                row[3 * x] = p.B;
                row[3 * x + 1] = p.G;
                row[3 * x + 2] = p.R;
            }
        }
        return bmp;
    }

    // ---- GIF89a ----

    /// <summary>A GIF with one frame per image (all the same size), palette built from their colours (≤ 256).</summary>
    public static byte[] Gif(params RgbImage[] frames)
    {
        var palette = frames.SelectMany(f => Enumerable.Range(0, f.Width * f.Height).Select(i => f[i % f.Width, i / f.Width]))
            .Distinct().ToList();
        if (palette.Count > 256) throw new ArgumentException("A GIF holds at most 256 colours.");
        int width = frames[0].Width, height = frames[0].Height;
        var gif = new List<byte>();
        gif.AddRange("GIF89a"u8.ToArray());
        gif.AddRange([(byte)width, (byte)(width >> 8), (byte)height, (byte)(height >> 8), 0xF7, 0, 0]);   // 256-entry global table
        for (int i = 0; i < 256; i++)
        {
            var c = i < palette.Count ? palette[i] : default;
            gif.AddRange([c.R, c.G, c.B]);
        }
        foreach (var frame in frames)
        {
            gif.AddRange([0x21, 0xF9, 4, 0x04, 10, 0, 0, 0]);   // graphic control: dispose "do not", 0.1 s
            gif.AddRange([0x2C, 0, 0, 0, 0, (byte)width, (byte)(width >> 8), (byte)height, (byte)(height >> 8), 0]);
            gif.Add(8);                                           // LZW minimum code size
            var indices = Enumerable.Range(0, width * height).Select(i => (byte)palette.IndexOf(frame[i % width, i / width])).ToArray();
            var data = UncompressedLzw(indices);
            for (int at = 0; at < data.Length; at += 255)
            {
                int n = Math.Min(255, data.Length - at);
                gif.Add((byte)n);
                gif.AddRange(data.AsSpan(at, n).ToArray());
            }
            gif.Add(0);
        }
        gif.Add(0x3B);
        return gif.ToArray();
    }

    /// <summary>LZW codes that never use the dictionary: every index as a literal 9-bit code, with a clear code
    /// before each 254 of them so the code width never grows.</summary>
    private static byte[] UncompressedLzw(byte[] indices)
    {
        const int clear = 256, end = 257;
        var output = new List<byte>();
        int buffer = 0, bits = 0;
        void Emit(int code)
        {
            buffer |= code << bits;
            bits += 9;
            while (bits >= 8)
            {
                output.Add((byte)buffer);
                buffer >>= 8;
                bits -= 8;
            }
        }
        for (int i = 0; i < indices.Length; i++)
        {
            if (i % 254 == 0) Emit(clear);
            Emit(indices[i]);
        }
        Emit(end);
        if (bits > 0) output.Add((byte)buffer);
        return output.ToArray();
    }

    // ---- TIFF (baseline, little-endian): only enough for a reader to recognise it ----

    public static byte[] Tiff() => [(byte)'I', (byte)'I', 42, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0];
}
