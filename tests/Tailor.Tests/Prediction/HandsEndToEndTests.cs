using System.Text.Json;
using Tailor.Data;
using Tailor.Features;
using Tailor.Images;
using Tailor.Prediction;
using Tailor.Tests.Cli;

namespace Tailor.Tests.Prediction;

/// <summary>
/// prepare → info → predict → evaluate on the reference app's real photos with the embedded ResNet18.
/// The classifier is set to the class centroids of the training features (nearest-centroid on
/// L2-normalized ResNet18 features) — no trainer involved, so this checks the whole image → features →
/// probabilities path: decoding, resizing, the package's normalization, the cut and the head.
/// </summary>
[Trait("Category", "Slow")]
public class HandsEndToEndTests(PreparedModelFixture fixture) : IClassFixture<PreparedModelFixture>
{
    private string CentroidModel()
    {
        string path = Path.Combine(fixture.Directory, "centroid.onnx");
        if (File.Exists(path)) return path;
        var model = fixture.Load();
        var train = LabeledFolder.Scan(TestData.HandsTrain);
        // The centroids live in the classifier's input space: cut there, whatever else the model fine-tunes.
        var cut = GraphCut.Compute(model.Proto.Graph, model.Spec with { UpdatableLayers = [model.Spec.UpdatableLayers.Single(l => l.Name == "classifier")] });
        Assert.Equal(["features_l2"], cut.CutTensors);
        using var extractor = new FeatureExtractor(model, cut);
        Assert.Equal(512, extractor.FeatureLength);
        var (images, results) = ImageLoader.LoadBatch(train.Examples.Select(e => e.Path).ToList(), model.Spec.Preprocessing);
        Assert.All(results, r => Assert.Null(r.Error));
        var features = new float[train.Examples.Count * 512];
        extractor.Extract(images, train.Examples.Count, features);
        var w = new float[10 * 512];
        for (int i = 0; i < train.Examples.Count; i++)
        {
            int slot = model.Spec.Labels.IndexOf(train.Examples[i].Label);
            for (int d = 0; d < 512; d++) w[slot * 512 + d] += 20f * features[i * 512 + d] / 10;   // 20 × centroid: a confident softmax
        }
        model.SetParameter("classifier.weight", w);
        model.SetParameter("classifier.bias", new float[10]);
        model.Save(path);
        return path;
    }

    [Fact]
    public void Evaluate_OnHandsTest_WithCentroidHead_IsWellAboveChance()
    {
        using var predictor = new Predictor(UpdatableModel.Load(CentroidModel()));
        var report = Evaluator.Evaluate(predictor, LabeledFolder.Scan(TestData.HandsTest));
        Assert.Equal(15, report.Count);
        Assert.Empty(report.Skipped);
        // DESIGN.md measured 9–11/15 for k-NN-like heads on these features; chance is 5/15.
        Assert.InRange(report.Correct, 9, 15);
        Assert.Equal(15, report.Confusion.Matrix.Sum(r => r.Sum()));
        Assert.Equal(report.Correct, Enumerable.Range(0, report.Confusion.Labels.Count).Sum(i => report.Confusion.Matrix[i][i]));
        Assert.All(report.PerLabel.Values, l => Assert.Equal(5, l.Count));
        Assert.Equal(report.Examples.Average(e => -Math.Log(e.TrueProbability + 1e-12)), report.Loss, 6);
    }

    [Fact]
    public void Cli_InfoPredictEvaluate_Json_FollowsTheContract()
    {
        string model = CentroidModel();
        var info = CliRunner.Run("info", model, "--json");
        Assert.Equal(0, info.ExitCode);
        using (var doc = JsonDocument.Parse(info.Stdout))
        {
            var root = doc.RootElement;
            foreach (var key in new[] { "labels", "capacity", "placeholders", "updatable_layers", "loss", "optimizer", "hyperparameters" })
                Assert.True(root.TryGetProperty(key, out _), key);
            Assert.Equal(10, root.GetProperty("capacity").GetInt32());
            Assert.Equal("✌️", root.GetProperty("labels")[2].GetString());
            Assert.Equal(7, root.GetProperty("placeholders").GetArrayLength());
            var batch = root.GetProperty("hyperparameters").GetProperty("batch_size");
            Assert.Equal(32, batch.GetProperty("default").GetInt32());
            Assert.True(batch.GetProperty("allowed").TryGetProperty("set", out _));
        }

        string fist = Directory.GetFiles(Path.Combine(TestData.HandsTest, "✊"))[0];
        var predict = CliRunner.Run("predict", model, fist, "--json", "--top", "2");
        Assert.Equal(0, predict.ExitCode);
        using (var doc = JsonDocument.Parse(predict.Stdout))
        {
            var row = doc.RootElement[0];
            Assert.Equal(fist, row.GetProperty("path").GetString());
            Assert.Equal(2, row.GetProperty("top").GetArrayLength());
            Assert.Equal(row.GetProperty("label").GetString(), row.GetProperty("top")[0].GetProperty("label").GetString());
        }

        var evaluate = CliRunner.Run("evaluate", model, "--data", TestData.HandsTest, "--json");
        Assert.Equal(0, evaluate.ExitCode);
        using (var doc = JsonDocument.Parse(evaluate.Stdout))
        {
            var root = doc.RootElement;
            foreach (var key in new[] { "accuracy", "loss", "count", "per_label", "confusion", "examples", "skipped" })
                Assert.True(root.TryGetProperty(key, out _), key);
            Assert.Equal(15, root.GetProperty("count").GetInt32());
            Assert.InRange(root.GetProperty("accuracy").GetDouble(), 0.6, 1.0);
            var example = root.GetProperty("examples")[0];
            foreach (var key in new[] { "path", "label", "predicted", "probability", "true_probability" })
                Assert.True(example.TryGetProperty(key, out _), key);
            Assert.Equal(5, root.GetProperty("per_label").GetProperty("✌️").GetProperty("count").GetInt32());
            Assert.Equal(root.GetProperty("confusion").GetProperty("labels").GetArrayLength(), root.GetProperty("confusion").GetProperty("matrix").GetArrayLength());
        }
    }

    [Fact]
    public void Evaluate_SkipsCorruptFilesAndListsThem_StrictFails_UnknownLabelFails()
    {
        string model = CentroidModel();
        string data = Directory.CreateTempSubdirectory("tailor-eval").FullName;
        foreach (var label in new[] { "✊", "✋" })
        {
            Directory.CreateDirectory(Path.Combine(data, label));
            foreach (var f in Directory.GetFiles(Path.Combine(TestData.HandsTest, label)).Take(2))
                File.Copy(f, Path.Combine(data, label, Path.GetFileName(f)));
        }
        string bad = Path.Combine(data, "✊", "broken.jpg");
        File.WriteAllBytes(bad, [0xFF, 0xD8, 0xFF, 0xE0, 0, 16, (byte)'J', (byte)'F']);

        var skip = CliRunner.Run("evaluate", model, "--data", data, "--json");
        Assert.Equal(0, skip.ExitCode);
        using (var doc = JsonDocument.Parse(skip.Stdout))
        {
            Assert.Equal(4, doc.RootElement.GetProperty("count").GetInt32());
            var skipped = doc.RootElement.GetProperty("skipped")[0];
            Assert.Equal(bad, skipped.GetProperty("path").GetString());
            Assert.Contains("broken.jpg", skipped.GetProperty("reason").GetString());
        }

        var strict = CliRunner.Run("evaluate", model, "--data", data, "--strict");
        Assert.NotEqual(0, strict.ExitCode);
        Assert.Contains("broken.jpg", strict.Stderr);

        Directory.CreateDirectory(Path.Combine(data, "🖖"));
        File.Copy(Directory.GetFiles(Path.Combine(TestData.HandsTest, "✋"))[0], Path.Combine(data, "🖖", "a.jpg"));
        var unknown = CliRunner.Run("evaluate", model, "--data", data);
        Assert.Equal(1, unknown.ExitCode);
        Assert.Contains("🖖", unknown.Stderr);
        Assert.Contains("not among the model's labels", unknown.Stderr);

        var missing = CliRunner.Run("evaluate", model, "--data", Path.Combine(data, "nope"));
        Assert.Equal(1, missing.ExitCode);
        Assert.Contains("does not exist", missing.Stderr);
        Directory.Delete(data, true);
    }

    [Fact]
    public void Cli_Prepare_BadInput_ExitsNonZero_AndWritesNothing()
    {
        string outPath = Path.Combine(fixture.Directory, "never.onnx");
        var r = CliRunner.Run("prepare", "--labels", "a,b,c", "--capacity", "2", "--out", outPath);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("3 labels do not fit in 2 slots", r.Stderr);
        r = CliRunner.Run("prepare", "--updatable", "nope", "--out", outPath);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("no layer named 'nope'", r.Stderr);
        r = CliRunner.Run("prepare", "--lr", "5", "--out", outPath);
        Assert.Equal(2, r.ExitCode);   // a usage error: the flag's value is outside the allowed values
        Assert.Contains("--lr 5 is outside the allowed values, in [0, 1]", r.Stderr);
        Assert.False(File.Exists(outPath));
        Assert.Empty(Directory.GetFiles(fixture.Directory, "*.tmp"));
    }
}
