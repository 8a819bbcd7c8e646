using System.Text.Json;
using Tailor.Tests.Images;

namespace Tailor.Tests.Cli;

/// <summary>A model whose weights give NaN, and a model ONNX Runtime cannot load, end in a clear error naming the
/// model (exit code 1) in every command — never an unhandled exception or a label predicted from NaN.</summary>
[Trait("Category", "Slow")]
public sealed class ModelFailureTests(PreparedModelFixture fixture) : IClassFixture<PreparedModelFixture>, IDisposable
{
    private readonly TempFolder _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <summary>The prepared model with its classifier weight set to NaN.</summary>
    private string NaNModel()
    {
        var model = fixture.Load();
        string weight = model.Spec.UpdatableLayers.Single(l => l.Name == model.Spec.Classifier).Parameters[0];
        var values = model.GetParameter(weight);
        Array.Fill(values, float.NaN);
        model.SetParameter(weight, values);
        string path = _dir.File("nan.onnx");
        model.Save(path);
        return path;
    }

    /// <summary>The prepared model with its first node's op type replaced by one ONNX Runtime does not know.</summary>
    private string BrokenModel()
    {
        var model = fixture.Load();
        model.Proto.Graph.Node[0].OpType = "NoSuchOp";
        string path = _dir.File("broken.onnx");
        model.Save(path);
        return path;
    }

    private static void AssertNaNError(CliRunner.Result r, string model)
    {
        Assert.True(r.ExitCode == 1, $"exit {r.ExitCode}\n{r.Stdout}\n{r.Stderr}");
        Assert.Contains(model, r.Stderr);
        Assert.Contains("NaN", r.Stderr);
        Assert.DoesNotContain("Exception", r.Stderr);
        Assert.DoesNotContain("   at ", r.Stderr);
        // No label is reported as predicted from NaN probabilities.
        foreach (var label in new[] { "✊", "✋", "✌️" }) Assert.DoesNotContain(label, r.Stdout);
    }

    [Fact]
    public void Evaluate_NaNModel_IsAClearError_NamingModelAndImage()
    {
        string model = NaNModel();
        string data = _dir.HandsSubset("data", ("✊", "✊", 1), ("✋", "✋", 1));
        var r = CliRunner.Run("evaluate", model, "--data", data);
        AssertNaNError(r, model);
        Assert.Contains(".jpg", r.Stderr);
        var j = CliRunner.Run("evaluate", model, "--data", data, "--json");
        AssertNaNError(j, model);
        // stdout stays empty or valid JSON.
        if (j.Stdout.Trim().Length > 0) JsonDocument.Parse(j.Stdout).Dispose();
    }

    [Fact]
    public void Predict_NaNModel_IsAClearError_InEveryFormat()
    {
        string model = NaNModel();
        string photo = Directory.GetFiles(Path.Combine(TestData.HandsTest, "✊"))[0];
        foreach (var format in new[] { "table", "csv", "json" })
        {
            var r = CliRunner.Run("predict", model, photo, "--format", format);
            AssertNaNError(r, model);
            Assert.Contains(Path.GetFileName(photo), r.Stderr);
            if (format == "json" && r.Stdout.Trim().Length > 0) JsonDocument.Parse(r.Stdout).Dispose();
        }
    }

    [Fact]
    public void Predictor_NaNModel_ThrowsTailorException()
    {
        using var predictor = new Tailor.Prediction.Predictor(UpdatableModel.Load(NaNModel()));
        string photo = Directory.GetFiles(Path.Combine(TestData.HandsTest, "✋"))[0];
        var e = Assert.Throws<TailorException>(() => predictor.Predict(photo));
        Assert.Contains("NaN", e.Message);
        Assert.Contains(photo, e.Message);
    }

    [Theory]
    [InlineData("train")]
    [InlineData("evaluate")]
    [InlineData("predict")]
    public void ModelOnnxRuntimeCannotLoad_IsAClearError(string command)
    {
        string model = BrokenModel();
        string data = _dir.HandsSubset("data", ("✊", "✊", 1), ("✋", "✋", 1));
        string[] args = command switch
        {
            "train" => ["train", model, "--data", data, "--epochs", "1", "--out", _dir.File("out.onnx")],
            "evaluate" => ["evaluate", model, "--data", data],
            _ => ["predict", model, Directory.GetFiles(Path.Combine(data, "✊"))[0]],
        };
        var r = CliRunner.Run(args);
        Assert.True(r.ExitCode == 1, $"exit {r.ExitCode}\n{r.Stdout}\n{r.Stderr}");
        Assert.Contains(model, r.Stderr);
        Assert.Contains("ONNX Runtime", r.Stderr);
        Assert.DoesNotContain("   at ", r.Stderr);
        Assert.False(File.Exists(_dir.File("out.onnx")));
    }
}
