namespace Tailor.Tests.Training;

/// <summary>
/// Pictures of a new class for "add a label" tests: a filled five-pointed star of random colour, size,
/// position and rotation on a random two-tone background with noise, 224×224, written as 24-bit BMP by hand
/// (a format every decoder Tailor uses reads, so the test does not depend on an encoder). Nothing like a hand:
/// the old labels' photos must not be confused with it, and it must not be confused with them.
/// </summary>
internal static class StarImages
{
    public const int Size = 224;

    /// <summary>Writes <paramref name="count"/> star pictures into <paramref name="folder"/> (created), drawn
    /// from <paramref name="seed"/>; returns their paths.</summary>
    public static IReadOnlyList<string> Write(string folder, int count, int seed)
    {
        Directory.CreateDirectory(folder);
        var random = new Random(seed);
        var paths = new List<string>();
        for (int i = 0; i < count; i++)
        {
            string path = Path.Combine(folder, $"star-{seed}-{i:D2}.bmp");
            File.WriteAllBytes(path, Bmp(Draw(random)));
            paths.Add(path);
        }
        return paths;
    }

    private static byte[,,] Draw(Random random)
    {
        var pixels = new byte[Size, Size, 3];
        byte[] C() => [(byte)random.Next(256), (byte)random.Next(256), (byte)random.Next(256)];
        byte[] top = C(), bottom = C();
        // A bright, saturated star: yellow to orange, or a random hue, always far from the background.
        byte[] star = random.Next(2) == 0 ? [255, (byte)random.Next(160, 240), (byte)random.Next(0, 60)] : C();
        double cx = random.Next(70, 154), cy = random.Next(70, 154), outer = random.Next(45, 75), inner = outer * 0.42;
        double turn = random.NextDouble() * Math.PI * 2;
        var vertices = new (double X, double Y)[10];
        for (int k = 0; k < 10; k++)
        {
            double angle = turn + k * Math.PI / 5, r = k % 2 == 0 ? outer : inner;
            vertices[k] = (cx + r * Math.Cos(angle), cy + r * Math.Sin(angle));
        }
        for (int y = 0; y < Size; y++)
            for (int x = 0; x < Size; x++)
            {
                byte[] colour = Inside(vertices, x + 0.5, y + 0.5) ? star : y < Size / 2 ? top : bottom;
                for (int c = 0; c < 3; c++)
                    pixels[y, x, c] = (byte)Math.Clamp(colour[c] + random.Next(-12, 13), 0, 255);
            }
        return pixels;
    }

    /// <summary>Even-odd rule point-in-polygon.</summary>
    private static bool Inside((double X, double Y)[] polygon, double x, double y)
    {
        bool inside = false;
        for (int i = 0, j = polygon.Length - 1; i < polygon.Length; j = i++)
        {
            var (xi, yi) = polygon[i];
            var (xj, yj) = polygon[j];
            if ((yi > y) != (yj > y) && x < (xj - xi) * (y - yi) / (yj - yi) + xi) inside = !inside;
        }
        return inside;
    }

    /// <summary>A bottom-up 24-bit BMP (BITMAPINFOHEADER); rows are padded to 4 bytes (224·3 already is).</summary>
    private static byte[] Bmp(byte[,,] rgb)
    {
        int height = rgb.GetLength(0), width = rgb.GetLength(1), row = (width * 3 + 3) & ~3, data = row * height;
        var b = new byte[54 + data];
        void U32(int at, int v) => BitConverter.TryWriteBytes(b.AsSpan(at, 4), v);
        b[0] = (byte)'B'; b[1] = (byte)'M';
        U32(2, b.Length); U32(10, 54); U32(14, 40); U32(18, width); U32(22, height);
        b[26] = 1; b[28] = 24; U32(34, data); U32(38, 2835); U32(42, 2835);
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
            {
                int at = 54 + (height - 1 - y) * row + x * 3;
                b[at] = rgb[y, x, 2]; b[at + 1] = rgb[y, x, 1]; b[at + 2] = rgb[y, x, 0];
            }
        return b;
    }
}
