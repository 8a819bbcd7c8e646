using Microsoft.ML.OnnxRuntime;
using Tailor.Building;
using Tailor.Prediction;
using Tailor.Spec;

namespace Tailor.Tests.Building;

public class PrepareTests(PreparedModelFixture fixture) : IClassFixture<PreparedModelFixture>
{
    private static float[] RandomImages(int count, int seed)
    {
        var rng = new Random(seed);
        var data = new float[count * 3 * 224 * 224];
        for (int i = 0; i < data.Length; i++) data[i] = rng.Next(256);
        return data;
    }

    [Fact]
    public void PreparedModel_HasSpecWithLabelsPlaceholdersAndHyperparameters()
    {
        var model = fixture.Load();
        var spec = model.Spec;
        Assert.Equal(10, spec.Labels.Capacity);
        Assert.Equal(["✊", "✋", "✌️", "user0", "user1", "user2", "user3", "user4", "user5", "user6"], spec.Labels.Names);
        Assert.Equal([3, 4, 5, 6, 7, 8, 9], spec.Labels.Placeholders);
        // On the embedded ResNet18 the last convolution and its BatchNormalization train with the classifier.
        Assert.Equal(["Convolution387", "BatchNormalization389", "classifier"], spec.UpdatableLayers.Select(l => l.Name));
        Assert.Equal(["classifier.weight", "classifier.bias"], spec.UpdatableLayers[2].Parameters);
        Assert.Equal("flip,rotate:15,crop:0.8,variants:4", spec.Augmentation);
        Assert.Equal("cosine", spec.LearningRateSchedule);
        Assert.Equal(LossKind.CategoricalCrossEntropy, spec.Loss.Kind);
        Assert.Equal("probabilities", spec.Loss.Input);
        foreach (var name in new[] { "learning_rate", "batch_size", "epochs", "shuffle", "seed" })
            Assert.True(spec.Hyperparameters.ContainsKey(name), name);
        Assert.Equal(new[] { 10L, 512 }, model.GetParameterShape("classifier.weight"));
    }

    [Fact]
    public void BareOnnxRuntime_GivesTheSameProbabilitiesAsPredictor_AndTheLabelString()
    {
        const int count = 3;
        float[] images = RandomImages(count, seed: 7);
        var model = fixture.Load();
        using var predictor = new Predictor(model);
        var ours = predictor.Predict(images, count);

        // No Tailor code below: a bare InferenceSession on the file.
        using var session = new InferenceSession(fixture.Path);
        using var input = OrtValue.CreateTensorValueFromMemory(images, [count, 3, 224, 224]);
        using var outputs = session.Run(new RunOptions(), ["image"], [input], ["probabilities", "label"]);
        var probabilities = outputs[0].GetTensorDataAsSpan<float>().ToArray();
        var labels = outputs[1].GetStringTensorAsArray();
        Assert.Equal([count, 10], outputs[0].GetTensorTypeAndShape().Shape);
        for (int n = 0; n < count; n++)
        {
            for (int c = 0; c < 10; c++)
                Assert.Equal(probabilities[n * 10 + c], ours[n].Probabilities[c], 1e-5f);
            Assert.Equal(ours[n].Label, labels[n]);
            Assert.Equal(1f, ours[n].Probabilities.Sum(), 1e-4f);
        }
    }

    [Fact]
    public void ReferencePreset_TrainsTheClassifierAlone_WithSgd_OnThePhotosAsTheyAre_AtAConstantRate()
    {
        var spec = ModelBuilder.Prepare(PrepareOptions.Reference with { Labels = ["✊", "✋", "✌️"] }).Spec;
        Assert.Equal("classifier", Assert.Single(spec.UpdatableLayers).Name);
        Assert.Equal(OptimizerKind.Sgd, spec.Optimizer);
        Assert.Equal(0.001, spec.DefaultOr("learning_rate", 0));
        Assert.Equal(8, spec.DefaultOr("batch_size", 0));
        Assert.Equal("none", spec.Augmentation);
        Assert.Equal("constant", spec.LearningRateSchedule);
    }

    [Fact]
    public void UnreadableSchedule_FailsWhenPreparing_NamingItAndTheAllowedForms()
    {
        var e = Assert.Throws<TailorException>(() => ModelBuilder.Prepare(new PrepareOptions { Labels = ["a"], LearningRateSchedule = "wavy" }));
        Assert.Contains("'wavy'", e.Message);
        Assert.Contains("cosine[:MIN_LR]", e.Message);
    }

    [Fact]
    public void KaimingInit_StaysWithinBounds_AndIsSeeded()
    {
        var a = ModelBuilder.Prepare(new PrepareOptions { Labels = ["a"], Capacity = 4, InitSeed = 1 });
        float[] w = a.GetParameter("classifier.weight"), b = a.GetParameter("classifier.bias");
        double wBound = Math.Sqrt(6.0 / 512), bBound = 1 / Math.Sqrt(512);
        Assert.All(w, v => Assert.InRange(Math.Abs(v), 0, wBound));
        Assert.All(b, v => Assert.InRange(Math.Abs(v), 0, bBound));
        // Uses the range: a uniform sample of 2048 values reaches past 90% of the bound.
        Assert.True(w.Max(Math.Abs) > 0.9 * wBound);
        Assert.True(w.Average(v => (double)v * v) > wBound * wBound / 3 * 0.8); // variance of U(±a) is a²/3

        ModelBuilder.ResetWeights(a, "classifier", WeightInit.KaimingUniform, seed: 1);
        Assert.Equal(w, a.GetParameter("classifier.weight"));
        ModelBuilder.ResetWeights(a, "classifier", WeightInit.KaimingUniform, seed: 2);
        Assert.NotEqual(w, a.GetParameter("classifier.weight"));
        ModelBuilder.ResetWeights(a, "classifier", WeightInit.Zeros, seed: 2);
        Assert.All(a.GetParameter("classifier.weight"), v => Assert.Equal(0f, v));
        Assert.All(a.GetParameter("classifier.bias"), v => Assert.Equal(0f, v));
    }
}
