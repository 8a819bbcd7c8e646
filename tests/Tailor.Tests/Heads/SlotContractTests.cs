using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using Onnx;
using Tailor.Building;
using Tailor.Data;
using Tailor.Heads;
using Tailor.Images;
using Tailor.Onnx;
using Tailor.Prediction;
using Tailor.Spec;
using Tailor.Tests.Building;
using Tailor.Tests.Images;
using Tailor.Training;

namespace Tailor.Tests.Heads;

/// <summary>
/// Labels and their order are the model's contract with the app that runs it: every head keeps the prepared labels in
/// their slots, a label without examples and a free placeholder get probability exactly 0 in plain ONNX Runtime, and no
/// graph Tailor writes carries an initializer nothing reads.
/// </summary>
[Trait("Category", "Slow")]
public sealed class SlotContractTests(PreparedModelFixture fixture) : IClassFixture<PreparedModelFixture>, IDisposable
{
    private static readonly string[] Prepared = ["✊", "✋", "✌️"];
    private readonly TempFolder _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <summary>A data folder with ✊ and ✋ (the prepared ✌️ left out) and a new label "star" (three ✌️ photos), three photos each.</summary>
    private LabeledFolder TwoPreparedAndOneNew(string name)
    {
        string root = _dir.File(name);
        foreach (var (label, source) in new[] { ("✊", "✊"), ("✋", "✋"), ("star", "✌️") })
        {
            Directory.CreateDirectory(Path.Combine(root, label));
            foreach (string photo in Directory.GetFiles(Path.Combine(TestData.HandsTrain, source)).Order().Take(3))
                File.Copy(photo, Path.Combine(root, label, Path.GetFileName(photo)));
        }
        return LabeledFolder.Scan(root);
    }

    private static UpdatableModel Train(UpdatableModel model, string head, LabeledFolder data)
    {
        switch (head)
        {
            case "nn":
                var result = new UpdateTask(model, data, options: new TrainingOptions { Epochs = 2, Augmentation = AugmentationOptions.None }).Run();
                Assert.Equal(TrainingState.Completed, result.State);
                Assert.All(result.History.Epochs, e => Assert.True(double.IsFinite(e.TrainLossMean), $"epoch loss {e.TrainLossMean}"));
                break;
            case "logreg":
                HeadTrainer.TrainLogisticRegression(model, data);
                break;
            case "knn":
                HeadTrainer.TrainKnn(model, data, new KnnTrainingOptions { K = 3 });
                break;
        }
        return model;
    }

    /// <summary>Probabilities [N, slots] and labels from a bare InferenceSession on the file, no Tailor code.</summary>
    private static (float[] Probabilities, string[] Labels, long[] Shape) BareOrt(string path, IReadOnlyList<string> photos)
    {
        var (images, results) = ImageLoader.LoadBatch(photos, new ImagePreprocessing { Width = 224, Height = 224 });
        Assert.All(results, r => Assert.Null(r.Error));
        using var session = new InferenceSession(path);
        using var input = OrtValue.CreateTensorValueFromMemory(images, [photos.Count, 3, 224, 224]);
        using var outputs = session.Run(new RunOptions(), ["image"], [input], ["probabilities", "label"]);
        return (outputs[0].GetTensorDataAsSpan<float>().ToArray(), outputs[1].GetStringTensorAsArray(), outputs[0].GetTensorTypeAndShape().Shape);
    }

    private static List<string> TestPhotos() =>
        [.. LabeledFolder.Scan(TestData.HandsTest).Examples.Select(e => e.Path)];

    /// <summary>Every initializer is read by a node or is a graph output (ONNX Runtime warns and drops any other).</summary>
    internal static void AssertNoUnusedInitializer(ModelProto model)
    {
        var read = model.Graph.Node.SelectMany(n => n.Input).Concat(model.Graph.Output.Select(o => o.Name)).ToHashSet();
        var unused = model.Graph.Initializer.Select(t => t.Name).Where(n => !read.Contains(n)).ToList();
        Assert.True(unused.Count == 0, $"unused initializers: {string.Join(", ", unused)}");
    }

    [Fact]
    public void FreshlyPreparedModel_GivesEveryPlaceholderExactlyZero_InPlainOnnxRuntime()
    {
        var (p, labels, shape) = BareOrt(fixture.Path, TestPhotos());
        Assert.Equal(10, shape[1]);
        Assert.All(labels, l => Assert.Contains(l, Prepared));
        for (int n = 0; n < labels.Length; n++)
        {
            for (int c = 0; c < 3; c++) Assert.True(p[n * 10 + c] > 0, $"image {n}, prepared slot {c}: {p[n * 10 + c]}");
            for (int c = 3; c < 10; c++) Assert.Equal(0f, p[n * 10 + c]);
            Assert.Equal(1f, p.Skip(n * 10).Take(10).Sum(), 1e-5f);
        }
        AssertNoUnusedInitializer(fixture.Load().Proto);
    }

    [Theory]
    [InlineData("nn")]
    [InlineData("logreg")]
    [InlineData("knn")]
    public void EveryHead_KeepsPreparedSlots_AndGivesUntrainedLabelsExactlyZero(string head)
    {
        var model = Train(fixture.Load(), head, TwoPreparedAndOneNew(head));

        // The prepared labels keep their slots; the new label takes the first free one; the rest stay placeholders.
        Assert.Equal(["✊", "✋", "✌️", "star", "user1", "user2", "user3", "user4", "user5", "user6"], model.Spec.Labels.Names);
        Assert.Equal(Enumerable.Range(4, 6), model.Spec.Labels.Placeholders);
        string path = _dir.File(head + ".onnx");
        model.Save(path);
        AssertNoUnusedInitializer(UpdatableModel.Load(path).Proto);

        var photos = TestPhotos();
        var (p, labels, shape) = BareOrt(path, photos);
        Assert.Equal(new long[] { photos.Count, 10 }, shape);
        Assert.All(labels, l => Assert.Contains(l, new[] { "✊", "✋", "star" }));
        for (int n = 0; n < photos.Count; n++)
        {
            Assert.Equal(0f, p[n * 10 + 2]);                              // ✌️: prepared, but no example in this training
            for (int c = 4; c < 10; c++) Assert.Equal(0f, p[n * 10 + c]); // free placeholders
            Assert.Equal(1f, p.Skip(n * 10).Take(10).Sum(), 1e-5f);
        }
        // The label trained into a free slot is predicted: nonzero on the photos it learned from (scissors).
        var scissors = Enumerable.Range(0, photos.Count).Where(n => Path.GetFileName(Path.GetDirectoryName(photos[n])) == "✌️").ToList();
        Assert.All(scissors, n => Assert.True(p[n * 10 + 3] > 0, $"star on {photos[n]}: {p[n * 10 + 3]}"));
    }

    [Fact]
    public void ConfusionMatrix_ListsLabelsInSlotOrder_ForEveryHead()
    {
        var data = TwoPreparedAndOneNew("confusion");
        var orders = new List<IReadOnlyList<string>>();
        foreach (string head in new[] { "nn", "logreg", "knn" })
        {
            var model = Train(fixture.Load(), head, data);
            using var predictor = new Predictor(model);
            orders.Add(Evaluator.Evaluate(predictor, data).Confusion.Labels);
        }
        Assert.All(orders, o => Assert.Equal(["✊", "✋", "star"], o));
    }

    [Fact]
    public void Knn_AppendsANewLabel_WhenNoSlotIsFree()
    {
        var full = ModelBuilder.Prepare(new PrepareOptions { Labels = Prepared, Capacity = 3 });
        var result = HeadTrainer.TrainKnn(full, TwoPreparedAndOneNew("full"), new KnnTrainingOptions { K = 3 });
        Assert.Equal(["✊", "✋", "✌️", "star"], full.Spec.Labels.Names);
        Assert.Empty(full.Spec.Labels.Placeholders);
        Assert.Equal(3, result.NewLabels["star"]);
        string path = _dir.File("full.onnx");
        full.Save(path);
        var (p, _, shape) = BareOrt(path, TestPhotos()[..3]);
        Assert.Equal(4, shape[1]);
        Assert.All(Enumerable.Range(0, 3), n => Assert.Equal(0f, p[n * 4 + 2]));
    }

    [Theory]
    [InlineData(KnnWeighting.Uniform, KnnMetric.Euclidean, 13)]
    [InlineData(KnnWeighting.InverseDistance, KnnMetric.Euclidean, 13)]
    [InlineData(KnnWeighting.InverseDistance, KnnMetric.Cosine, 10)]
    [InlineData(KnnWeighting.Uniform, KnnMetric.Cosine, 9)]
    public void KnnGraph_HasNoUnusedInitializer(KnnWeighting weighting, KnnMetric metric, int opset)
    {
        var model = ExpandAndErrorTests.TinyClassifier();
        model.OpsetImport[0].Version = opset;
        var knn = new KNearestNeighbors(3, 2, weighting, metric);
        knn.Add([1, 0, 0], "a");
        knn.Add([0, 1, 0], "b");
        knn.Add([0, 0, 1], "a");
        var proto = KnnOnnxExport.Export(model, knn, new KnnExportOptions { FeatureTensor = "logits", Labels = ["a", "free", "b"] });
        AssertNoUnusedInitializer(proto);
        using var session = new InferenceSession(proto.ToByteArray());
        using var input = OrtValue.CreateTensorValueFromMemory(new float[3 * 8 * 8], [1, 3, 8, 8]);
        using var outputs = session.Run(new RunOptions(), ["data"], [input], ["probabilities"]);
        Assert.Equal(new long[] { 1, 3 }, outputs[0].GetTensorTypeAndShape().Shape);
        Assert.Equal(0f, outputs[0].GetTensorDataAsSpan<float>()[1]);
        // Read back and extended without naming the labels: the columns keep their order, a new label is appended.
        var back = KnnOnnxExport.Read(proto);
        back.Add([1, 1, 0], "c");
        var again = KnnOnnxExport.Export(proto, back, new KnnExportOptions { FeatureTensor = "logits" });
        Assert.Equal(["a", "free", "b", "c"], again.Graph.GetInitializer("tailor_knn/labels").StringData.Select(b => b.ToStringUtf8()));
    }

    /// <summary>A plain classifier whose 1×1 convolution gives [N, 3, 1, 1] class scores (no Softmax, no Flatten): the
    /// mask must broadcast over the trailing 1×1.</summary>
    private static ModelProto ConvClassifier()
    {
        var g = new GraphProto { Name = "conv-classifier" };
        g.Input.Add(OnnxGraph.TensorInfo("data", TensorProto.Types.DataType.Float, 1, 3, 8, 8));
        g.Initializer.Add(OnnxTensors.FromFloats("cls.w", [3, 3, 1, 1], [0.5f, -0.2f, 0.1f, 0.3f, 0.1f, -0.4f, -0.1f, 0.2f, 0.6f]));
        g.Node.Add(OnnxGraph.Node("Conv", "cls", ["data", "cls.w"], ["c"]));
        g.Node.Add(OnnxGraph.Node("GlobalAveragePool", "pool", ["c"], ["scores"]));
        g.Output.Add(OnnxGraph.TensorInfo("scores", TensorProto.Types.DataType.Float, 1, 3, 1, 1));
        var m = new ModelProto { IrVersion = 7, Graph = g };
        m.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 13 });
        return m;
    }

    [Theory]
    [InlineData("gemm")]
    [InlineData("conv")]
    public void ExpandedPlainClassifier_GivesNewPlaceholdersExactlyZero(string kind)
    {
        string path = _dir.File(kind + ".onnx");
        File.WriteAllBytes(path, (kind == "gemm" ? ExpandAndErrorTests.TinyClassifier() : ConvClassifier()).ToByteArray());
        var model = ModelBuilder.Expand(path, new ExpandOptions { Capacity = 6, Labels = ["a", "b", "c"] });
        string expanded = _dir.File(kind + "-6.onnx");
        model.Save(expanded);
        AssertNoUnusedInitializer(model.Proto);
        var rng = new Random(1);
        float[] images = [.. Enumerable.Range(0, 2 * 3 * 8 * 8).Select(_ => (float)rng.NextDouble())];
        using var session = new InferenceSession(expanded);
        using var input = OrtValue.CreateTensorValueFromMemory(images, [2, 3, 8, 8]);
        using var outputs = session.Run(new RunOptions(), [model.Spec.Input], [input], ["probabilities"]);
        var p = outputs[0].GetTensorDataAsSpan<float>().ToArray();
        Assert.Equal(new long[] { 2, 6 }, outputs[0].GetTensorTypeAndShape().Shape);
        for (int n = 0; n < 2; n++)
        {
            for (int c = 0; c < 3; c++) Assert.True(p[n * 6 + c] > 0);
            for (int c = 3; c < 6; c++) Assert.Equal(0f, p[n * 6 + c]);
        }
    }

    /// <summary>PyTorch-exported classifiers (../shared/models) expanded by two slots: the new slots get exactly 0 in plain
    /// ONNX Runtime, and the written graph has no initializer nothing reads.</summary>
    [Theory]
    [InlineData("squeezenet1_1-opset9.onnx")]
    [InlineData("squeezenet1_1-tied-opset13.onnx")]
    [InlineData("mobilenet_v3_small-opset17.onnx")]
    [InlineData("shufflenet_v2_x0_5-opset11.onnx")]
    [InlineData("densenet_small-opset13.onnx")]
    public void ExpandedPyTorchClassifier_MasksItsNewSlots(string file)
    {
        var model = ModelBuilder.Expand(Path.Combine(SharedData.Models, file), new ExpandOptions { Capacity = 1002 });
        string path = _dir.File(file);
        model.Save(path);
        AssertNoUnusedInitializer(UpdatableModel.Load(path).Proto);
        var rng = new Random(2);
        float[] image = [.. Enumerable.Range(0, 3 * 224 * 224).Select(_ => (float)rng.NextDouble())];
        using var session = new InferenceSession(path);
        using var input = OrtValue.CreateTensorValueFromMemory(image, [1, 3, 224, 224]);
        using var outputs = session.Run(new RunOptions(), [model.Spec.Input], [input], ["probabilities"]);
        var p = outputs[0].GetTensorDataAsSpan<float>();
        Assert.Equal(1002, p.Length);
        Assert.Equal(0f, p[1000]);
        Assert.Equal(0f, p[1001]);
        Assert.Equal(1f, TensorPrimitivesSum(p), 1e-4f);
    }

    private static float TensorPrimitivesSum(ReadOnlySpan<float> p) => System.Numerics.Tensors.TensorPrimitives.Sum(p);

    [Fact]
    public void ModelWithoutMask_FromAnOlderTailor_GetsOneOnLoad()
    {
        // An older Tailor wrote logits → Softmax directly: take the mask out again.
        var proto = fixture.Load().Proto.Clone();
        var add = proto.Graph.Node.Single(n => n.Name == ModelBuilder.SlotMaskNode);
        proto.Graph.Node.Single(n => n.OpType == "Softmax" && n.Input[0] == add.Output[0]).Input[0] = add.Input[0];
        proto.Graph.Node.Remove(add);
        proto.Graph.Initializer.Remove(proto.Graph.GetInitializer(ModelBuilder.SlotMaskInitializer));
        string old = _dir.File("old.onnx");
        File.WriteAllBytes(old, proto.ToByteArray());
        Assert.True(BareOrt(old, TestPhotos()[..2]).Probabilities[5] > 0); // the placeholder user2 was predictable

        string resaved = _dir.File("resaved.onnx");
        UpdatableModel.Load(old).Save(resaved);
        var (p, _, _) = BareOrt(resaved, TestPhotos()[..2]);
        for (int c = 3; c < 10; c++) Assert.Equal(0f, p[c]);
    }

    [Fact]
    public void Reset_MakesEveryLabelLiveAgain()
    {
        var model = Train(fixture.Load(), "logreg", TwoPreparedAndOneNew("reset"));
        Assert.Equal([0, 1, 3], ModelBuilder.LiveSlots(model));
        ModelBuilder.Reset(model);
        Assert.Equal([0, 1, 2, 3], ModelBuilder.LiveSlots(model));
    }
}
