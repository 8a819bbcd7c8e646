using Tailor.Building;
using Tailor.Onnx;
using Tailor.Spec;
using Tailor.Tests.Cli;
using Tailor.Tests.Images;

namespace Tailor.Tests.Building;

/// <summary>Reset undoes training: a fresh classifier (as prepare makes it), pretrained backbone layers
/// back from the base model, labels kept; bad bases change nothing.</summary>
public sealed class ResetTests(PreparedModelFixture fixture) : IClassFixture<PreparedModelFixture>, IDisposable
{
    private readonly TempFolder _dir = new();

    public void Dispose() => _dir.Dispose();

    private static float[] Noise(int length, int seed)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, length).Select(_ => (float)rng.NextDouble()).ToArray();
    }

    [Fact]
    public void Classifier_GoesBackToThePreparedWeights_AndLabelsStay()
    {
        var fresh = fixture.Load();
        var model = fixture.Load();
        model.SetParameter("classifier.weight", Noise(5120, 1));
        model.SetParameter("classifier.bias", Noise(10, 2));
        ModelBuilder.WriteLabels(model, model.Spec.Labels.Claim("👍", out _));
        model.SetSpec(model.Spec with { Head = HeadKind.LogisticRegression });

        ModelBuilder.Reset(model);

        Assert.Equal(fresh.GetParameter("classifier.weight"), model.GetParameter("classifier.weight"));
        Assert.Equal(fresh.GetParameter("classifier.bias"), model.GetParameter("classifier.bias"));
        Assert.Equal("👍", model.Spec.Labels.Names[3]);
        Assert.Equal(HeadKind.NeuralNetwork, model.Spec.Head);

        ModelBuilder.Reset(model, new ResetOptions { Init = WeightInit.Zeros });
        Assert.All(model.GetParameter("classifier.weight"), v => Assert.Equal(0f, v));
    }

    [Fact]
    public void FineTunedBackboneLayer_GetsItsPretrainedWeightsBack()
    {
        var graph = fixture.Load().Proto.Graph;
        string conv = ModelBuilder.CandidateLayers(graph).Last(n => graph.FindNode(n)!.OpType == "Conv");
        var model = ModelBuilder.Prepare(new PrepareOptions { Labels = ["a", "b"], Capacity = 4, UpdatableLayers = [conv, "classifier"] });
        string weight = model.Spec.UpdatableLayers.Single(l => l.Name == conv).Parameters[0];
        float[] pretrained = model.GetParameter(weight);
        model.SetParameter(weight, Noise(pretrained.Length, 3));

        ModelBuilder.Reset(model);

        Assert.Equal(pretrained, model.GetParameter(weight));
    }

    [Fact]
    public void BaseWithoutTheLayer_IsAnError_NamingFileAndInitializer_AndChangesNothing()
    {
        var graph = fixture.Load().Proto.Graph;
        string conv = ModelBuilder.CandidateLayers(graph).Last(n => graph.FindNode(n)!.OpType == "Conv");
        var model = ModelBuilder.Prepare(new PrepareOptions { Labels = ["a", "b"], Capacity = 4, UpdatableLayers = [conv, "classifier"] });
        string weight = model.Spec.UpdatableLayers.Single(l => l.Name == conv).Parameters[0];
        var tuned = Noise(model.GetParameter(weight).Length, 4);
        model.SetParameter(weight, tuned);
        var classifier = model.GetParameter("classifier.weight");

        // A base that lacks the fine-tuned layer's weight.
        string other = _dir.File("other.onnx");
        var small = ModelBuilder.Prepare(new PrepareOptions { Labels = ["a"], Capacity = 2 });
        small.Proto.Graph.Initializer.Remove(small.Proto.Graph.GetInitializer(weight));
        File.WriteAllBytes(other, Google.Protobuf.MessageExtensions.ToByteArray(small.Proto));

        var e = Assert.Throws<TailorException>(() => ModelBuilder.Reset(model, new ResetOptions { BaseModelPath = other }));
        Assert.Contains(other, e.Message);
        Assert.Contains(weight, e.Message);
        Assert.Equal(tuned, model.GetParameter(weight));
        Assert.Equal(classifier, model.GetParameter("classifier.weight"));
    }

    [Fact]
    public void Cli_Reset_WritesTheFreshModel()
    {
        string path = _dir.File("trained.onnx");
        var model = fixture.Load();
        model.SetParameter("classifier.weight", Noise(5120, 5));
        model.Save(path);

        var r = CliRunner.Run("reset", path);

        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Equal(fixture.Load().GetParameter("classifier.weight"), UpdatableModel.Load(path).GetParameter("classifier.weight"));
        var bad = CliRunner.Run("reset", path, "--init", "ones");
        Assert.NotEqual(0, bad.ExitCode);
        Assert.Contains("--init: 'ones' is not one of kaiming, zeros", bad.Stderr);
    }
}
