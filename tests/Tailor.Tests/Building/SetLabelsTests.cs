using Tailor.Building;
using Tailor.Prediction;
using Tailor.Spec;

namespace Tailor.Tests.Building;

/// <summary>ClassLabels.Rename and ModelBuilder.SetLabels: an app's own labels written into a model's slots — a renamed
/// label keeps its slot and weights, a freed slot is masked out, the label output and the trained record follow.</summary>
public sealed class SetLabelsTests(PreparedModelFixture fixture) : IClassFixture<PreparedModelFixture>
{
    [Fact]
    public void Rename_KeepsTheSlot_AndRefusesPlaceholdersEmptyNamesAndClashes()
    {
        var labels = ClassLabels.Create(["✊", "✋", "✌️"], 5);
        var renamed = labels.Rename(1, " 🖐 palm ");
        Assert.Equal(["✊", "🖐 palm", "✌️", "user0", "user1"], renamed.Names);
        Assert.Equal(labels.Placeholders, renamed.Placeholders);
        Assert.Equal(["✊", "✋", "✌️", "user0", "user1"], labels.Names);   // the original is unchanged

        Assert.Contains("slot 2 already has that name", Assert.Throws<TailorException>(() => labels.Rename(0, "✌️")).Message);
        Assert.Contains("slot 3 already has that name", Assert.Throws<TailorException>(() => labels.Rename(0, "user0")).Message);
        Assert.Contains("free placeholder", Assert.Throws<TailorException>(() => labels.Rename(4, "x")).Message);
        Assert.Contains("is empty", Assert.Throws<TailorException>(() => labels.Rename(0, "  ")).Message);
        Assert.Contains("the slots are 0 to 4", Assert.Throws<TailorException>(() => labels.Rename(5, "x")).Message);
    }

    [Fact]
    public void SetLabels_RenamesInPlace_FreesAndClaimsSlots_AndThePlainOnnxOutputsFollow()
    {
        var model = fixture.Load();
        var weights = model.GetParameter("classifier.weight");
        model.SetSpec(model.Spec with { TrainedExamples = new Dictionary<string, int> { ["✊"] = 10, ["✋"] = 10, ["✌️"] = 10 } });

        // ✋ renamed, ✌️ freed, slot 5 claimed.
        var names = model.Spec.Labels.Names.ToArray();
        names[1] = "palm";
        names[2] = "free2";
        names[5] = "thumb";
        var placeholders = Enumerable.Range(2, 8).Where(i => i != 5).ToArray();
        ModelBuilder.SetLabels(model, new ClassLabels { Names = names, Placeholders = placeholders });

        Assert.Equal(names, model.Spec.Labels.Names);
        Assert.Equal(weights, model.GetParameter("classifier.weight"));
        Assert.Equal(new Dictionary<string, int> { ["✊"] = 10, ["palm"] = 10 }, model.Spec.TrainedExamples);
        Assert.Equal([0, 1, 5], ModelBuilder.LiveSlots(model).Order());

        // Saved and loaded back, in ONNX Runtime: the freed slot has probability exactly 0 and the label output speaks the new names.
        string path = Path.Combine(fixture.Directory, "relabelled.onnx");
        model.Save(path);
        var loaded = UpdatableModel.Load(path);
        Assert.Equal("palm", loaded.Spec.Labels.Names[1]);
        using var predictor = new Predictor(loaded);
        var photo = Directory.GetFiles(Path.Combine(TestData.HandsTrain, "✋"))[0];
        var result = predictor.Predict(photo);
        Assert.Equal(0f, result.Probabilities[2]);
        Assert.Contains(result.Label, new[] { "✊", "palm", "thumb" });

        var e = Assert.Throws<TailorException>(() => ModelBuilder.SetLabels(model, ClassLabels.Create(["a"], 3)));
        Assert.Contains("capacity 10", e.Message);
    }
}
