using Tailor.Building;
using Tailor.Data;
using Tailor.Images;
using Tailor.Spec;
using Tailor.Tests.Images;
using Tailor.Training;

namespace Tailor.Tests.Training;

/// <summary>
/// Several loss terms with weights, from the update spec to the training task: the short form prepare takes,
/// the JSON the model stores, the checks that fail before training, and the weighted sum the task minimizes
/// (its gradients are checked against finite differences in the engine's tests).
/// </summary>
[Trait("Category", "Slow")]
public sealed class LossTermsTests : IClassFixture<PreparedModelFixture>, IDisposable
{
    private readonly PreparedModelFixture _fixture;
    private readonly TempFolder _dir = new();
    private readonly string _small;

    public LossTermsTests(PreparedModelFixture fixture)
    {
        _fixture = fixture;
        _small = Path.Combine(_dir.Path, "small");
        var hands = LabeledFolder.Scan(TestData.HandsTrain);
        foreach (var label in hands.Labels)
        {
            string target = Directory.CreateDirectory(Path.Combine(_small, label)).FullName;
            foreach (var e in hands.ExamplesOf(label).Take(2))
                File.Copy(e.Path, Path.Combine(target, Path.GetFileName(e.Path)));
        }
    }

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void ParseTerms_ReadsKindTensorAndWeight_WithDefaults()
    {
        var terms = LossSpec.ParseTerms("cross-entropy, mse@logits:0.25,cce:2");
        Assert.Equal([LossKind.CategoricalCrossEntropy, LossKind.MeanSquaredError, LossKind.CategoricalCrossEntropy], terms.Select(t => t.Kind));
        Assert.Equal(["", "logits", ""], terms.Select(t => t.Input));
        Assert.Equal([1, 0.25, 2], terms.Select(t => t.Weight));
        Assert.Equal(["label", "target", "label"], terms.Select(t => t.Target));
    }

    [Theory]
    [InlineData("cross-entropy,huber", "'huber'")]
    [InlineData("mse:-1", "'-1'")]
    [InlineData("mse:NaN", "'NaN'")]
    [InlineData("cross-entropy,,mse", "empty term")]
    [InlineData("mse@:1", "no tensor")]
    public void ParseTerms_BadText_SaysWhatIsWrong(string text, string expected)
    {
        var e = Assert.Throws<TailorException>(() => LossSpec.ParseTerms(text));
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void Spec_StoresTheTerms_AndAModelWithoutThemReadsAsTheMainLossAlone()
    {
        var model = _fixture.Load();
        Assert.Null(model.Spec.AdditionalLosses);
        Assert.Equal(1, model.Spec.Loss.Weight);
        Assert.Single(model.Spec.LossTerms);

        var spec = model.Spec with { AdditionalLosses = [new LossSpec { Kind = LossKind.MeanSquaredError, Input = "logits", Target = "target", Weight = 0.5 }] };
        var back = UpdateSpec.FromJson(spec.ToJson(), "test");
        Assert.Equal(["cross-entropy@probabilities:1", "mse@logits:0.5"], back.LossTerms.Select(t => t.ToString()));

        // A spec written before weights existed has none in its JSON: weight 1.
        string old = model.Spec.ToJson().Replace(",\"weight\":1", "");
        Assert.DoesNotContain("\"weight\"", old);
        Assert.Equal(1, UpdateSpec.FromJson(old, "old").Loss.Weight);
    }

    [Fact]
    public void Spec_WithANegativeOrAllZeroWeight_IsRejectedNamingTheModel()
    {
        var model = _fixture.Load();
        string negative = (model.Spec with { AdditionalLosses = [new LossSpec { Kind = LossKind.MeanSquaredError, Weight = -1 }] }).ToJson();
        var e = Assert.Throws<TailorException>(() => UpdateSpec.FromJson(negative, "m.onnx"));
        Assert.Contains("'m.onnx'", e.Message);
        Assert.Contains("weight -1", e.Message);
        string zero = (model.Spec with { Loss = model.Spec.Loss with { Weight = 0 } }).ToJson();
        Assert.Contains("at least one must be positive", Assert.Throws<TailorException>(() => UpdateSpec.FromJson(zero, "m.onnx")).Message);
    }

    [Fact]
    public void Prepare_TermOnAMissingOrFrozenTensor_FailsNamingIt()
    {
        PrepareOptions Options(string tensor) => new()
        {
            Labels = ["a", "b"],
            UpdatableLayers = [ModelBuilder.ClassifierNode],
            AdditionalLosses = [new LossSpec { Kind = LossKind.MeanSquaredError, Input = tensor, Weight = 1 }],
        };
        var missing = Assert.Throws<TailorException>(() => ModelBuilder.Prepare(Options("no_such_tensor")));
        Assert.Contains("'no_such_tensor', which is not a tensor of the graph", missing.Message);
        Assert.Contains("logits", missing.Message); // lists what it could read
        // The backbone's features come before the classifier, the only updatable layer: the term could train nothing.
        var frozen = Assert.Throws<TailorException>(() => ModelBuilder.Prepare(Options("features")));
        Assert.Contains("which no updatable layer (classifier) affects", frozen.Message);
    }

    /// <summary>The fixture's model with the classifier alone updatable (fast: the cut is the 512-d features) and the given loss terms.</summary>
    private UpdatableModel Model(params LossSpec[] terms)
    {
        var model = _fixture.Load();
        model.SetSpec(model.Spec with
        {
            UpdatableLayers = model.Spec.UpdatableLayers.Where(l => l.Name == ModelBuilder.ClassifierNode).ToList(),
            Loss = terms[0],
            AdditionalLosses = terms.Length > 1 ? terms[1..] : null,
        });
        return model;
    }

    private static LossSpec Ce(double weight = 1) => new() { Kind = LossKind.CategoricalCrossEntropy, Weight = weight };

    private static LossSpec Mse(double weight = 1, string input = "probabilities") =>
        new() { Kind = LossKind.MeanSquaredError, Input = input, Target = "target", Weight = weight };

    private (List<double> FirstBatchLosses, float[] Weights, TrainingResult Result) Train(UpdatableModel model)
    {
        var options = new TrainingOptions { Epochs = 3, BatchSize = 4, LearningRate = 0.05, Augmentation = AugmentationOptions.None };
        var task = new UpdateTask(model, LabeledFolder.Scan(_small), options: options);
        var losses = new List<double>();
        task.MiniBatchEnded += (_, e) => losses.Add(e.Loss);
        var result = task.Run();
        return (losses, model.GetParameter("classifier.weight"), result);
    }

    [Fact]
    public void Task_MinimizesTheWeightedSum_OfItsTerms()
    {
        var ce = Train(Model(Ce()));
        var mse = Train(Model(Mse()));
        var both = Train(Model(Ce(), Mse(0.5)));
        Assert.All([ce.Result, mse.Result, both.Result], r => Assert.Equal(TrainingState.Completed, r.State));
        // Same start, seed and first batch: the first batch's loss is the weighted sum of the terms' losses.
        Assert.Equal(ce.FirstBatchLosses[0] + 0.5 * mse.FirstBatchLosses[0], both.FirstBatchLosses[0], 5);
        // The MSE term changes the training; with weight 0 it is inert, bit for bit.
        Assert.NotEqual(CheckpointTests.BitsOf(ce.Weights), CheckpointTests.BitsOf(both.Weights));
        var inert = Train(Model(Ce(), Mse(0)));
        Assert.Equal(CheckpointTests.BitsOf(ce.Weights), CheckpointTests.BitsOf(inert.Weights));
        // A term's weight scales its pull: the main term at weight 2 is not the same run as at weight 1.
        Assert.NotEqual(CheckpointTests.BitsOf(ce.Weights), CheckpointTests.BitsOf(Train(Model(Ce(2))).Weights));
    }

    [Fact]
    public void Task_MseTermOnATensorWithoutOneValuePerSlot_FailsBeforeAnyStep_NamingIt()
    {
        // The model's logits are [N, 10]: fine. Its normalized features are [N, 512]: not comparable with one-hot labels.
        var model = _fixture.Load();
        model.SetSpec(model.Spec with { AdditionalLosses = [Mse(1, "features_l2")] });
        float[] before = model.GetParameter("classifier.weight");
        var e = Assert.Throws<TailorException>(() => new UpdateTask(model, LabeledFolder.Scan(_small),
            options: new TrainingOptions { Epochs = 1, Augmentation = AugmentationOptions.None }).Run());
        Assert.Contains("mse@features_l2:1", e.Message);
        Assert.Contains("10 values per example", e.Message);
        Assert.Equal(CheckpointTests.BitsOf(before), CheckpointTests.BitsOf(model.GetParameter("classifier.weight")));
    }
}
