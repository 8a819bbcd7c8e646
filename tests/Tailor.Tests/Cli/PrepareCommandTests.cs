using System.Text.Json;
using Tailor.Tests.Images;

namespace Tailor.Tests.Cli;

/// <summary><c>tailor prepare</c> as a user runs it: what it marks updatable and which training defaults it
/// writes, with no options and with <c>--preset reference</c>, as <c>tailor info --json</c> reports them.</summary>
[Trait("Category", "Slow")]
public sealed class PrepareCommandTests : IDisposable
{
    private readonly TempFolder _dir = new();

    public void Dispose() => _dir.Dispose();

    private static JsonElement Info(string model)
    {
        var r = CliRunner.Run("info", model, "--json");
        Assert.True(r.ExitCode == 0, r.Stderr);
        return JsonDocument.Parse(r.Stdout).RootElement.Clone();
    }

    private static string[] UpdatableLayers(JsonElement info) =>
        info.GetProperty("updatable_layers").EnumerateArray().Select(l => l.GetProperty("name").GetString()!).ToArray();

    [Fact]
    public void NoOptions_FineTunesTheLastConvolution_WithAugmentationAndACosineSchedule()
    {
        string model = _dir.File("default.onnx");
        var r = CliRunner.Run("prepare", "--labels", "✊,✋,✌️", "--out", model);
        Assert.True(r.ExitCode == 0, r.Stderr);

        var info = Info(model);
        Assert.Equal(["Convolution387", "BatchNormalization389", "classifier"], UpdatableLayers(info));
        Assert.Equal("adam", info.GetProperty("optimizer").GetString());
        Assert.Equal("flip,rotate:15,crop:0.8,variants:4", info.GetProperty("augmentation").GetString());
        Assert.Equal("cosine", info.GetProperty("lr_schedule").GetString());
        var hyper = info.GetProperty("hyperparameters");
        Assert.Equal(0.005, hyper.GetProperty("learning_rate").GetProperty("default").GetDouble());
        Assert.Equal(32, hyper.GetProperty("batch_size").GetProperty("default").GetInt32());
        Assert.Equal(40, hyper.GetProperty("epochs").GetProperty("default").GetInt32());
    }

    [Fact]
    public void ReferencePreset_IsTheReferenceApp_ClassifierOnly_Sgd_NoAugmentation_ConstantRate()
    {
        string model = _dir.File("reference.onnx");
        var r = CliRunner.Run("prepare", "--labels", "✊,✋,✌️", "--preset", "reference", "--out", model);
        Assert.True(r.ExitCode == 0, r.Stderr);

        var info = Info(model);
        Assert.Equal(["classifier"], UpdatableLayers(info));
        Assert.Equal("sgd", info.GetProperty("optimizer").GetString());
        Assert.Equal("none", info.GetProperty("augmentation").GetString());
        Assert.Equal("constant", info.GetProperty("lr_schedule").GetString());
        Assert.Equal(0.001, info.GetProperty("hyperparameters").GetProperty("learning_rate").GetProperty("default").GetDouble());
        // The reference's network: raw features → dense → softmax (at lr 0.001 L2-normalized features learn nothing),
        // the classifier starting from zeros — as the library's PrepareOptions.Reference makes it.
        var written = UpdatableModel.Load(model);
        Assert.Equal("none", written.Spec.Notes["feature_normalization"]);
        Assert.Equal("features", written.Spec.Features);
        Assert.All(written.GetParameter("classifier.weight"), w => Assert.Equal(0f, w));
    }

    [Fact]
    public void WeightedLossTerms_AreStored_AndInfoShowsThem()
    {
        string model = _dir.File("two-losses.onnx");
        var r = CliRunner.Run("prepare", "--labels", "✊,✋,✌️", "--loss", "cross-entropy,mse@logits:0.5", "--out", model);
        Assert.True(r.ExitCode == 0, r.Stderr);

        var info = Info(model);
        Assert.Equal(1, info.GetProperty("loss").GetProperty("weight").GetDouble());
        var more = info.GetProperty("additional_losses").EnumerateArray().Single();
        Assert.Equal("mean_squared_error", more.GetProperty("type").GetString());
        Assert.Equal("logits", more.GetProperty("input").GetString());
        Assert.Equal(0.5, more.GetProperty("weight").GetDouble());
        var text = CliRunner.Run("info", model);
        Assert.Contains("0.5 × MeanSquaredError on 'logits'", text.Stdout.ReplaceLineEndings(" "));
    }

    [Fact]
    public void ExpandingWithFrom_KeepsTheModelsLossTerms_UnlessLossIsGiven()
    {
        string model = _dir.File("terms.onnx"), kept = _dir.File("kept.onnx"), replaced = _dir.File("replaced.onnx");
        Assert.Equal(0, CliRunner.Run("prepare", "--labels", "a,b", "--updatable", "classifier", "--loss", "cross-entropy,mse@logits:0.5", "--out", model).ExitCode);

        var r = CliRunner.Run("prepare", "--from", model, "--capacity", "12", "--out", kept);
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Equal(0.5, Info(kept).GetProperty("additional_losses")[0].GetProperty("weight").GetDouble());

        r = CliRunner.Run("prepare", "--from", model, "--capacity", "12", "--loss", "mse:2", "--out", replaced);
        Assert.True(r.ExitCode == 0, r.Stderr);
        var info = Info(replaced);
        Assert.Equal("mean_squared_error", info.GetProperty("loss").GetProperty("type").GetString());
        Assert.Equal(2, info.GetProperty("loss").GetProperty("weight").GetDouble());
        Assert.False(info.TryGetProperty("additional_losses", out _));
    }

    [Theory]
    [InlineData("cross-entropy,huber", "allowed: cross-entropy (cce) or mse")]
    [InlineData("cross-entropy,mse@no_such_tensor", "'no_such_tensor', which is not a tensor of the graph")]
    [InlineData("mse@logits", "the first term")]
    public void BadLoss_ExitsNonZero_NamingIt_AndWritesNothing(string loss, string expected)
    {
        string model = _dir.File("bad-loss.onnx");
        var r = CliRunner.Run("prepare", "--labels", "a,b", "--loss", loss, "--out", model);
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains(expected, r.Stderr.ReplaceLineEndings(" "));
        Assert.False(File.Exists(model));
    }

    [Fact]
    public void BadSchedule_ExitsNonZero_NamingIt_AndWritesNothing()
    {
        string model = _dir.File("bad.onnx");
        var r = CliRunner.Run("prepare", "--labels", "a", "--schedule", "wavy", "--out", model);
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains("--schedule", r.Stderr);
        Assert.Contains("wavy", r.Stderr);
        Assert.False(File.Exists(model));
    }
}
