using Tailor.Data;
using Tailor.Training;

namespace Tailor.Tests.Training;

/// <summary><see cref="TrainingOptions.UpdatableLayers"/>, and a learning rate set as training begins.</summary>
[Trait("Category", "Slow")]
public sealed class ChosenLayersTests(PreparedModelFixture prepared) : IClassFixture<PreparedModelFixture>
{
    [Fact]
    public void UpdatableLayers_TrainsOnlyThoseNamed_AndTheModelKeepsItsSpec()
    {
        var model = prepared.Load();
        var spec = model.Spec;
        var frozen = spec.UpdatableLayers.First(l => l.Name != spec.Classifier).Parameters[0];
        var trained = spec.UpdatableLayers.First(l => l.Name == spec.Classifier).Parameters[0];
        var (frozenBefore, trainedBefore) = (model.GetParameter(frozen), model.GetParameter(trained));

        var result = new UpdateTask(model, LabeledFolder.Scan(TestData.HandsTrain), null,
            new TrainingOptions { Epochs = 1, UpdatableLayers = [spec.Classifier] }).Run();

        Assert.Equal(TrainingState.Completed, result.State);
        Assert.Equal(frozenBefore, model.GetParameter(frozen));
        Assert.NotEqual(trainedBefore, model.GetParameter(trained));
        Assert.Equal(spec.UpdatableLayers.Select(l => l.Name), model.Spec.UpdatableLayers.Select(l => l.Name));
    }

    [Fact]
    public void UpdatableLayers_NotAmongTheModels_IsRefusedNamingThem()
    {
        var model = prepared.Load();
        var e = Assert.Throws<TailorException>(() => new UpdateTask(model, LabeledFolder.Scan(TestData.HandsTrain), null,
            new TrainingOptions { UpdatableLayers = ["Conv0"] }).Run());
        Assert.Contains("'Conv0' is not one of the model's updatable layers", e.Message);
        Assert.Contains(model.Spec.Classifier, e.Message);
        Assert.Contains("is empty", Assert.Throws<TailorException>(() => new UpdateTask(model, LabeledFolder.Scan(TestData.HandsTrain), null,
            new TrainingOptions { UpdatableLayers = [] }).Run()).Message);
    }

    [Fact]
    public void LearningRate_SetWhenTrainingBegins_TakesOverFromTheSchedule()
    {
        var model = prepared.Load();
        var task = new UpdateTask(model, LabeledFolder.Scan(TestData.HandsTrain), null,
            new TrainingOptions { Epochs = 2, UpdatableLayers = [model.Spec.Classifier] });
        task.TrainingBegan += (_, _) => task.Context.Optimizer.LearningRate = 0.0123;

        var result = task.Run();

        // Without the hand-set rate the cosine schedule gives the base rate, then half of it.
        Assert.Equal([0.0123, 0.0123], result.History.Epochs.Select(e => e.LearningRate));
    }
}
