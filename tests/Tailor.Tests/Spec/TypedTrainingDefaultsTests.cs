using Tailor.Images;
using Tailor.Spec;
using Tailor.Training.Schedules;

namespace Tailor.Tests.Spec;

/// <summary>The spec's augmentation and learning-rate schedule are parsed once, when the spec is read, into values: a
/// schedule answers for any run length, and text that does not parse is refused at load naming the model.</summary>
public sealed class TypedTrainingDefaultsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("tailor-typed-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void ReadSpec_HoldsTheParsedValues_AndWritesTheSameText()
    {
        string model = SpecEditing.WriteTinyModel(Path.Combine(_dir, "tiny.onnx"));
        string json = SpecEditing.Edit(SpecEditing.ReadJson(model), "augmentation", "\"flip,rotate:15,variants:3\"");
        json = SpecEditing.Edit(json, "lr_schedule", "\"cosine:0.0001\"");
        string edited = Path.Combine(_dir, "edited.onnx");
        SpecEditing.WriteWithJson(model, json, edited);

        var spec = UpdatableModel.Load(edited).Spec;

        Assert.Equal(AugmentationOptions.Parse("flip,rotate:15,variants:3"), spec.TrainingAugmentation);
        Assert.Equal("flip,rotate:15,variants:3", spec.Augmentation);
        var schedule = Assert.IsType<CosineSchedule>(spec.Schedule);
        Assert.Equal(LearningRateSchedule.Parse("cosine:0.0001"), schedule);
        // One value, any run length: the cosine falls over the run it is asked about.
        Assert.Equal(0.01, schedule.LearningRateAt(0, 10, 0.01), 12);
        Assert.Equal(0.0001 + (0.01 - 0.0001) / 2, schedule.LearningRateAt(5, 10, 0.01), 12);
        Assert.Equal(0.0001 + (0.01 - 0.0001) / 2, schedule.LearningRateAt(50, 100, 0.01), 12);
        Assert.Equal("cosine:0.0001", spec.LearningRateSchedule);
        Assert.Contains("\"lr_schedule\":\"cosine:0.0001\"", spec.ToJson());

        // Set through `with`, the text is parsed again: the value never goes stale.
        var changed = spec with { LearningRateSchedule = "step:3:0.5" };
        Assert.Equal(0.005, changed.Schedule!.LearningRateAt(3, 10, 0.01), 12);
        Assert.Equal(spec.Schedule, schedule);
    }

    [Theory]
    [InlineData("lr_schedule", "\"cosine:fast\"", "Learning-rate schedule 'cosine:fast'")]
    [InlineData("augmentation", "\"flip,spin:3\"", "spin")]
    public void TextThatDoesNotParse_IsRefusedAtLoad_NamingTheModel(string field, string raw, string expected)
    {
        string model = SpecEditing.WriteTinyModel(Path.Combine(_dir, "tiny.onnx"));
        string edited = Path.Combine(_dir, "bad.onnx");
        SpecEditing.WriteWithJson(model, SpecEditing.Edit(SpecEditing.ReadJson(model), field, raw), edited);

        var e = Assert.Throws<TailorException>(() => UpdatableModel.Load(edited));

        Assert.Contains("bad.onnx", e.Message);
        Assert.Contains("training defaults are invalid", e.Message);
        Assert.Contains(expected, e.Message);
    }
}
