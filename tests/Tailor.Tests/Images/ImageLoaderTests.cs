using Tailor.Images;
using Tailor.Spec;
using ResizeMode = Tailor.Spec.ResizeMode;

namespace Tailor.Tests.Images;

public class ImageLoaderTests
{
    private static readonly Rgb24 Red = new(255, 0, 0), Green = new(0, 255, 0), Blue = new(0, 0, 255), Yellow = new(255, 255, 0);

    /// <summary>16×16, four flat 8×8 quadrants (aligned with JPEG blocks, few colours for GIF).</summary>
    private static RgbImage Quadrants()
    {
        var image = new RgbImage(16, 16);
        for (int y = 0; y < 16; y++)
            for (int x = 0; x < 16; x++)
                image[x, y] = (x < 8, y < 8) switch { (true, true) => Red, (false, true) => Green, (true, false) => Blue, _ => Yellow };
        return image;
    }

    private static ImagePreprocessing Spec(int width, int height, TensorLayout layout = TensorLayout.Nhwc,
                                           ChannelOrder channels = ChannelOrder.Rgb, ResizeMode resize = ResizeMode.Stretch) =>
        new() { Width = width, Height = height, Layout = layout, Channels = channels, Resize = resize, Resampler = Resampler.NearestNeighbor };

    private static float[] Load(string path, ImagePreprocessing spec)
    {
        var tensor = new float[ImageLoader.TensorLength(spec)];
        ImageLoader.LoadInto(path, spec, tensor);
        return tensor;
    }

    /// <summary>Pixel (x, y) of an NHWC RGB tensor.</summary>
    private static (float R, float G, float B) At(float[] nhwc, int width, int x, int y)
    {
        int i = (y * width + x) * 3;
        return (nhwc[i], nhwc[i + 1], nhwc[i + 2]);
    }

    public static TheoryData<string, int> Formats => new()
    {
        { "png", 0 }, { "bmp", 0 }, { "gif", 0 }, { "webp", 0 }, { "jpg", 6 },
    };

    [Theory]
    [MemberData(nameof(Formats))]
    public void EachFormat_DecodesToTheSourcePixels(string extension, int tolerance)
    {
        using var dir = new TempFolder();
        string path = dir.File("quadrants." + extension);
        using (var image = Quadrants())
            File.WriteAllBytes(path, extension switch
            {
                "png" => TestImages.Png(image),
                "bmp" => TestImages.Bmp(image),
                "gif" => TestImages.Gif(image),
                "webp" => TestImages.WebpLossless(image),
                _ => TestImages.Jpeg(image, quality: 100),
            });

        var tensor = Load(path, Spec(16, 16));
        using var expected = Quadrants();
        for (int y = 0; y < 16; y++)
            for (int x = 0; x < 16; x++)
            {
                var (r, g, b) = At(tensor, 16, x, y);
                var p = expected[x, y];
                Assert.InRange(r, p.R - tolerance, p.R + tolerance);
                Assert.InRange(g, p.G - tolerance, p.G + tolerance);
                Assert.InRange(b, p.B - tolerance, p.B + tolerance);
            }
    }

    [Fact]
    public void AnimatedGif_UsesTheFirstFrame()
    {
        using var dir = new TempFolder();
        string path = dir.File("animated.gif");
        using (var first = new RgbImage(4, 4, new Rgb24(255, 0, 0)))
        using (var second = new RgbImage(4, 4, new Rgb24(0, 0, 255)))
            File.WriteAllBytes(path, TestImages.Gif(first, second));
        var tensor = Load(path, Spec(4, 4));
        Assert.Equal((255f, 0f, 0f), At(tensor, 4, 2, 2));
    }

    [Fact]
    public void GrayscalePng_BecomesEqualRgb()
    {
        using var dir = new TempFolder();
        string path = dir.File("gray.png");
        File.WriteAllBytes(path, TestImages.Png(2, 1, colorType: 0, bitDepth: 8, [30, 200]));
        var tensor = Load(path, Spec(2, 1));
        Assert.Equal([30f, 30f, 30f, 200f, 200f, 200f], tensor);
    }

    [Fact]
    public void SixteenBitPng_IsRoundedTo8Bits()
    {
        using var dir = new TempFolder();
        string rgbPath = dir.File("rgb48.png"), grayPath = dir.File("gray16.png");
        // 65535, 32896 = 128·257, 7·257 (big-endian samples).
        File.WriteAllBytes(rgbPath, TestImages.Png(1, 1, colorType: 2, bitDepth: 16, [0xFF, 0xFF, 0x80, 0x80, 0x07, 0x07]));
        File.WriteAllBytes(grayPath, TestImages.Png(1, 1, colorType: 0, bitDepth: 16, [99, 99]));   // 99·257
        Assert.Equal([255f, 128f, 7f], Load(rgbPath, Spec(1, 1)));
        Assert.Equal([99f, 99f, 99f], Load(grayPath, Spec(1, 1)));
    }

    [Fact]
    public void AlphaPng_IsCompositedOverWhite()
    {
        using var dir = new TempFolder();
        string path = dir.File("alpha.png");
        File.WriteAllBytes(path, TestImages.Png(3, 1, colorType: 6, bitDepth: 8,
        [
            255, 0, 0, 255,   // opaque red stays red
            255, 0, 0, 0,     // fully transparent becomes white
            0, 0, 0, 128,     // half-transparent black becomes mid-grey
        ]));
        var tensor = Load(path, Spec(3, 1));
        Assert.Equal((255f, 0f, 0f), At(tensor, 3, 0, 0));
        Assert.Equal((255f, 255f, 255f), At(tensor, 3, 1, 0));
        Assert.Equal((127f, 127f, 127f), At(tensor, 3, 2, 0));
    }

    [Fact]
    public void GrayAlphaPng_IsCompositedOverWhite()
    {
        using var dir = new TempFolder();
        string path = dir.File("gray-alpha.png");
        File.WriteAllBytes(path, TestImages.Png(2, 1, colorType: 4, bitDepth: 8, [0, 0, 100, 255]));
        Assert.Equal([255f, 255f, 255f, 100f, 100f, 100f], Load(path, Spec(2, 1)));
    }

    /// <summary>Stored 16 wide × 8 high, red top-left 4×4 block, blue elsewhere: where the block shows and the viewed
    /// size identify each of the eight EXIF orientations.</summary>
    private static byte[] MarkedJpeg(ushort orientation)
    {
        using var image = new RgbImage(16, 8, Blue);
        for (int y = 0; y < 4; y++)
            for (int x = 0; x < 4; x++)
                image[x, y] = Red;
        return TestImages.WithExifOrientation(TestImages.Jpeg(image, quality: 100), orientation);
    }

    [Theory]
    [InlineData(1, 16, 8, "top-left")]
    [InlineData(2, 16, 8, "top-right")]      // mirrored
    [InlineData(3, 16, 8, "bottom-right")]   // 180°
    [InlineData(4, 16, 8, "bottom-left")]    // flipped
    [InlineData(5, 8, 16, "top-left")]       // transposed
    [InlineData(6, 8, 16, "top-right")]      // stored (x, y) shows at (7 − y, x): 90° clockwise
    [InlineData(7, 8, 16, "bottom-right")]   // transverse
    [InlineData(8, 8, 16, "bottom-left")]    // 90° anticlockwise
    public void ExifOrientation_IsApplied(ushort orientation, int width, int height, string redCorner)
    {
        using var dir = new TempFolder();
        string path = dir.File($"orientation{orientation}.jpg");
        File.WriteAllBytes(path, MarkedJpeg(orientation));

        using (var loaded = ImageLoader.Load(path))
            Assert.Equal((width, height), (loaded.Width, loaded.Height));
        using (var loaded = ImageLoader.Load(path, Spec(width, height)))
            Assert.Equal((width, height), (loaded.Width, loaded.Height));

        var tensor = Load(path, Spec(width, height));
        var corners = new Dictionary<string, (float R, float G, float B)>
        {
            ["top-left"] = At(tensor, width, 1, 1),
            ["top-right"] = At(tensor, width, width - 2, 1),
            ["bottom-left"] = At(tensor, width, 1, height - 2),
            ["bottom-right"] = At(tensor, width, width - 2, height - 2),
        };
        foreach (var (corner, p) in corners)
            if (corner == redCorner) Assert.True(p.R > 200 && p.B < 50, $"{corner} should be red, was {p}");
            else Assert.True(p.B > 200 && p.R < 50, $"{corner} should be blue, was {p}");
    }

    [Fact]
    public void CmykJpeg_IsConvertedToRgb()
    {
        // Adobe CMYK JPEGs store inverted ink (255 = no ink), so RGB = stored C·K/255, M·K/255, Y·K/255.
        var blocks = new byte[1, 4, 4];
        byte[][] values = [[255, 255, 255, 255], [255, 0, 0, 255], [0, 255, 255, 128], [255, 255, 255, 0]];
        for (int b = 0; b < 4; b++)
            for (int c = 0; c < 4; c++)
                blocks[0, b, c] = values[b][c];
        using var dir = new TempFolder();
        string path = dir.File("cmyk.jpg");
        File.WriteAllBytes(path, FlatBlockJpeg.Write(blocks, adobeTransform: 0));

        var tensor = Load(path, Spec(32, 8));
        AssertNear((255, 255, 255), At(tensor, 32, 4, 4), 1);   // no ink: white
        AssertNear((255, 0, 0), At(tensor, 32, 12, 4), 1);      // magenta + yellow ink: red
        AssertNear((0, 128, 128), At(tensor, 32, 20, 4), 1);    // cyan ink, half black
        AssertNear((0, 0, 0), At(tensor, 32, 28, 4), 1);        // full black
    }

    [Fact]
    public void YcckJpeg_IsConvertedToRgb()
    {
        // YCCK: Y, Cb, Cr encode inverted CMY; with neutral chroma, RGB = (255 − Y)·K/255 on every channel.
        var blocks = new byte[1, 3, 4];
        byte[][] values = [[0, 128, 128, 255], [255, 128, 128, 255], [55, 128, 128, 255]];
        for (int b = 0; b < 3; b++)
            for (int c = 0; c < 4; c++)
                blocks[0, b, c] = values[b][c];
        using var dir = new TempFolder();
        string path = dir.File("ycck.jpg");
        File.WriteAllBytes(path, FlatBlockJpeg.Write(blocks, adobeTransform: 2));

        var tensor = Load(path, Spec(24, 8));
        AssertNear((255, 255, 255), At(tensor, 24, 4, 4), 1);
        AssertNear((0, 0, 0), At(tensor, 24, 12, 4), 1);
        AssertNear((200, 200, 200), At(tensor, 24, 20, 4), 1);
    }

    private static void AssertNear((float R, float G, float B) expected, (float R, float G, float B) actual, float tolerance) =>
        Assert.True(Math.Abs(expected.R - actual.R) <= tolerance && Math.Abs(expected.G - actual.G) <= tolerance
                                                                  && Math.Abs(expected.B - actual.B) <= tolerance,
            $"expected {expected}, got {actual}");

    /// <summary>40×20: columns 0–9 red, 10–29 green, 30–39 blue.</summary>
    private static string WriteStripes(TempFolder dir)
    {
        string path = dir.File("stripes.png");
        using var image = new RgbImage(40, 20);
        for (int y = 0; y < 20; y++)
            for (int x = 0; x < 40; x++)
                image[x, y] = x < 10 ? Red : x < 30 ? Green : Blue;
        File.WriteAllBytes(path, TestImages.Png(image));
        return path;
    }

    [Fact]
    public void Stretch_KeepsEverythingAndDistorts()
    {
        using var dir = new TempFolder();
        var t = Load(WriteStripes(dir), Spec(10, 10));
        Assert.Equal((255f, 0f, 0f), At(t, 10, 0, 0));
        Assert.Equal((0f, 255f, 0f), At(t, 10, 5, 9));
        Assert.Equal((0f, 0f, 255f), At(t, 10, 9, 5));
    }

    [Fact]
    public void CenterCrop_CutsTheSidesOfAWideImage()
    {
        // Shorter side 20 → 10 (scale ½): 20×10 with red 0–4, green 5–14, blue 15–19; the centre 10 is green.
        using var dir = new TempFolder();
        var t = Load(WriteStripes(dir), Spec(10, 10, resize: ResizeMode.CenterCrop));
        for (int y = 0; y < 10; y++)
            for (int x = 0; x < 10; x++)
                Assert.Equal((0f, 255f, 0f), At(t, 10, x, y));
    }

    [Fact]
    public void Pad_KeepsEverythingAndAddsBlackBars()
    {
        // Longer side 40 → 10 (scale ¼): 10×5 in rows 2–6, black above and below.
        using var dir = new TempFolder();
        var t = Load(WriteStripes(dir), Spec(10, 10, resize: ResizeMode.Pad));
        foreach (int y in new[] { 0, 1, 7, 8, 9 })
            for (int x = 0; x < 10; x++)
                Assert.Equal((0f, 0f, 0f), At(t, 10, x, y));
        Assert.Equal((255f, 0f, 0f), At(t, 10, 0, 2));
        Assert.Equal((0f, 255f, 0f), At(t, 10, 5, 4));
        Assert.Equal((0f, 0f, 255f), At(t, 10, 9, 6));
    }

    [Fact]
    public void Pad_OfATallImage_AddsBarsLeftAndRight()
    {
        Assert.Equal((5, 10), ImageLoader.ScaledSize(20, 40, Spec(10, 10, resize: ResizeMode.Pad)));
        Assert.Equal((10, 20), ImageLoader.ScaledSize(20, 40, Spec(10, 10, resize: ResizeMode.CenterCrop)));
        Assert.Equal((10, 10), ImageLoader.ScaledSize(20, 40, Spec(10, 10, resize: ResizeMode.Stretch)));
    }

    private static RgbImage TwoPixels()
    {
        var image = new RgbImage(2, 1);
        image[0, 0] = new Rgb24(10, 20, 30);
        image[1, 0] = new Rgb24(40, 50, 60);
        return image;
    }

    [Theory]
    [InlineData(TensorLayout.Nchw, ChannelOrder.Rgb, new float[] { 10, 40, 20, 50, 30, 60 })]
    [InlineData(TensorLayout.Nhwc, ChannelOrder.Rgb, new float[] { 10, 20, 30, 40, 50, 60 })]
    [InlineData(TensorLayout.Nchw, ChannelOrder.Bgr, new float[] { 30, 60, 20, 50, 10, 40 })]
    [InlineData(TensorLayout.Nhwc, ChannelOrder.Bgr, new float[] { 30, 20, 10, 60, 50, 40 })]
    public void LayoutAndChannelOrder(TensorLayout layout, ChannelOrder channels, float[] expected)
    {
        using var image = TwoPixels();
        var spec = Spec(2, 1, layout, channels);
        var tensor = new float[ImageLoader.TensorLength(spec)];
        ImageLoader.LoadInto(image, spec, tensor);
        Assert.Equal(expected, tensor);
    }

    [Fact]
    public void Gray_IsBt601Luma_OneChannel()
    {
        using var image = TwoPixels();
        var spec = Spec(2, 1, channels: ChannelOrder.Gray);
        Assert.Equal(2, ImageLoader.TensorLength(spec));
        var tensor = new float[2];
        ImageLoader.LoadInto(image, spec, tensor);
        Assert.Equal(0.299f * 10 + 0.587f * 20 + 0.114f * 30, tensor[0], 3);
        Assert.Equal(0.299f * 40 + 0.587f * 50 + 0.114f * 60, tensor[1], 3);
    }

    [Fact]
    public void Scale_MultipliesEveryValue()
    {
        using var image = TwoPixels();
        var spec = Spec(2, 1) with { Scale = 1f / 255 };
        var tensor = new float[6];
        ImageLoader.LoadInto(image, spec, tensor);
        Assert.Equal(new float[] { 10, 20, 30, 40, 50, 60 }.Select(v => v * (1f / 255)), tensor);
    }

    [Fact]
    public void DecodedImageOverload_DoesNotModifyTheImage_AndMatchesTheFileOverload()
    {
        using var dir = new TempFolder();
        string path = WriteStripes(dir);
        using var image = ImageLoader.Load(path);
        var spec = Spec(10, 10, TensorLayout.Nchw) with { Resampler = Resampler.Bilinear };
        var fromImage = new float[ImageLoader.TensorLength(spec)];
        ImageLoader.LoadInto(image, spec, fromImage);
        Assert.Equal((40, 20), (image.Width, image.Height));
        Assert.Equal(Load(path, spec), fromImage);
    }

    [Fact]
    public void WrongDestinationLength_Throws()
    {
        using var image = TwoPixels();
        var e = Assert.Throws<ArgumentException>(() => ImageLoader.LoadInto(image, Spec(2, 1), new float[5]));
        Assert.Contains("exactly 6", e.Message);
    }

    [Fact]
    public void InvalidSpec_Throws()
    {
        using var image = TwoPixels();
        var e = Assert.Throws<TailorException>(() => ImageLoader.LoadInto(image, Spec(0, 1), new float[0]));
        Assert.Contains("0×1", e.Message);
    }

    // ---- bad files ----

    [Fact]
    public void CorruptFile_NamesTheFile()
    {
        using var dir = new TempFolder();
        string path = dir.File("corrupt.jpg");
        var bytes = new byte[2000];
        new Random(1).NextBytes(bytes);
        File.WriteAllBytes(path, bytes);
        var e = Assert.Throws<TailorException>(() => ImageLoader.Load(path));
        Assert.Contains($"'{path}' is not an image Tailor can read (JPEG, PNG, BMP, GIF, WebP)", e.Message);
    }

    [Fact]
    public void NonImage_NamesTheFile()
    {
        using var dir = new TempFolder();
        string path = dir.File("notes.png");
        File.WriteAllText(path, "these are my notes, not a picture");
        var e = Assert.Throws<TailorException>(() => ImageLoader.Load(path));
        Assert.Contains($"'{path}' is not an image Tailor can read", e.Message);
    }

    [Fact]
    public void TruncatedPng_NamesTheFile()
    {
        using var dir = new TempFolder();
        string path = dir.File("truncated.png");
        using (var image = new RgbImage(64, 64))
        {
            for (int y = 0; y < 64; y++)
                for (int x = 0; x < 64; x++)
                    image[x, y] = new Rgb24((byte)(x * 4), (byte)(y * 4), (byte)(x ^ y));
            byte[] png = TestImages.Png(image);
            File.WriteAllBytes(path, png[..(png.Length / 2)]);
        }
        var e = Assert.Throws<TailorException>(() => ImageLoader.Load(path));
        Assert.Contains($"'{path}'", e.Message);
        Assert.Contains("damaged or truncated", e.Message);
    }

    [Fact]
    public void HeaderOnlyJpeg_NamesTheFile()
    {
        using var dir = new TempFolder();
        string path = dir.File("header-only.jpg");
        using (var image = Quadrants())
            File.WriteAllBytes(path, TestImages.Jpeg(image)[..20]);
        var e = Assert.Throws<TailorException>(() => ImageLoader.Load(path));
        Assert.Contains($"'{path}' is not an image Tailor can read", e.Message);
        Assert.Contains("damaged or truncated", e.Message);
    }

    [Fact]
    public void EmptyFile_SaysItIsEmpty()
    {
        using var dir = new TempFolder();
        string path = dir.File("empty.jpg");
        File.WriteAllBytes(path, []);
        var e = Assert.Throws<TailorException>(() => ImageLoader.Load(path));
        Assert.Equal($"'{path}' is empty (0 bytes), not an image.", e.Message);
    }

    [Fact]
    public void MissingFile_NamesIt()
    {
        using var dir = new TempFolder();
        string path = dir.File("missing.jpg");
        var e = Assert.Throws<TailorException>(() => ImageLoader.LoadInto(path, Spec(2, 2), new float[12]));
        Assert.Equal($"'{path}' does not exist.", e.Message);
    }

    [Fact]
    public void Folder_IsNotAnImage()
    {
        using var dir = new TempFolder();
        var e = Assert.Throws<TailorException>(() => ImageLoader.Load(dir.Path));
        Assert.Contains("is a folder", e.Message);
    }

    [Fact]
    public void Tiff_IsRefused_NamingTheFileAndTheSupportedFormats()
    {
        // Skia has no TIFF decoder: the file is recognised by its byte-order mark and refused with a way forward.
        using var dir = new TempFolder();
        string path = dir.File("scan.tif");
        File.WriteAllBytes(path, TestImages.Tiff());
        var e = Assert.Throws<TailorException>(() => ImageLoader.Load(path));
        Assert.Equal($"'{path}' is a TIFF image, which Tailor cannot read; supported formats: JPEG, PNG, BMP, GIF, WebP. Convert it to PNG or JPEG.",
            e.Message);
    }

    [Fact]
    public void Heic_IsRefused_NamingTheFormat()
    {
        using var dir = new TempFolder();
        string path = dir.File("IMG_0001.HEIC");
        File.WriteAllBytes(path, [0, 0, 0, 24, .. "ftypheic"u8.ToArray(), 0, 0, 0, 0, .. "mif1heic"u8.ToArray()]);
        var e = Assert.Throws<TailorException>(() => ImageLoader.Load(path));
        Assert.StartsWith($"'{path}' is a HEIC image, which Tailor cannot read", e.Message);
    }

    [Theory]
    [InlineData(40_000, 100, "40000×100")]      // a side above 30000
    [InlineData(12_000, 9_000, "12000×9000")]   // 108 megapixels
    public void AbsurdDimensions_AreRefusedFromTheHeader_BeforeDecoding(int width, int height, string size)
    {
        // The header claims the size; the pixel data is 1 row of a 1-pixel-wide image, so only a check made before
        // decoding can report the size (a decode would fail as truncated).
        using var dir = new TempFolder();
        string path = dir.File("bomb.png");
        byte[] png = TestImages.Png(1, 1, colorType: 0, bitDepth: 8, [0]);
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(png.AsSpan(16), width);
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(png.AsSpan(20), height);
        FixIhdrCrc(png);
        File.WriteAllBytes(path, png);
        var e = Assert.Throws<TailorException>(() => ImageLoader.LoadInto(path, Spec(8, 8), new float[8 * 8 * 3]));
        Assert.StartsWith($"'{path}' is {size} pixels", e.Message);
        Assert.Contains("up to 30000 pixels a side and 100 megapixels", e.Message);
    }

    private static void FixIhdrCrc(byte[] png)
    {
        uint crc = 0xFFFFFFFF;
        foreach (byte b in png.AsSpan(12, 17))
        {
            crc ^= b;
            for (int k = 0; k < 8; k++) crc = (crc & 1) != 0 ? 0xEDB88320 ^ (crc >> 1) : crc >> 1;
        }
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(png.AsSpan(29), ~crc);
    }

    /// <summary>A smooth, photo-like picture: gradients, a few soft discs and fine texture, the kind of content
    /// JPEG is made for.</summary>
    internal static RgbImage PhotoLike(int width, int height)
    {
        var image = new RgbImage(width, height);
        var pixels = image.Pixels;
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
            {
                double u = (double)x / width, v = (double)y / height;
                double disc = Math.Exp(-((u - 0.4) * (u - 0.4) + (v - 0.55) * (v - 0.55)) * 30);
                double texture = 12 * Math.Sin(x * 0.9) * Math.Sin(y * 0.7);
                int at = 3 * (y * width + x);
                pixels[at] = (byte)Math.Clamp(60 + 120 * u + 70 * disc + texture, 0, 255);
                pixels[at + 1] = (byte)Math.Clamp(90 + 80 * v + 40 * disc - texture, 0, 255);
                pixels[at + 2] = (byte)Math.Clamp(140 - 90 * u * v + 30 * Math.Sin(6 * u + 3 * v), 0, 255);
            }
        return image;
    }

    [Fact]
    public void LargeJpeg_IsDecodedAtReducedSize_ButNeverBelowTheWorkingSize()
    {
        // 1600×1200 for a 100×100 input: the working size is 2 × 100 on the shorter side (267×200); libjpeg-turbo
        // offers k/8 of the size, and 2/8 (400×300) is the smallest that covers it.
        using var dir = new TempFolder();
        string path = dir.File("photo.jpg");
        using (var image = PhotoLike(1600, 1200))
            File.WriteAllBytes(path, TestImages.Jpeg(image, quality: 90, subsample: true));
        var spec = Spec(100, 100) with { Resampler = Resampler.Bilinear };
        Assert.Equal((267, 200), ImageLoader.WorkingSize(1600, 1200, spec));
        using (var reduced = ImageLoader.Load(path, spec))
            Assert.Equal((400, 300), (reduced.Width, reduced.Height));
        // For a tensor alone (prediction, training without augmentation), covering the input is enough: 1/8.
        using (var forInput = ImageLoader.Load(path, spec, factor: 1))
            Assert.Equal((200, 150), (forInput.Width, forInput.Height));
        using (var full = ImageLoader.Load(path))
            Assert.Equal((1600, 1200), (full.Width, full.Height));
        // Pad fits the longer side: 2 × 100 of 1600 is 200 wide → 150 high, so 1/8 (200×150) covers it.
        using (var padded = ImageLoader.Load(path, spec with { Resize = ResizeMode.Pad }))
            Assert.Equal((200, 150), (padded.Width, padded.Height));
        // Small images are never enlarged.
        Assert.Equal((120, 90), ImageLoader.WorkingSize(120, 90, spec));
    }

    [Theory]
    [InlineData(ResizeMode.Stretch)]
    [InlineData(ResizeMode.CenterCrop)]
    [InlineData(ResizeMode.Pad)]
    public void ReducedDecode_GivesTheTensorOfAFullSizeDecode(ResizeMode resize)
    {
        // What the model sees must not depend on the decoder's shortcut: the tensor from the reduced decode and the
        // one from a full-size decode resized by the same filter differ by less than JPEG's own noise.
        using var dir = new TempFolder();
        string path = dir.File("photo.jpg");
        using (var image = PhotoLike(2000, 1500))
            File.WriteAllBytes(path, TestImages.Jpeg(image, quality: 90, subsample: true));
        var spec = new ImagePreprocessing { Width = 224, Height = 224, Resize = resize };
        using var full = ImageLoader.Load(path);
        var reference = new float[ImageLoader.TensorLength(spec)];
        ImageLoader.LoadInto(full, spec, reference);

        var forInput = Load(path, spec);                              // as prediction reads it
        using var working = ImageLoader.Load(path, spec);             // as training's variant 0 is made
        var forAugmentation = new float[reference.Length];
        ImageLoader.LoadInto(working, spec, forAugmentation);
        foreach (var (name, tensor) in new[] { ("input-size decode", forInput), ("working-size decode", forAugmentation) })
        {
            double meanError = tensor.Zip(reference, (a, b) => Math.Abs(a - b)).Average();
            float maxError = tensor.Zip(reference, (a, b) => Math.Abs(a - b)).Max();
            Assert.True(meanError < 1.0, $"{name}: mean |difference| {meanError:F3} levels");
            Assert.True(maxError <= 12, $"{name}: max |difference| {maxError} levels");
        }
    }

    [Fact]
    public void WorkingSize_OfA12MegapixelPhoto_IsTwiceTheInput()
    {
        var spec = new ImagePreprocessing { Width = 224, Height = 224 };
        Assert.Equal((598, 448), ImageLoader.WorkingSize(4032, 3024, spec));
        Assert.Equal((448, 598), ImageLoader.WorkingSize(3024, 4032, spec));
        using var photo = new RgbImage(1008, 756);
        using var working = ImageLoader.ToWorkingSize(photo, spec);
        Assert.Equal((598, 448), (working.Width, working.Height));
        Assert.Same(working, ImageLoader.ToWorkingSize(working, spec));
    }

    // ---- batches ----

    [Fact]
    public void Batch_LoadsTheGoodFiles_AndReportsEachBadOne()
    {
        using var dir = new TempFolder();
        var paths = new List<string>();
        for (int i = 0; i < 5; i++)
        {
            string path = dir.File($"good{i}.png");
            using var image = new RgbImage(3, 3, new Rgb24((byte)(10 * i), 1, 2));
            File.WriteAllBytes(path, TestImages.Png(image));
            paths.Add(path);
        }
        string empty = dir.File("empty.png"), missing = dir.File("missing.png");
        File.WriteAllBytes(empty, []);
        paths.Insert(1, empty);
        paths.Add(missing);

        var spec = Spec(2, 2, TensorLayout.Nchw);
        int length = ImageLoader.TensorLength(spec);
        var batch = new float[paths.Count * length + 3];
        Array.Fill(batch, -1f);
        var results = ImageLoader.LoadBatch(paths, spec, batch);

        Assert.Equal(paths, results.Select(r => r.Path));
        Assert.Equal(Enumerable.Range(0, paths.Count), results.Select(r => r.Index));
        Assert.Equal([empty, missing], results.Where(r => !r.Succeeded).Select(r => r.Path));
        Assert.Contains("empty", results[1].Error);
        Assert.Contains($"'{missing}' does not exist", results[^1].Error);
        Assert.All(batch.AsSpan(length, length).ToArray(), v => Assert.Equal(0f, v));
        for (int i = 0; i < 5; i++)
        {
            int slot = i == 0 ? 0 : i + 1;
            Assert.Equal(10f * i, batch[slot * length]);           // R plane
            Assert.Equal(1f, batch[slot * length + 4]);            // G plane
        }
        Assert.Equal([-1f, -1f, -1f], batch[^3..]);                // past the last slot: untouched
    }

    [Fact]
    public void Batch_TooSmallBuffer_Throws()
    {
        var e = Assert.Throws<ArgumentException>(() => ImageLoader.LoadBatch(["a", "b"], Spec(2, 2), new float[23]));
        Assert.Contains("need 24", e.Message);
    }

    [Fact]
    public void Batch_OfTheRealHandsPhotos_LoadsThemAll()
    {
        var folder = Tailor.Data.LabeledFolder.Scan(Path.Combine(Tailor.Tests.Data.LabeledFolderTests.Hands, "test"));
        var spec = new ImagePreprocessing { Width = 64, Height = 64, Resize = ResizeMode.CenterCrop };
        var (batch, results) = ImageLoader.LoadBatch(folder.Examples.Select(e => e.Path).ToArray(), spec);
        Assert.All(results, r => Assert.True(r.Succeeded, r.Error));
        Assert.Equal(15 * 3 * 64 * 64, batch.Length);
        Assert.All(batch, v => Assert.InRange(v, 0f, 255f));
        Assert.True(batch.Average() > 10, "photos should not be black");
    }
}
