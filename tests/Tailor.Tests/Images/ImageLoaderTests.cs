using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats;
using SixLabors.ImageSharp.Formats.Bmp;
using SixLabors.ImageSharp.Formats.Gif;
using SixLabors.ImageSharp.Formats.Jpeg;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.Formats.Tiff;
using SixLabors.ImageSharp.Formats.Webp;
using SixLabors.ImageSharp.Metadata.Profiles.Exif;
using SixLabors.ImageSharp.PixelFormats;
using Tailor.Images;
using Tailor.Spec;
using ResizeMode = Tailor.Spec.ResizeMode;

namespace Tailor.Tests.Images;

public class ImageLoaderTests
{
    private static readonly Rgb24 Red = new(255, 0, 0), Green = new(0, 255, 0), Blue = new(0, 0, 255), Yellow = new(255, 255, 0);

    /// <summary>16×16, four flat 8×8 quadrants (aligned with JPEG blocks, few colours for GIF).</summary>
    private static Image<Rgb24> Quadrants()
    {
        var image = new Image<Rgb24>(16, 16);
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
        { "png", 0 }, { "bmp", 0 }, { "gif", 0 }, { "webp", 0 }, { "tiff", 0 }, { "jpg", 6 },
    };

    [Theory]
    [MemberData(nameof(Formats))]
    public void EachFormat_DecodesToTheSourcePixels(string extension, int tolerance)
    {
        using var dir = new TempFolder();
        string path = dir.File("quadrants." + extension);
        using (var image = Quadrants())
        {
            IImageEncoder encoder = extension switch
            {
                "png" => new PngEncoder(),
                "bmp" => new BmpEncoder { BitsPerPixel = BmpBitsPerPixel.Pixel24 },
                "gif" => new GifEncoder(),
                "webp" => new WebpEncoder { FileFormat = WebpFileFormatType.Lossless },
                "tiff" => new TiffEncoder(),
                _ => new JpegEncoder { Quality = 100, ColorType = JpegColorType.YCbCrRatio444 },
            };
            image.Save(path, encoder);
        }

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
        using (var image = new Image<Rgba32>(4, 4, new Rgba32(255, 0, 0)))
        {
            using var second = new Image<Rgba32>(4, 4, new Rgba32(0, 0, 255));
            image.Frames.AddFrame(second.Frames.RootFrame);
            image.SaveAsGif(path);
        }
        var tensor = Load(path, Spec(4, 4));
        Assert.Equal((255f, 0f, 0f), At(tensor, 4, 2, 2));
    }

    [Fact]
    public void GrayscalePng_BecomesEqualRgb()
    {
        using var dir = new TempFolder();
        string path = dir.File("gray.png");
        using (var image = new Image<L8>(2, 1))
        {
            image[0, 0] = new L8(30);
            image[1, 0] = new L8(200);
            image.Save(path, new PngEncoder { ColorType = PngColorType.Grayscale, BitDepth = PngBitDepth.Bit8 });
        }
        var tensor = Load(path, Spec(2, 1));
        Assert.Equal([30f, 30f, 30f, 200f, 200f, 200f], tensor);
    }

    [Fact]
    public void SixteenBitPng_IsRoundedTo8Bits()
    {
        using var dir = new TempFolder();
        string rgbPath = dir.File("rgb48.png"), grayPath = dir.File("gray16.png");
        using (var image = new Image<Rgb48>(1, 1))
        {
            image[0, 0] = new Rgb48(65535, 32896, 257 * 7); // 32896 = 128·257
            image.Save(rgbPath, new PngEncoder { ColorType = PngColorType.Rgb, BitDepth = PngBitDepth.Bit16 });
        }
        using (var image = new Image<L16>(1, 1))
        {
            image[0, 0] = new L16(257 * 99);
            image.Save(grayPath, new PngEncoder { ColorType = PngColorType.Grayscale, BitDepth = PngBitDepth.Bit16 });
        }
        Assert.Equal([255f, 128f, 7f], Load(rgbPath, Spec(1, 1)));
        Assert.Equal([99f, 99f, 99f], Load(grayPath, Spec(1, 1)));
    }

    [Fact]
    public void AlphaPng_IsCompositedOverWhite()
    {
        using var dir = new TempFolder();
        string path = dir.File("alpha.png");
        using (var image = new Image<Rgba32>(3, 1))
        {
            image[0, 0] = new Rgba32(255, 0, 0, 255); // opaque red stays red
            image[1, 0] = new Rgba32(255, 0, 0, 0);   // fully transparent becomes white
            image[2, 0] = new Rgba32(0, 0, 0, 128);   // half-transparent black becomes mid-grey
            image.Save(path, new PngEncoder { ColorType = PngColorType.RgbWithAlpha });
        }
        var tensor = Load(path, Spec(3, 1));
        Assert.Equal((255f, 0f, 0f), At(tensor, 3, 0, 0));
        Assert.Equal((255f, 255f, 255f), At(tensor, 3, 1, 0));
        Assert.Equal((127f, 127f, 127f), At(tensor, 3, 2, 0));
    }

    [Fact]
    public void ExifOrientation6_RotatesClockwise()
    {
        // Stored 16 wide × 8 high, red top-left 4×4 block, blue elsewhere. Orientation 6 means "rotate 90° clockwise to view":
        // the viewed image is 8 wide × 16 high and stored (x, y) shows at (7 − y, x): the red block lands at the top-right.
        using var dir = new TempFolder();
        string path = dir.File("rotated.jpg");
        using (var image = new Image<Rgb24>(16, 8, Blue))
        {
            for (int y = 0; y < 4; y++)
                for (int x = 0; x < 4; x++)
                    image[x, y] = Red;
            image.Metadata.ExifProfile = new ExifProfile();
            image.Metadata.ExifProfile.SetValue(ExifTag.Orientation, (ushort)6);
            image.Save(path, new JpegEncoder { Quality = 100, ColorType = JpegColorType.YCbCrRatio444 });
        }

        using (var loaded = ImageLoader.Load(path))
            Assert.Equal((8, 16), (loaded.Width, loaded.Height));

        var tensor = Load(path, Spec(8, 16));
        var topRight = At(tensor, 8, 6, 1);
        var topLeft = At(tensor, 8, 1, 1);
        var bottomRight = At(tensor, 8, 6, 14);
        Assert.True(topRight.R > 200 && topRight.B < 50, $"top-right should be red, was {topRight}");
        Assert.True(topLeft.B > 200 && topLeft.R < 50, $"top-left should be blue, was {topLeft}");
        Assert.True(bottomRight.B > 200 && bottomRight.R < 50, $"bottom-right should be blue, was {bottomRight}");
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
        using var image = new Image<Rgb24>(40, 20);
        for (int y = 0; y < 20; y++)
            for (int x = 0; x < 40; x++)
                image[x, y] = x < 10 ? Red : x < 30 ? Green : Blue;
        image.SaveAsPng(path);
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

    private static Image<Rgb24> TwoPixels()
    {
        var image = new Image<Rgb24>(2, 1);
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
        Assert.Contains($"'{path}' is not an image ImageSharp can read (JPEG, PNG, BMP, GIF, WebP, TIFF)", e.Message);
    }

    [Fact]
    public void NonImage_NamesTheFile()
    {
        using var dir = new TempFolder();
        string path = dir.File("notes.png");
        File.WriteAllText(path, "these are my notes, not a picture");
        var e = Assert.Throws<TailorException>(() => ImageLoader.Load(path));
        Assert.Contains($"'{path}' is not an image ImageSharp can read", e.Message);
    }

    [Fact]
    public void TruncatedPng_NamesTheFile()
    {
        using var dir = new TempFolder();
        string path = dir.File("truncated.png");
        using (var image = new Image<Rgb24>(64, 64))
        {
            for (int y = 0; y < 64; y++)
                for (int x = 0; x < 64; x++)
                    image[x, y] = new Rgb24((byte)(x * 4), (byte)(y * 4), (byte)(x ^ y));
            using var stream = new MemoryStream();
            image.SaveAsPng(stream);
            File.WriteAllBytes(path, stream.ToArray()[..(int)(stream.Length / 2)]);
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
        {
            using var stream = new MemoryStream();
            image.SaveAsJpeg(stream);
            File.WriteAllBytes(path, stream.ToArray()[..20]);
        }
        var e = Assert.Throws<TailorException>(() => ImageLoader.Load(path));
        Assert.Contains($"'{path}' is not an image ImageSharp can read", e.Message);
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

    // ---- batches ----

    [Fact]
    public void Batch_LoadsTheGoodFiles_AndReportsEachBadOne()
    {
        using var dir = new TempFolder();
        var paths = new List<string>();
        for (int i = 0; i < 5; i++)
        {
            string path = dir.File($"good{i}.png");
            using var image = new Image<Rgb24>(3, 3, new Rgb24((byte)(10 * i), 1, 2));
            image.SaveAsPng(path);
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
