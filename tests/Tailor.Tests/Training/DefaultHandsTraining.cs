using Tailor.Building;
using Tailor.Data;
using Tailor.Tests.Images;
using Tailor.Training;

namespace Tailor.Tests.Training;

/// <summary>
/// The hands model trained once with nothing but the defaults (prepare with labels ✊ ✋ ✌️, train on the 30 training
/// photos), for the tests that start from it: <see cref="HandsAccuracyTests"/> evaluates it, <see cref="ReplayAccuracyTests"/>
/// adds a label to it. The training keeps its examples (<see cref="TrainingOptions.KeepExamplesPath"/>), which the replay
/// test needs: keeping only hashes the photos and writes their cached features after the training, it changes no weight.
/// Each test gets its own <see cref="UpdatableModel.Clone"/>. Trained on first use, once per run instead of once per test
/// (a default fine-tuning is the longest thing either class does).
/// </summary>
public sealed class DefaultHandsTraining : IDisposable
{
    private readonly TempFolder _dir = new();
    private readonly Lazy<(UpdatableModel Model, TrainingResult Result)> _trained;

    public DefaultHandsTraining()
    {
        KeptExamplesPath = _dir.File("hands.onnx.examples");
        _trained = new(() =>
        {
            var model = ModelBuilder.Prepare(new PrepareOptions { Labels = ["✊", "✋", "✌️"] });
            var result = new UpdateTask(model, LabeledFolder.Scan(TestData.HandsTrain), options: new TrainingOptions { KeepExamplesPath = KeptExamplesPath }).Run();
            return (model, result);
        });
    }

    /// <summary>The examples the training kept.</summary>
    public string KeptExamplesPath { get; }

    /// <summary>The training's result.</summary>
    public TrainingResult Result => _trained.Value.Result;

    /// <summary>A copy of the trained model of the test's own.</summary>
    public UpdatableModel Model() => _trained.Value.Model.Clone();

    public void Dispose() => _dir.Dispose();
}

/// <summary>The tests that start from the default hands training: they share it (<see cref="DefaultHandsTraining"/>),
/// and run one after the other, in parallel with the other classes. Not in the <see cref="SerialCollection"/>: that one runs
/// alone after every other collection, so its allocation tests never run beside these trainings either way.</summary>
[CollectionDefinition("Default hands training")]
public sealed class DefaultHandsTrainingCollection : ICollectionFixture<DefaultHandsTraining>;
