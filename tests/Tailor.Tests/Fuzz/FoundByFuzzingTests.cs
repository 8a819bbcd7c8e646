using System.Buffers.Binary;
using Tailor.Images;
using Tailor.Tests.Images;

namespace Tailor.Tests.Fuzz;

/// <summary>Inputs the fuzz tests found mishandled, each kept as a plain regression test.</summary>
public sealed class FoundByFuzzingTests(PreparedModelFixture model) : IClassFixture<PreparedModelFixture>
{
    [Fact]
    public void ModelThroughASymbolicLink_Loads()
    {
        // Found with a link to /dev/null as MODEL; before, FileInfo measured the link (a few bytes), so a link to a
        // real model was refused as "truncated or not ONNX".
        string link = Path.Combine(model.Directory, "link-" + Guid.NewGuid().ToString("N") + ".onnx");
        File.CreateSymbolicLink(link, model.Path);
        try
        {
            var loaded = UpdatableModel.Load(link);
            Assert.Equal(model.Load().Spec.Labels.Names, loaded.Spec.Labels.Names);
        }
        finally { File.Delete(link); }
    }

    [Fact]
    public void BmpWhosePixelDataOffsetIsFourGigabytes_IsRefusedNamingTheFile()
    {
        // Seed 20261129 case 11566: the BMP decoder skipped to the pixel data through SkiaSharp's managed stream wrapper,
        // which threw ArgumentOutOfRangeException ('size') inside a native callback and ended the process.
        using var image = ImageLoaderTests.PhotoLike(24, 16);
        byte[] bmp = TestImages.Bmp(image);
        BinaryPrimitives.WriteUInt32LittleEndian(bmp.AsSpan(10), 4_114_939_366);
        using var folder = new TempFolder();
        string path = folder.File("offset.bmp");
        File.WriteAllBytes(path, bmp);

        var e = Assert.Throws<TailorException>(() => ImageLoader.Load(path).Dispose());
        Assert.Contains("offset.bmp", e.Message);
    }

    [Theory]
    [InlineData("prepare", "--labels", "a,b")]
    [InlineData("train", "{model}", "--data", "{data}")]
    public void OutputNameLongerThanTheFileSystemAllows_IsAUsageError_BeforeAnyWork(params string[] command)
    {
        // Seed 20261129 cases 967, 1079, 1360 (--out of 100,000 characters): PathTooLongException, an internal error, after
        // training in the case of train.
        using var folder = new TempFolder();
        string output = Path.Combine(folder.Path, new string('x', 200) + ".onnx");
        var args = command.Select(a => a.Replace("{model}", model.Path).Replace("{data}", TestData.HandsTest)).ToList();
        var result = Cli.CliRunner.Run([.. args, "--out", output]);
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("--out: the file name is 205 bytes long; Tailor writes names of up to 196 bytes", result.Stderr);
        Assert.DoesNotContain("Features", result.Stderr);
        Assert.False(File.Exists(output));
    }

    [Fact]
    public void ImageOfAbsurdAspectRatio_IsRefusedFromItsHeader_NamingTheFile()
    {
        // Seed 20261129 case 25197: a 383-byte JPEG edited to claim 24,000 pixels across, center-cropped to 3×401, was
        // scaled to 600,000×401 before the crop (1.09 GB allocated). A 2,000×10 PNG is the same shape, honestly encoded.
        using var folder = new TempFolder();
        string path = folder.File("sliver.png");
        File.WriteAllBytes(path, TestImages.Png(2000, 10, colorType: 2, bitDepth: 8, new byte[2000 * 10 * 3]));
        var spec = new Tailor.Spec.ImagePreprocessing { Width = 3, Height = 401, Resize = Tailor.Spec.ResizeMode.CenterCrop };

        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<TailorException>(() => ImageLoader.LoadInto(path, spec, new float[3 * 3 * 401]));
        Assert.Contains("sliver.png", e.Message);
        Assert.Contains("2000×10", e.Message);
        Assert.Contains($"{ImageLoader.MaxAspectRatio}:1", e.Message);
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 16 << 20);

        // A wide panorama within the limit still loads.
        File.WriteAllBytes(path, TestImages.Png(900, 10, colorType: 2, bitDepth: 8, new byte[900 * 10 * 3]));
        ImageLoader.LoadInto(path, spec, new float[3 * 3 * 401]);
    }
}
