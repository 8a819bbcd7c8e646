using Tailor.Images;
using Tailor.Prediction;
using Tailor.Tests.Images;

namespace Tailor.Tests.Prediction;

/// <summary>An image held in memory (an upload, a webcam frame) is predicted exactly as the same bytes in a file are, with
/// the same checks and messages that name it.</summary>
public sealed class InMemoryPredictTests(PreparedModelFixture prepared) : IClassFixture<PreparedModelFixture>
{
    [Fact]
    public void PredictBytes_EqualsPredictFile_ForEveryHandsTestPhoto()
    {
        using var predictor = new Predictor(prepared.Load());
        var spec = predictor.Model.Spec.Preprocessing;
        foreach (var path in Directory.GetFiles(TestData.HandsTest, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal).Take(6))
        {
            byte[] bytes = File.ReadAllBytes(path);
            var fromFile = predictor.Predict(path);
            var fromBytes = predictor.Predict(bytes, Path.GetFileName(path));
            Assert.Equal(fromFile.Label, fromBytes.Label);
            Assert.Equal(fromFile.Probabilities, fromBytes.Probabilities);

            var fileTensor = new float[ImageLoader.TensorLength(spec)];
            var bytesTensor = new float[fileTensor.Length];
            ImageLoader.LoadInto(path, spec, fileTensor);
            ImageLoader.LoadInto(bytes, "photo", spec, bytesTensor);
            Assert.Equal(fileTensor, bytesTensor);
        }
    }

    [Fact]
    public void PredictBytes_BadImages_NameTheImageAndTheReason()
    {
        using var predictor = new Predictor(prepared.Load());
        var empty = Assert.Throws<TailorException>(() => predictor.Predict([], "frame.jpg"));
        Assert.Equal("'frame.jpg' is empty (0 bytes), not an image.", empty.Message);
        var text = Assert.Throws<TailorException>(() => predictor.Predict("hello, not an image"u8, "notes.jpg"));
        Assert.StartsWith("'notes.jpg' is not an image Tailor can read (JPEG, PNG, BMP, GIF, WebP)", text.Message);
        var tiff = Assert.Throws<TailorException>(() => predictor.Predict("II*\0abcdefghijkl"u8, "scan.tif"));
        Assert.StartsWith("'scan.tif' is a TIFF image, which Tailor cannot read", tiff.Message);
        byte[] photo = File.ReadAllBytes(Directory.GetFiles(TestData.HandsTest, "*.jpg", SearchOption.AllDirectories).Order(StringComparer.Ordinal).First());
        var truncated = Assert.Throws<TailorException>(() => predictor.Predict(photo.AsSpan(0, photo.Length / 3), "cut.jpg"));
        Assert.Contains("'cut.jpg'", truncated.Message);
        var bomb = Assert.Throws<TailorException>(() => predictor.Predict(TestImages.PngHeaderOnly(40_000, 40_000), "bomb.png"));
        Assert.Contains("'bomb.png' is 40000×40000 pixels", bomb.Message);
    }
}
