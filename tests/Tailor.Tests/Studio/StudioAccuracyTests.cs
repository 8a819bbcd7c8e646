using Tailor.Spec;
using Tailor.Studio;
using Tailor.Studio.Runs;
using Tailor.Tests.Studio.Workspace;

namespace Tailor.Tests.Studio;

/// <summary>Issue 11's "done when", through the same library calls the studio's pages make: the hands photos imported
/// (<c>tailor studio --import ../shared/datasets/hands</c>), the network trained with the defaults (the Train screen's
/// epoch count starts at the model's default), and the Evaluate screen's figure.</summary>
[Trait("Category", "Slow")]
public sealed class StudioAccuracyTests(ImportedHandsFixture fixture) : IClassFixture<ImportedHandsFixture>
{
    [Fact]
    public async Task ImportedHands_NetworkWithTheDefaults_GetsAtLeast13Of15OnEvaluate()
    {
        var ws = fixture.Workspace;
        long project = fixture.Project.Id;
        int defaultEpochs = (int)ws.LoadCurrentModel(project).Spec.Hyperparameters[HyperparameterNames.Epochs].Default;
        using var runs = new RunManager(ws);

        runs.Start(project, new RunRequest { Epochs = defaultEpochs });
        await runs.WhenEnded(project).WaitAsync(TimeSpan.FromMinutes(10));
        var status = runs.Status(project)!;

        Assert.Equal(RunState.Finished, status.State);
        Assert.Equal(defaultEpochs, status.History.Count);
        var view = ws.Evaluate(project, null, CancellationToken.None);
        Assert.Equal(15, view.Count);
        int right = view.Rows.Count(r => r.Correct);
        Assert.True(right >= 13, $"{right}/15 on the Evaluate screen after {defaultEpochs} epochs with the defaults");
        Assert.Equal(status.Accuracy!.Value, view.Accuracy, 6);   // the run's last validation figure is the Evaluate screen's
    }
}
