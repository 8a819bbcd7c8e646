using Tailor.Data;
using Tailor.Features;
using Tailor.Heads;
using Tailor.Onnx;
using Tailor.Prediction;
using Tailor.Tests.Cli;
using Tailor.Training;

namespace Tailor.Tests.Features;

/// <summary>The frozen part runs on the ONNX Runtime execution provider asked for (library: an <c>ExecutionProvider</c>
/// option; CLI: <c>--device</c>); one that this machine's ONNX Runtime (the CPU package) lacks is a clear error naming
/// what it has and which package brings the one asked for.</summary>
public class ExecutionProviderTests(PreparedModelFixture fixture) : IClassFixture<PreparedModelFixture>
{
    private static string Photo => LabeledFolder.Scan(TestData.HandsTest).Examples[0].Path;

    [Fact]
    public void Available_HasCpu_AndNotCuda_OnTheCpuPackage()
    {
        Assert.Contains(ExecutionProviders.Cpu, ExecutionProviders.Available);
        // The tests below need a provider this ONNX Runtime lacks; Microsoft.ML.OnnxRuntime (CPU) has no CUDA.
        Assert.DoesNotContain("cuda", ExecutionProviders.Available);
    }

    [Fact]
    public void Predictor_OnCpu_GivesWhatTheDefaultGives()
    {
        var model = fixture.Load();
        using var byDefault = new Predictor(model);
        using var onCpu = new Predictor(model, new PredictorOptions { ExecutionProvider = "cpu" });
        using var byOrtName = new Predictor(model, new PredictorOptions { ExecutionProvider = "CPUExecutionProvider" });
        var expected = byDefault.Predict(Photo).Probabilities;
        Assert.Equal(expected, onCpu.Predict(Photo).Probabilities);
        Assert.Equal(expected, byOrtName.Predict(Photo).Probabilities);
    }

    [Fact]
    public void FeatureExtractor_OnCpu_GivesWhatTheDefaultGives()
    {
        var model = fixture.Load();
        var cut = GraphCut.Compute(model);
        using var byDefault = new FeatureExtractor(model, cut);
        using var onCpu = new FeatureExtractor(model, cut, "cpu");
        var image = new float[byDefault.ImageLength];
        for (int i = 0; i < image.Length; i++) image[i] = (i * 37 % 255) - 120;
        var a = new float[byDefault.FeatureLength];
        var b = new float[onCpu.FeatureLength];
        byDefault.Extract(image, 1, a);
        onCpu.Extract(image, 1, b);
        Assert.Equal(a, b);
        Assert.Contains(a, v => v != 0);
    }

    [Fact]
    public void Predictor_OnCuda_IsAClearError_NamingWhatIsAvailable()
    {
        var e = Assert.Throws<TailorException>(() => new Predictor(fixture.Load(), new PredictorOptions { ExecutionProvider = "cuda" }));
        AssertNamesCudaAndTheAvailable(e.Message);
    }

    [Fact]
    public async Task UpdateTask_OnCuda_IsAClearError_BeforeAnyFeatureIsComputed()
    {
        var model = fixture.Load();
        var task = new UpdateTask(model, LabeledFolder.Scan(TestData.HandsTrain), options: new TrainingOptions { Epochs = 1, ExecutionProvider = "cuda" });
        int featured = 0;
        task.FeaturesProgress += (_, _) => featured++;
        var e = await Assert.ThrowsAsync<TailorException>(() => task.RunAsync());
        AssertNamesCudaAndTheAvailable(e.Message);
        Assert.Equal(0, featured);
    }

    [Fact]
    public void HeadTrainer_OnCuda_IsAClearError()
    {
        var e = Assert.Throws<TailorException>(() =>
            HeadTrainer.TrainLogisticRegression(fixture.Load(), LabeledFolder.Scan(TestData.HandsTrain), new LogisticRegressionTrainingOptions { ExecutionProvider = "cuda" }));
        AssertNamesCudaAndTheAvailable(e.Message);
    }

    [Theory]
    [InlineData("gpu", "'gpu' is not an execution provider; use one of cpu, cuda, tensorrt, directml, coreml, openvino, qnn, xnnpack")]
    [InlineData("cpu:1", "The execution provider 'cpu' takes no device index ('cpu:1')")]
    [InlineData("cuda:x", "'cuda:x': the device index after 'cuda:' must be a whole number ≥ 0.")]
    public void BadNames_AreClearErrors(string name, string expected)
    {
        var e = Assert.Throws<TailorException>(() => ExecutionProviders.Check(name));
        Assert.StartsWith(expected, e.Message);
    }

    [Theory]
    [InlineData("predict")]
    [InlineData("evaluate")]
    [InlineData("train")]
    public void Cli_DeviceCuda_IsAClearError(string command)
    {
        string[] args = command switch
        {
            "predict" => ["predict", fixture.Path, Photo, "--device", "cuda"],
            "evaluate" => ["evaluate", fixture.Path, "--data", TestData.HandsTest, "--device", "cuda"],
            _ => ["train", fixture.Path, "--data", TestData.HandsTrain, "--out", Path.Combine(fixture.Directory, "never.onnx"), "--device", "cuda"],
        };
        var r = CliRunner.Run(args);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("--device cuda: ", r.Stderr);
        AssertNamesCudaAndTheAvailable(r.Stderr);
        Assert.DoesNotContain("   at ", r.Stderr);   // no stack trace
        Assert.False(File.Exists(Path.Combine(fixture.Directory, "never.onnx")));
    }

    [Fact]
    public void Cli_DeviceNotAProvider_IsAUsageError()
    {
        var r = CliRunner.Run("predict", fixture.Path, Photo, "--device", "gpu");
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("--device gpu: 'gpu' is not an execution provider; use one of cpu, cuda,", r.Stderr);
    }

    [Fact]
    public void Cli_DeviceCpu_Predicts()
    {
        var r = CliRunner.Run("predict", fixture.Path, Photo, "--device", "cpu", "--json");
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Contains("\"label\"", r.Stdout);
    }

    private static void AssertNamesCudaAndTheAvailable(string message)
    {
        Assert.Contains("'cuda' (CUDAExecutionProvider) is not in the installed ONNX Runtime", message);
        Assert.Contains("cpu (CPUExecutionProvider)", message);
        Assert.Contains("Microsoft.ML.OnnxRuntime.Gpu", message);
    }
}
