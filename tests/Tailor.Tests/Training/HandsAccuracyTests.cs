using Tailor.Building;
using Tailor.Data;
using Tailor.Heads;
using Tailor.Prediction;
using Tailor.Training;

namespace Tailor.Tests.Training;

/// <summary>
/// What a user gets on the reference app's photos with nothing but the defaults: prepare (capacity 10,
/// labels ✊ ✋ ✌️, Kaiming-initialized classifier), train on the 30 training photos, evaluate on the 15
/// test photos — which show backgrounds and angles the training photos do not. The floors are the figures
/// measured with the defaults (fine-tuning: 14/15 with the default seeds, 13/15 or better on 14 of 15 seeds;
/// logistic regression and k-NN: 12/15) less at most one photo of margin, so a change that costs accuracy
/// fails here rather than in a user's hands.
/// </summary>
/// <remarks>Not beside the allocation tests (the <see cref="SerialCollection"/> runs alone, after every other
/// collection): each test trains on every core. The default fine-tuning is the one <see cref="ReplayAccuracyTests"/> starts
/// from, trained once for both (<see cref="DefaultHandsTraining"/>).</remarks>
[Collection("Default hands training")]
[Trait("Category", "Slow")]
public sealed class HandsAccuracyTests(DefaultHandsTraining defaults)
{
    private static readonly string[] Labels = ["✊", "✋", "✌️"];

    private static EvaluationReport Evaluate(UpdatableModel model)
    {
        using var predictor = new Predictor(model);
        return Evaluator.Evaluate(predictor, LabeledFolder.Scan(TestData.HandsTest));
    }

    private static string Wrong(EvaluationReport report) =>
        string.Join(", ", report.Examples.Where(e => e.Predicted != e.Label).Select(e => $"{Path.GetFileName(e.Path)} ({e.Label} → {e.Predicted})"));

    [Fact]
    public void DefaultNeuralNetworkHead_FineTuningTheLastConvolution_GetsAtLeast13Of15()
    {
        var model = defaults.Model();
        Assert.Equal(TrainingState.Completed, defaults.Result.State);

        var report = Evaluate(model);

        Assert.Equal(15, report.Count);
        // Measured with these defaults (initialization and training seed 42): 14/15. With seeds 1–14 instead:
        // 14/15 eight times, 13/15 five times, 12/15 once. EF9B52 (scissors held sideways on a patterned
        // carpet) is wrong in every run.
        Assert.True(report.Correct >= 13, $"{report.Correct}/15 with the default fine-tuning; wrong: {Wrong(report)}");
    }

    [Fact]
    public void ReferencePreset_LearnsAsTheReferenceAppDid_AtLeast8Of15()
    {
        // The reference app (SGD lr 0.001, batch 8, 10 epochs, the classifier alone) reached 8/15 on its own
        // network. With L2-normalized features that rate moved the logits by ~0.001 per step: ten epochs ended at
        // loss ln 10 and 1/15. The preset's network is the reference's — features → dense → softmax — and the
        // classifier starts from zeros. Measured: 12/15 with seed 42; 11–14/15 with seeds 1–4.
        var model = ModelBuilder.Prepare(PrepareOptions.Reference with { Labels = Labels });
        var result = new UpdateTask(model, LabeledFolder.Scan(TestData.HandsTrain)).Run();
        Assert.Equal(TrainingState.Completed, result.State);
        Assert.Equal(10, result.EpochsCompleted);
        Assert.True(result.History.Epochs[^1].TrainLossMean < 0.5 * Math.Log(10), $"the loss ended at {result.History.Epochs[^1].TrainLossMean:F3}");

        var report = Evaluate(model);

        Assert.True(report.Correct >= 8, $"{report.Correct}/15 with --preset reference; wrong: {Wrong(report)}");
    }

    [Fact]
    public void LogisticRegressionHead_WithItsDefaults_GetsAtLeast12Of15()
    {
        var model = ModelBuilder.Prepare(new PrepareOptions { Labels = Labels });
        var result = HeadTrainer.TrainLogisticRegression(model, LabeledFolder.Scan(TestData.HandsTrain));
        Assert.True(result.Lbfgs!.Converged, result.Lbfgs.Message);

        var report = Evaluate(model);

        // Measured: 12/15 at λ = 0.0001–0.001 (the default), 11/15 at 0.01–1. L-BFGS from zero weights on
        // features without augmentation involves no randomness, so this figure has no seed to vary.
        Assert.True(report.Correct >= 12, $"{report.Correct}/15 with logistic regression; wrong: {Wrong(report)}");
    }

    [Fact]
    public void KNearestNeighborsHead_WithItsDefaults_GetsAtLeast11Of15()
    {
        var model = ModelBuilder.Prepare(new PrepareOptions { Labels = Labels });
        HeadTrainer.TrainKnn(model, LabeledFolder.Scan(TestData.HandsTrain));

        var report = Evaluate(model);

        // Measured: 12/15 (k = 5, uniform vote, Euclidean distance, no augmentation).
        Assert.True(report.Correct >= 11, $"{report.Correct}/15 with k-NN; wrong: {Wrong(report)}");
    }
}
