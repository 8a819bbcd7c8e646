using Tailor.Building;
using Tailor.Data;
using Tailor.Prediction;
using Tailor.Tests.Images;
using Tailor.Training;

namespace Tailor.Tests.Training;

/// <summary>
/// Adding a 4th label to the trained hands model with only its own photos and the kept examples replayed,
/// all with the defaults (fine-tuning the last convolution, so the kept features are the 256×14×14 cut, four
/// augmented variants per photo): the old labels' test accuracy stays within one photo of before, and the new
/// label is learned. The new label's photos are drawn stars (<see cref="StarImages"/>): 10 to train, 5 to test.
/// </summary>
[Collection("Default hands training")]
[Trait("Category", "Slow")]
public sealed class ReplayAccuracyTests(DefaultHandsTraining defaults) : IDisposable
{
    private readonly TempFolder _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void AddingALabel_WithOnlyItsPhotosAndReplay_KeepsTheOldLabelsAccuracy()
    {
        // The hands model trained with the defaults, keeping its examples (shared with HandsAccuracyTests).
        var model = defaults.Model();
        string kept = defaults.KeptExamplesPath;
        Assert.Equal(TrainingState.Completed, defaults.Result.State);
        Assert.Equal(30, defaults.Result.KeptExamples);
        var test = LabeledFolder.Scan(TestData.HandsTest);
        int before = Correct(model, test);

        string stars = Path.Combine(_dir.Path, "stars");
        StarImages.Write(Path.Combine(stars, "star"), 10, seed: 7);
        string starTest = Path.Combine(_dir.Path, "star-test");
        StarImages.Write(Path.Combine(starTest, "star"), 5, seed: 8);
        var second = new UpdateTask(model, LabeledFolder.Scan(stars), options: new TrainingOptions { ReplayExamplesPath = kept }).Run();

        Assert.Equal(TrainingState.Completed, second.State);
        Assert.Equal(30, second.Replayed);
        int after = Correct(model, test);
        Assert.True(after >= before - 1, $"old labels: {before}/15 before adding 'star', {after}/15 after");
        Assert.True(Correct(model, LabeledFolder.Scan(starTest)) >= 4, "the new label is learned");
    }

    private static int Correct(UpdatableModel model, LabeledFolder folder)
    {
        using var predictor = new Predictor(model);
        return Evaluator.Evaluate(predictor, folder).Correct;
    }
}
