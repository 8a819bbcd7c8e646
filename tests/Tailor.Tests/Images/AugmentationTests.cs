using Tailor.Images;

namespace Tailor.Tests.Images;

public class AugmentationTests
{
    private static readonly Rgb24 Red = new(255, 0, 0), Gray = new(100, 100, 100);

    /// <summary>32×24 grey with a red 4×4 marker in the top-left corner.</summary>
    private static RgbImage Marked(int width = 32, int height = 24)
    {
        var image = new RgbImage(width, height, Gray);
        for (int y = 0; y < 4; y++)
            for (int x = 0; x < 4; x++)
                image[x, y] = Red;
        return image;
    }

    private static byte[] Pixels(RgbImage image) => image.Pixels.ToArray();

    private static double Mean(RgbImage image) => Pixels(image).Average(b => (double)b);

    [Fact]
    public void Parse_ReadsEveryName()
    {
        var o = AugmentationOptions.Parse("flip, vflip,rotate:15,rotate90,crop:0.8,brightness:0.2,contrast:0.3,saturation:0.4,variants:4");
        Assert.True(o.HorizontalFlip);
        Assert.True(o.VerticalFlip);
        Assert.Equal(15f, o.RotationDegrees);
        Assert.True(o.Rotate90);
        Assert.Equal(0.8f, o.CropMinScale);
        Assert.Equal(3f / 4, o.CropMinAspectRatio);
        Assert.Equal(4f / 3, o.CropMaxAspectRatio);
        Assert.Equal(0.2f, o.Brightness);
        Assert.Equal(0.3f, o.Contrast);
        Assert.Equal(0.4f, o.Saturation);
        Assert.Equal(4, o.VariantsPerExample);
        Assert.Equal(o, AugmentationOptions.Parse(o.ToString()));
    }

    [Fact]
    public void Parse_DefaultsAndEmpty()
    {
        Assert.Equal(AugmentationOptions.None, AugmentationOptions.Parse(""));
        Assert.Equal(AugmentationOptions.None, AugmentationOptions.Parse("none"));
        Assert.True(AugmentationOptions.None.IsIdentity);
        Assert.Equal("none", AugmentationOptions.None.ToString());
        var o = AugmentationOptions.Parse("ROTATE,crop,brightness,crop:0.5:0.5:2");
        Assert.Equal(15f, o.RotationDegrees);
        Assert.Equal(0.2f, o.Brightness);
        Assert.Equal((0.5f, 0.5f, 2f), (o.CropMinScale, o.CropMinAspectRatio, o.CropMaxAspectRatio));
        Assert.Equal(AugmentationOptions.FewShot, AugmentationOptions.Parse("flip,rotate:15,crop:0.8,variants:4"));
        Assert.Equal("flip,rotate:15,crop:0.8,variants:4", AugmentationOptions.FewShot.ToString());
    }

    [Fact]
    public void Parse_UnknownName_ListsTheAllowedOnes()
    {
        var e = Assert.Throws<TailorException>(() => AugmentationOptions.Parse("flip,blur:2"));
        Assert.Contains("Unknown augmentation 'blur'", e.Message);
        Assert.Contains(AugmentationOptions.AllowedNames, e.Message);
    }

    [Theory]
    [InlineData("rotate:abc", "'abc' is not a valid degrees")]
    [InlineData("brightness:1.5", "outside the allowed range 0..1")]
    [InlineData("variants", "needs a value")]
    [InlineData("variants:2.5", "whole number")]
    [InlineData("flip:1", "takes no value")]
    [InlineData("crop:0.8:1", "crop:MIN_SCALE:MIN_ASPECT:MAX_ASPECT")]
    [InlineData("crop:0.8:2:1", "must be ascending")]
    public void Parse_BadValue_SaysWhatIsWrong(string list, string expected)
    {
        var e = Assert.Throws<TailorException>(() => AugmentationOptions.Parse(list));
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void SameSeedAndIndices_GiveTheSamePixels()
    {
        var options = AugmentationOptions.Parse("flip,vflip,rotate:20,rotate90,crop:0.6,brightness:0.3,contrast:0.3,saturation:0.3");
        using var source = Marked();
        using var a = new Augmenter(options, seed: 42).Apply(source, exampleIndex: 3, variantIndex: 1);
        using var b = new Augmenter(options, seed: 42).Apply(source, exampleIndex: 3, variantIndex: 1);
        Assert.Equal(Pixels(a), Pixels(b));

        var augmenter = new Augmenter(options, seed: 42);
        var distinct = Enumerable.Range(0, 8).Select(v =>
        {
            using var image = augmenter.Apply(source, 3, v);
            return Convert.ToBase64String(Pixels(image));
        }).Distinct().Count();
        Assert.True(distinct >= 6, $"variants should differ; only {distinct} of 8 distinct");
        Assert.Equal(Pixels(Marked()), Pixels(source)); // the source is untouched
    }

    [Fact]
    public void VariantSeed_DependsOnEveryInput()
    {
        var seeds = new[] { Augmenter.VariantSeed(1, 0, 0), Augmenter.VariantSeed(2, 0, 0), Augmenter.VariantSeed(1, 1, 0), Augmenter.VariantSeed(1, 0, 1) };
        Assert.Equal(4, seeds.Distinct().Count());
        Assert.Equal(Augmenter.VariantSeed(7, 8, 9), Augmenter.VariantSeed(7, 8, 9));
    }

    [Fact]
    public void HorizontalFlip_MirrorsPixels_AboutHalfTheTime()
    {
        using var source = Marked();
        var options = new AugmentationOptions { HorizontalFlip = true };
        var random = new Random(5);
        int flipped = 0;
        for (int i = 0; i < 40; i++)
        {
            using var image = Augmenter.Apply(source, options, random);
            if (image[0, 0] == Red) continue;
            flipped++;
            for (int y = 0; y < source.Height; y++)
                for (int x = 0; x < source.Width; x++)
                    Assert.Equal(source[x, y], image[source.Width - 1 - x, y]);
        }
        Assert.InRange(flipped, 10, 30);
    }

    [Fact]
    public void VerticalFlip_MirrorsTopAndBottom()
    {
        using var source = Marked();
        var options = new AugmentationOptions { VerticalFlip = true };
        var random = new Random(6);
        var corners = new HashSet<(int, int)>();
        for (int i = 0; i < 20; i++)
        {
            using var image = Augmenter.Apply(source, options, random);
            corners.Add(image[0, 0] == Red ? (0, 0) : image[0, source.Height - 1] == Red ? (0, 1) : (-1, -1));
        }
        Assert.Equal([(0, 0), (0, 1)], corners.Order());
    }

    [Fact]
    public void Rotate90_MovesTheCornerToEveryCorner()
    {
        using var source = Marked();
        var options = new AugmentationOptions { Rotate90 = true };
        var random = new Random(7);
        var seen = new HashSet<string>();
        for (int i = 0; i < 40; i++)
        {
            using var image = Augmenter.Apply(source, options, random);
            int w = image.Width - 1, h = image.Height - 1;
            string corner = image[0, 0] == Red ? "top-left" : image[w, 0] == Red ? "top-right"
                          : image[w, h] == Red ? "bottom-right" : image[0, h] == Red ? "bottom-left" : "none";
            seen.Add(corner);
            // 90° and 270° swap width and height.
            Assert.True((image.Width, image.Height) is (32, 24) or (24, 32));
            if (corner == "top-right") Assert.Equal((24, 32), (image.Width, image.Height)); // 90° clockwise
        }
        Assert.Equal(["bottom-left", "bottom-right", "top-left", "top-right"], seen.Order());
    }

    [Fact]
    public void Rotation_KeepsTheSize_AndShowsNoBlackCorners()
    {
        using var source = new RgbImage(40, 30, new Rgb24(200, 200, 200));
        var options = new AugmentationOptions { RotationDegrees = 30 };
        var random = new Random(8);
        for (int i = 0; i < 10; i++)
        {
            using var image = Augmenter.Apply(source, options, random);
            Assert.Equal((40, 30), (image.Width, image.Height));
            Assert.All(Pixels(image), b => Assert.InRange(b, 190, 210));
        }
    }

    [Fact]
    public void Rotation_TurnsTheContent()
    {
        // A horizontal bar through the centre stays horizontal at 0° and tilts otherwise: after rotating by
        // at least a few degrees, its left and right ends sit at different heights.
        using var source = new RgbImage(60, 60, new Rgb24(0, 0, 0));
        for (int x = 0; x < 60; x++)
            for (int y = 28; y < 32; y++)
                source[x, y] = new Rgb24(255, 255, 255);
        var options = new AugmentationOptions { RotationDegrees = 20 };
        var random = new Random(9);
        int tilted = 0;
        for (int i = 0; i < 10; i++)
        {
            using var image = Augmenter.Apply(source, options, random);
            int Row(int x) => Enumerable.Range(0, 60).MaxBy(y => image[x, y].R);
            if (Math.Abs(Row(5) - Row(54)) >= 3) tilted++;
        }
        Assert.True(tilted >= 5, $"only {tilted} of 10 rotations tilted the bar");
    }

    [Fact]
    public void RandomResizedCrop_KeepsAtLeastTheMinimumArea()
    {
        using var source = Marked(100, 80);
        var options = new AugmentationOptions { CropMinScale = 0.5f };
        var random = new Random(10);
        var sizes = new HashSet<(int, int)>();
        for (int i = 0; i < 20; i++)
        {
            using var image = Augmenter.Apply(source, options, random);
            sizes.Add((image.Width, image.Height));
            Assert.InRange(image.Width * image.Height, 0.45 * 8000, 8000);
            double ratio = (double)image.Width / image.Height;
            Assert.InRange(ratio, 0.7, 1.4);
        }
        Assert.True(sizes.Count > 5);
    }

    [Fact]
    public void Brightness_ChangesTheMean_WithinItsRange()
    {
        using var source = new RgbImage(8, 8, Gray);
        var options = new AugmentationOptions { Brightness = 0.5f };
        var random = new Random(11);
        var means = Enumerable.Range(0, 20).Select(_ =>
        {
            using var image = Augmenter.Apply(source, options, random);
            return Mean(image);
        }).ToArray();
        Assert.All(means, m => Assert.InRange(m, 49, 151));
        Assert.Contains(means, m => m < 90);
        Assert.Contains(means, m => m > 110);
    }

    [Fact]
    public void Contrast_ChangesTheSpread()
    {
        using var source = new RgbImage(2, 1);
        source[0, 0] = new Rgb24(64, 64, 64);
        source[1, 0] = new Rgb24(192, 192, 192);
        var options = new AugmentationOptions { Contrast = 0.5f };
        var random = new Random(12);
        var spreads = Enumerable.Range(0, 20).Select(_ =>
        {
            using var image = Augmenter.Apply(source, options, random);
            return image[1, 0].R - image[0, 0].R;
        }).ToArray();
        Assert.Contains(spreads, s => s < 110);
        Assert.Contains(spreads, s => s > 146);
    }

    [Fact]
    public void Saturation_MovesColoursTowardsOrAwayFromGrey()
    {
        using var source = new RgbImage(1, 1, new Rgb24(200, 100, 100));
        var options = new AugmentationOptions { Saturation = 0.8f };
        var random = new Random(13);
        var spreads = Enumerable.Range(0, 20).Select(_ =>
        {
            using var image = Augmenter.Apply(source, options, random);
            var p = image[0, 0];
            return p.R - p.G;
        }).ToArray();
        Assert.Contains(spreads, s => s < 80);
        Assert.Contains(spreads, s => s > 120);
    }

    [Fact]
    public void NoOptions_GiveAnIdenticalCopy()
    {
        using var source = Marked();
        using var copy = new Augmenter(AugmentationOptions.None, 1).Apply(source, 0, 0);
        Assert.NotSame(source, copy);
        Assert.Equal(Pixels(source), Pixels(copy));
    }
}
