using Tailor.Data;
using Tailor.Onnx;
using Tailor.Prediction;
using Tailor.Studio.Runs;

namespace Tailor.Tests.Studio.Runs;

/// <summary>A k-NN or logistic-regression run evaluates the version it committed with one model and one ONNX Runtime
/// session in memory: by then the run has let go of its own copy of the model, and the feature extractor's session is
/// closed. (The workspace loads the version it wrote and opens a predictor for it: with the run's copy still alive, a
/// second whole model and its session stood on top of the first, the peak of a studio run.) Reachability and session
/// counts, not memory figures.</summary>
[Collection("Serial")]   // the session count is process-wide: no other test opens sessions meanwhile
[Trait("Category", "Slow")]
public sealed class RunEvaluationMemoryTests(PreparedModelFixture prepared) : IClassFixture<PreparedModelFixture>
{
    private const long Project = 1;
    private static readonly TimeSpan Patience = TimeSpan.FromMinutes(5);

    /// <summary>The studio evaluates in batches of 4 images (less ONNX Runtime memory): every probability is the one the
    /// library's default batch gives, bit for bit.</summary>
    [Fact]
    public void StudioEvaluationBatch_GivesTheDefaultBatchsProbabilities()
    {
        var test = LabeledFolder.Scan(TestData.HandsTest);
        using var predictor = new Predictor(prepared.Load());

        var whole = Evaluator.Evaluate(predictor, test);
        var studio = Evaluator.Evaluate(predictor, test, Run.EvaluationOptions);

        Assert.Equal(4, Run.EvaluationOptions.BatchSize);
        Assert.Equal(whole.Examples, studio.Examples);
        Assert.Equal(whole.Loss, studio.Loss);
    }

    [Theory]
    [InlineData(RunHead.LogisticRegression)]
    [InlineData(RunHead.Knn)]
    public async Task HeadRun_LetsGoOfItsModel_BeforeTheStoreEvaluatesTheVersion(RunHead head)
    {
        var test = LabeledFolder.Scan(TestData.HandsTest);
        MemoryRunStore? store = null;
        int sessionsBefore = OnnxSessions.OpenSessions;
        var seen = new List<string>();
        store = new MemoryRunStore(prepared.Load(), LabeledFolder.Scan(TestData.HandsTrain), test)
        {
            Evaluate = version =>
            {
                // As the workspace does: the committed version, its own predictor.
                GC.Collect();
                GC.WaitForPendingFinalizers();
                GC.Collect();
                int alive = store!.Handed.Count(w => w.TryGetTarget(out _));
                seen.Add($"models the run was handed still alive: {alive}; sessions open: {OnnxSessions.OpenSessions - sessionsBefore}");
                var committed = store.Commits.Single(c => c.VersionId == version).Model;
                using var predictor = new Predictor(committed);
                return Evaluator.Evaluate(predictor, test).Accuracy;
            },
        };
        using var runs = new RunManager(store);

        runs.Start(Project, new RunRequest { Head = head });
        await runs.WhenEnded(Project).WaitAsync(Patience);

        var status = runs.Status(Project)!;
        Assert.True(status.State == RunState.Finished, $"{status.State}: {status.Message}");
        Assert.NotNull(status.Accuracy);
        Assert.Equal(["models the run was handed still alive: 0; sessions open: 0"], seen);
        Assert.Equal(sessionsBefore, OnnxSessions.OpenSessions);
    }
}
