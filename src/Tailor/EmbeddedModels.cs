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

    private static string Find(string relative)
    {
        foreach (var dir in new[] { AppContext.BaseDirectory, Path.GetDirectoryName(typeof(EmbeddedModels).Assembly.Location) ?? "" })
        {
            string p = Path.Combine(dir, relative);
            if (File.Exists(p)) return p;
        }
        throw new TailorException(
            $"The embedded model '{relative}' is missing next to the application ({AppContext.BaseDirectory}). " +
            "It comes from the NuGet package Microsoft.ML.DnnImageFeaturizer.ResNet18; run 'dotnet restore' and build again, or pass --base PATH.onnx.");
    }
}
