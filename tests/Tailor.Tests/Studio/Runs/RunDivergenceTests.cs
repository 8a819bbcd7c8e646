using System.Text.RegularExpressions;
using Tailor.Building;
using Tailor.Data;
using Tailor.Spec;
using Tailor.Studio.Runs;
using Tailor.Training;

namespace Tailor.Tests.Studio.Runs;

/// <summary>A learning rate that diverges (issue 12, item 6): the run fails with the epoch in the project's numbering and a
/// rate to try. The embedded ResNet18's allowed rates (Adam, [0, 1]) do not diverge on the hands photos, so the model is
/// prepared as a user could prepare one (<c>tailor prepare</c> with a wider allowed range): [0, 1e38].</summary>
[Trait("Category", "Slow")]
public sealed class RunDivergenceTests : IDisposable
{
    private const long Project = 1;
    private static readonly TimeSpan Patience = TimeSpan.FromMinutes(5);
    private readonly string _path = Path.Combine(Path.GetTempPath(), $"tailor-diverge-{Guid.NewGuid():N}.onnx");

    public RunDivergenceTests()
    {
        WideModel().Save(_path);
    }

    public void Dispose() => File.Delete(_path);

    /// <summary>The embedded ResNet18 prepared as the studio does, but allowing learning rates up to 1e38.</summary>
    internal static UpdatableModel WideModel() => ModelBuilder.Prepare(new PrepareOptions
    {
        Labels = ["✊", "✋", "✌️"],
        Capacity = 10,
        Hyperparameters = new Dictionary<string, Hyperparameter>
        {
            [HyperparameterNames.LearningRate] = Hyperparameter.Real(TrainingDefaults.AdamLearningRate, AllowedValues.Between(0, 1e38)),
        },
    });

    private static async Task<RunStatus> RunToEnd(RunManager runs, RunRequest request)
    {
        runs.Start(Project, request);
        await runs.WhenEnded(Project).WaitAsync(Patience);
        return runs.Status(Project)!;
    }

    [Fact]
    public async Task AHugeLearningRate_FailsTheRun_NamingTheEpochAndARateToTry_AndKeepsTheEpochBefore()
    {
        var store = new MemoryRunStore(UpdatableModel.Load(_path), LabeledFolder.Scan(TestData.HandsTrain), LabeledFolder.Scan(TestData.HandsTest));
        using var runs = new RunManager(store);
        var quick = new RunRequest { Layers = RunLayers.ClassifierOnly, Epochs = 1 };

        var good = await RunToEnd(runs, quick);
        Assert.Equal(RunState.Finished, good.State);
        var before = store.Current.GetParameter("classifier.weight");

        var bad = await RunToEnd(runs, quick with { Epochs = 3, LearningRate = 1e38 });

        Assert.Equal(RunState.Failed, bad.State);
        // Epoch 2 of the project (the run's first): the studio's numbering, not the library's.
        Assert.Matches(@"^Training diverged at epoch 2 \(batch \d+ of \d+\): the loss became (NaN|-?Infinity|∞) with the learning rate 1E\+38\. " +
            @"Lower the learning rate: try 1E\+37 \(a tenth\), or the model's default, 0\.005\. Nothing was committed; the current model is unchanged\.$", bad.Message);
        Assert.Null(bad.ModelVersionId);
        Assert.Single(store.Commits);
        Assert.Equal(before, store.Current.GetParameter("classifier.weight"));
        Assert.Equal(TrainingState.Failed, store.Ends[bad.RunId].State);
        Assert.Equal(bad.Message, store.Ends[bad.RunId].Reason);
    }

    [Theory]
    [InlineData(0.5, 0.0, 1.0, 0.05)]
    [InlineData(1e-6, 1e-5, 1.0, 1e-5)]    // a tenth is below the allowed range: its lower bound
    public void TheRateToTry_IsATenth_WithinTheAllowedRange(double rate, double min, double max, double expected)
    {
        var domain = Hyperparameter.Real(0.001, AllowedValues.Between(min, max));
        Assert.Equal(expected, Run.SuggestedLearningRate(rate, domain), 12);
    }

    [Fact]
    public void TheRateToTry_FromAnAllowedSet_IsTheNearestLowerValue()
    {
        var domain = Hyperparameter.Real(0.01, AllowedValues.OneOf(0.001, 0.01, 0.1, 1));
        Assert.Equal(0.1, Run.SuggestedLearningRate(1, domain));
        Assert.Equal(0.001, Run.SuggestedLearningRate(0.001, domain));   // nothing lower: the smallest allowed
    }

    [Fact]
    public void TheMessage_SaysWhatWasCommitted()
    {
        var d = new TrainingDivergence(2, 3, 4, double.PositiveInfinity, 0.8);
        string message = Run.DivergedMessage(d, before: 10, committedEpoch: 11, Hyperparameter.Real(0.001, AllowedValues.Between(0, 1)));
        Assert.Equal("Training diverged at epoch 12 (batch 3 of 4): the loss became Infinity with the learning rate 0.8. " +
            "Lower the learning rate: try 0.08 (a tenth), or the model's default, 0.001. The model of epoch 11 is committed.", message);
        Assert.StartsWith(Run.DivergedPrefix, message);
    }
}
