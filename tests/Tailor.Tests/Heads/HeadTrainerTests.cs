using System.Text.Json;
using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using Tailor.Data;
using Tailor.Heads;
using Tailor.Images;
using Tailor.Prediction;
using Tailor.Spec;
using Tailor.Tests.Cli;
using Tailor.Tests.Images;
using Tailor.Training;

namespace Tailor.Tests.Heads;

/// <summary>
/// The k-NN and logistic-regression heads trained on the embedded ResNet18's features of the real hands
/// photos, written into the model, and run by a bare ONNX Runtime session with no Tailor code.
/// </summary>
[Trait("Category", "Slow")]
public sealed class HeadTrainerTests(PreparedModelFixture fixture) : IClassFixture<PreparedModelFixture>, IDisposable
{
    private readonly TempFolder _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <summary>The hands test photos as one preprocessed batch.</summary>
    private static (float[] Images, int Count, LabeledFolder Folder) TestBatch(UpdatableModel model)
    {
        var test = LabeledFolder.Scan(TestData.HandsTest);
        var (images, results) = ImageLoader.LoadBatch(test.Examples.Select(e => e.Path).ToList(), model.Spec.Preprocessing);
        Assert.All(results, r => Assert.Null(r.Error));
        return (images, test.Examples.Count, test);
    }

    /// <summary>Probabilities and labels from a bare InferenceSession on the saved file.</summary>
    private static (float[] Probabilities, string[] Labels, long[] Shape) BareOrt(string path, float[] images, int count)
    {
        using var session = new InferenceSession(path);
        using var input = OrtValue.CreateTensorValueFromMemory(images, [count, 3, 224, 224]);
        using var outputs = session.Run(new RunOptions(), ["image"], [input], ["probabilities", "label"]);
        return (outputs[0].GetTensorDataAsSpan<float>().ToArray(), outputs[1].GetStringTensorAsArray(), outputs[0].GetTensorTypeAndShape().Shape);
    }

    private static void AssertSameAsPredictor(UpdatableModel model, string path, float[] images, int count)
    {
        using var predictor = new Predictor(UpdatableModel.Load(path));
        var ours = predictor.Predict(images, count);
        var (probabilities, labels, shape) = BareOrt(path, images, count);
        int classes = (int)shape[1];
        Assert.Equal(model.Spec.Labels.Capacity, classes);
        for (int n = 0; n < count; n++)
        {
            for (int c = 0; c < classes; c++) Assert.Equal(probabilities[n * classes + c], ours[n].Probabilities[c], 1e-5f);
            Assert.Equal(ours[n].Label, labels[n]);
        }
    }

    [Fact]
    public void LogisticRegression_OnHands_RunsOnBareOrt_AndGoesOnTrainingWithAdam()
    {
        var model = fixture.Load();
        var train = LabeledFolder.Scan(TestData.HandsTrain);
        var result = HeadTrainer.TrainLogisticRegression(model, train);
        Assert.True(result.Lbfgs!.Converged, result.Lbfgs.Message);
        Assert.Equal(30, result.Examples);
        Assert.Equal(HeadKind.LogisticRegression, model.Spec.Head);
        string path = _dir.File("logreg.onnx");
        model.Save(path);

        var (images, count, test) = TestBatch(model);
        AssertSameAsPredictor(model, path, images, count);
        // Placeholder slots had no examples: they are never predicted.
        var (probabilities, labels, _) = BareOrt(path, images, count);
        Assert.All(labels, l => Assert.Contains(l, new[] { "✊", "✋", "✌️" }));
        for (int n = 0; n < count; n++)
            for (int c = 3; c < 10; c++) Assert.True(probabilities[n * 10 + c] < 1e-6f);

        // Continue with Adam from the L-BFGS weights (the reference's "Turi model, made updatable" path):
        // the first epoch starts where L-BFGS stopped — far below a fresh classifier's loss.
        // On the photos L-BFGS saw (no augmented variants), so its fit is what the first epoch starts from.
        var continuing = new TrainingOptions { Epochs = 2, LearningRate = 0.001, Augmentation = AugmentationOptions.None };
        var fromLbfgs = new UpdateTask(UpdatableModel.Load(path), train, options: continuing).Run();
        var fromScratch = new UpdateTask(fixture.Load(), train, options: continuing).Run();
        Assert.Equal(TrainingState.Completed, fromLbfgs.State);
        double continued = fromLbfgs.History.Epochs[0].TrainLossMean, scratch = fromScratch.History.Epochs[0].TrainLossMean;
        Assert.True(continued < 0.5 * scratch, $"first-epoch loss from L-BFGS weights {continued}, from Kaiming {scratch}");
        Assert.True(fromLbfgs.History.Epochs[0].TrainAccuracy >= 0.9, $"first-epoch accuracy {fromLbfgs.History.Epochs[0].TrainAccuracy}");
    }

    [Fact]
    public void Knn_AddsExamplesIncrementally_AndRunsOnBareOrt()
    {
        var model = fixture.Load();
        var train = LabeledFolder.Scan(TestData.HandsTrain);
        string first = MakeFolder("first", train, take: 2), second = MakeFolder("second", train, skip: 2, take: 8);

        var a = HeadTrainer.TrainKnn(model, LabeledFolder.Scan(first), new KnnTrainingOptions { K = 3 });
        Assert.Equal(6, a.StoredExamples);
        string pathA = _dir.File("knn-a.onnx");
        model.Save(pathA);

        var b = HeadTrainer.TrainKnn(model, LabeledFolder.Scan(second));
        Assert.Equal(30, b.StoredExamples);
        Assert.Equal(3, (int)model.Spec.Hyperparameters[HyperparameterNames.K].Default);   // k is kept from the first call
        Assert.Equal(HeadKind.KNearestNeighbors, model.Spec.Head);
        string pathB = _dir.File("knn-b.onnx");
        model.Save(pathB);

        var (images, count, test) = TestBatch(model);
        AssertSameAsPredictor(model, pathB, images, count);
        // A k-NN has no gradient-trained layer: the neural-network trainer says so and what to do instead.
        var e = Assert.Throws<TailorException>(() => new UpdateTask(UpdatableModel.Load(pathB), LabeledFolder.Scan(first)).Run());
        Assert.Contains("k-NN head", e.Message);
        Assert.Contains("HeadTrainer.TrainKnn", e.Message);
        // More examples, better answers: all 30 photos beat the first 6 on the test set.
        int Correct(string path)
        {
            using var predictor = new Predictor(UpdatableModel.Load(path));
            return Evaluator.Evaluate(predictor, test).Correct;
        }
        int few = Correct(pathA), all = Correct(pathB);
        Assert.True(all >= few, $"6 examples: {few}/15, 30 examples: {all}/15");
        Assert.InRange(all, 9, 15);
    }

    [Fact]
    public void Cli_KnnTwice_AddsToTheStoredExamples_AndInfoEvaluatePredictWork()
    {
        var train = LabeledFolder.Scan(TestData.HandsTrain);
        string first = MakeFolder("cli-first", train, take: 3), second = MakeFolder("cli-second", train, skip: 3, take: 7);
        string model = _dir.File("cli-knn.onnx");
        File.Copy(fixture.Path, model);

        var r1 = CliRunner.Run("train", model, "--head", "knn", "--data", first, "--augment", "none", "--json");
        Assert.True(r1.ExitCode == 0, r1.Stderr);
        Assert.Equal(9, JsonDocument.Parse(r1.Stdout).RootElement.GetProperty("stored_examples").GetInt32());
        var r2 = CliRunner.Run("train", model, "--head", "knn", "--data", second, "--augment", "none", "--json");
        Assert.True(r2.ExitCode == 0, r2.Stderr);
        Assert.Equal(30, JsonDocument.Parse(r2.Stdout).RootElement.GetProperty("stored_examples").GetInt32());

        var info = CliRunner.Run("info", model, "--json");
        Assert.True(info.ExitCode == 0, info.Stderr);
        var infoJson = JsonDocument.Parse(info.Stdout).RootElement;
        // The k-NN keeps the prepared slots, free placeholders included.
        Assert.Equal(["✊", "✋", "✌️", "user0", "user1", "user2", "user3", "user4", "user5", "user6"],
            infoJson.GetProperty("labels").EnumerateArray().Select(l => l.GetString()).ToList());
        Assert.Equal("knn", infoJson.GetProperty("head").GetString());
        Assert.Equal(30, infoJson.GetProperty("knn").GetProperty("stored_examples").GetInt32());
        Assert.Equal(512, infoJson.GetProperty("knn").GetProperty("dimension").GetInt32());
        Assert.Contains("30 stored examples", CliRunner.Run("info", model).Stdout);

        var eval = CliRunner.Run("evaluate", model, "--data", TestData.HandsTest, "--json");
        Assert.True(eval.ExitCode == 0, eval.Stderr);
        Assert.Equal(15, JsonDocument.Parse(eval.Stdout).RootElement.GetProperty("count").GetInt32());

        var predict = CliRunner.Run("predict", model, LabeledFolder.Scan(TestData.HandsTest).Examples[0].Path, "--json");
        Assert.True(predict.ExitCode == 0, predict.Stderr);
        Assert.Contains("✊", predict.Stdout);

        var badK = CliRunner.Run("train", model, "--head", "knn", "--data", first, "--k", "0");
        Assert.Equal(2, badK.ExitCode);
        Assert.Contains("--k: '0' is not allowed; give a whole number from 1 to 100", badK.Stderr);
    }

    [Fact]
    public void ATrainingThatFails_LeavesTheModelUnchanged()
    {
        // A new label and an unreadable photo: the failure comes after the labels were planned, and the model must not
        // have taken the new label (nor anything else) by then: a head changes the model only when its result is committed.
        string data = _dir.HandsSubset("failing", ("✊", "✊", 2), ("✋", "✋", 2), ("✌️", "star", 2));
        File.WriteAllText(Path.Combine(data, "star", "broken.jpg"), "not a picture");
        var model = fixture.Load();
        var labels = model.Spec.Labels.Names.ToList();
        var proto = model.Proto.ToByteArray();

        var e = Assert.Throws<TailorException>(() => HeadTrainer.TrainLogisticRegression(model, LabeledFolder.Scan(data)));
        Assert.Contains("broken.jpg", e.Message);
        Assert.Equal(labels, model.Spec.Labels.Names);
        Assert.Equal(proto, model.Proto.ToByteArray());
    }

    /// <summary>Copies photos [skip, skip + take) of each label into a temporary labelled folder.</summary>
    private string MakeFolder(string name, LabeledFolder source, int take, int skip = 0)
    {
        string root = Path.Combine(_dir.Path, name);
        foreach (var label in source.Labels)
        {
            string dir = Directory.CreateDirectory(Path.Combine(root, label)).FullName;
            foreach (var e in source.ExamplesOf(label).Skip(skip).Take(take))
                File.Copy(e.Path, Path.Combine(dir, Path.GetFileName(e.Path)));
        }
        return root;
    }
}
