using System.Buffers;

namespace Tailor.Images;

/// <summary>One 8-bit RGB pixel.</summary>
public readonly record struct Rgb24(byte R, byte G, byte B);

/// <summary>A decoded, upright 8-bit RGB image: <see cref="Width"/> × <see cref="Height"/> pixels stored row by
/// row, three bytes (R, G, B) per pixel, no padding. Its buffer is rented from <see cref="ArrayPool{T}.Shared"/>
/// (a photo at working size is about a megabyte, and training decodes one per example per epoch of feature
/// extraction), so dispose it when done; it must not be used after.</summary>
public sealed class RgbImage : IDisposable
{
    private byte[]? _buffer;

    /// <summary>A black image.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A side is below 1, or the image would exceed 2 GB.</exception>
    public RgbImage(int width, int height)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(height, 1);
        long length = 3L * width * height;
        ArgumentOutOfRangeException.ThrowIfGreaterThan(length, Array.MaxLength, "width × height × 3");
        Width = width;
        Height = height;
        _buffer = ArrayPool<byte>.Shared.Rent((int)length);
        Pixels.Clear();
    }

    /// <summary>An image filled with <paramref name="color"/>.</summary>
    public RgbImage(int width, int height, Rgb24 color) : this(width, height)
    {
        var pixels = Pixels;
        for (int i = 0; i < pixels.Length; i += 3)
        {
            pixels[i] = color.R;
            pixels[i + 1] = color.G;
            pixels[i + 2] = color.B;
        }
    }

    /// <summary>Width in pixels.</summary>
    public int Width { get; }

    /// <summary>Height in pixels.</summary>
    public int Height { get; }

    /// <summary>All pixels, row after row, R G B bytes: <c>3 × Width × Height</c> bytes.</summary>
    /// <exception cref="ObjectDisposedException">The image was disposed.</exception>
    public Span<byte> Pixels => Buffer.AsSpan(0, 3 * Width * Height);

    /// <summary>Row <paramref name="y"/>: <c>3 × Width</c> bytes.</summary>
    public Span<byte> Row(int y) => Buffer.AsSpan(3 * Width * y, 3 * Width);

    /// <summary>The pixel at column <paramref name="x"/>, row <paramref name="y"/> (0, 0 is the top left).</summary>
    public Rgb24 this[int x, int y]
    {
        get
        {
            CheckBounds(x, y);
            int at = 3 * (y * Width + x);
            var b = Buffer;
            return new Rgb24(b[at], b[at + 1], b[at + 2]);
        }
        set
        {
            CheckBounds(x, y);
            int at = 3 * (y * Width + x);
            var b = Buffer;
            b[at] = value.R;
            b[at + 1] = value.G;
            b[at + 2] = value.B;
        }
    }

    /// <summary>A copy with its own buffer.</summary>
    public RgbImage Clone()
    {
        var copy = new RgbImage(Width, Height);
        Pixels.CopyTo(copy.Pixels);
        return copy;
    }

    /// <summary>Returns the buffer to the pool.</summary>
    public void Dispose()
    {
        var buffer = _buffer;
        _buffer = null;
        if (buffer is not null)
            ArrayPool<byte>.Shared.Return(buffer);
    }

    private byte[] Buffer => _buffer ?? throw new ObjectDisposedException(nameof(RgbImage));

    private void CheckBounds(int x, int y)
    {
        if ((uint)x >= (uint)Width || (uint)y >= (uint)Height)
            throw new ArgumentOutOfRangeException(nameof(x), $"Pixel ({x}, {y}) is outside the {Width}×{Height} image.");
    }
}
