using Tailor.Studio;
using Tailor.Studio.Runs;
using Tailor.Training;

namespace Tailor.Tests.Studio.Workspace;

/// <summary>The guidance (issue 12, item 6): each hint appears when its condition holds — with the numbers and the label —
/// on the screen it applies to, and goes away when the project is fixed.</summary>
public sealed class WorkspaceGuidanceTests(WorkspaceFixture fixture) : IClassFixture<WorkspaceFixture>
{
    private Tailor.Studio.Workspace Ws => fixture.Workspace;

    private static string[] Photos(string set, string label) =>
        Directory.GetFiles(Path.Combine(TestData.Hands, set, label)).Order(StringComparer.Ordinal).ToArray();

    private void Add(long project, LabelInfo label, ExampleSet set, IEnumerable<string> files)
    {
        foreach (var file in files)
            Ws.AddExample(project, label.Id, set, new MemoryStream(File.ReadAllBytes(file)), "upload", Path.GetFileName(file));
    }

    private static GuidanceItem One(IReadOnlyList<GuidanceItem> items, string code, LabelInfo? label = null) =>
        Assert.Single(items, i => i.Code == code && (label is null || i.LabelId == label.Id));

    [Fact]
    public void AnEmptyProject_AsksForLabels_AndOneLabelForAnother()
    {
        var project = fixture.NewProject();
        var none = One(Ws.Guidance(project.Id), "no-labels");
        Assert.Equal(("error", "collect"), (none.Severity, none.Where));

        var fist = Ws.AddLabel(project.Id, "✊");
        var one = One(Ws.Guidance(project.Id), "no-labels");
        Assert.Contains("✊", one.Message);
        Assert.Contains("another label", one.Action);

        Ws.AddLabel(project.Id, "✋");
        Assert.DoesNotContain(Ws.Guidance(project.Id), i => i.Code == "no-labels");
        _ = fist;
    }

    [Fact]
    public void FewTrainingPhotos_SaysHowManyMore_PerLabel_UntilThereAreFive()
    {
        var project = fixture.NewProject();
        var fist = Ws.AddLabel(project.Id, "✊");
        var hand = Ws.AddLabel(project.Id, "✋");
        Add(project.Id, fist, ExampleSet.Train, Photos("train", "✊").Take(2));
        Add(project.Id, hand, ExampleSet.Train, Photos("train", "✋").Take(5));

        var items = Ws.Guidance(project.Id);
        var few = One(items, "few-training-examples", fist);
        Assert.Equal(("warning", "collect", "✊"), (few.Severity, few.Where, few.Label));
        Assert.Contains("only 2 photos", few.Message);
        Assert.Contains("at least 3 more training photos of ✊", few.Action);
        Assert.Contains("10 per label", few.Action);
        Assert.DoesNotContain(items, i => i.Code == "few-training-examples" && i.LabelId == hand.Id);

        // A label with none is an error: the model cannot learn it.
        var peace = Ws.AddLabel(project.Id, "✌️");
        var empty = One(Ws.Guidance(project.Id), "few-training-examples", peace);
        Assert.Equal("error", empty.Severity);
        Assert.Contains("at least 5 more", empty.Action);

        Add(project.Id, fist, ExampleSet.Train, Photos("train", "✊").Skip(2).Take(3));
        Add(project.Id, peace, ExampleSet.Train, Photos("train", "✌️").Take(5));
        Assert.DoesNotContain(Ws.Guidance(project.Id), i => i.Code == "few-training-examples");
    }

    [Fact]
    public void AnUnbalancedTrainingSet_NamesTheSmallLabels_OnTrain()
    {
        var project = fixture.NewProject();
        var fist = Ws.AddLabel(project.Id, "✊");
        var hand = Ws.AddLabel(project.Id, "✋");
        var peace = Ws.AddLabel(project.Id, "✌️");
        Add(project.Id, fist, ExampleSet.Train, Photos("train", "✊"));           // 10
        Add(project.Id, hand, ExampleSet.Train, Photos("train", "✋").Take(3));   // 10 / 3 > 3
        Add(project.Id, peace, ExampleSet.Train, Photos("train", "✌️").Take(4));  // 10 / 4 ≤ 3

        var unbalanced = One(Ws.Guidance(project.Id), "unbalanced");
        Assert.Equal(("warning", "train", hand.Id), (unbalanced.Severity, unbalanced.Where, unbalanced.LabelId));
        Assert.Contains("✊ has 10 photos, ✋ 3", unbalanced.Message);
        Assert.DoesNotContain("✌️", unbalanced.Message);
        Assert.Contains("add about 7 training photos of ✋", unbalanced.Action);

        Add(project.Id, hand, ExampleSet.Train, Photos("train", "✋").Skip(3).Take(1));   // 10 / 4
        Assert.DoesNotContain(Ws.Guidance(project.Id), i => i.Code == "unbalanced");
    }

    [Fact]
    public void NoTestSet_ThenALabelWithoutTestPhotos_OnEvaluate()
    {
        var project = fixture.NewProject();
        var fist = Ws.AddLabel(project.Id, "✊");
        var hand = Ws.AddLabel(project.Id, "✋");

        var none = One(Ws.Guidance(project.Id), "no-test-set");
        Assert.Equal(("error", "evaluate"), (none.Severity, none.Where));
        Assert.DoesNotContain(Ws.Guidance(project.Id), i => i.Code == "no-test-example");

        Add(project.Id, fist, ExampleSet.Test, Photos("test", "✊").Take(1));
        var items = Ws.Guidance(project.Id);
        Assert.DoesNotContain(items, i => i.Code == "no-test-set");
        var missing = One(items, "no-test-example", hand);
        Assert.Equal(("warning", "evaluate"), (missing.Severity, missing.Where));
        Assert.Contains("Evaluate cannot judge", missing.Message);

        Add(project.Id, hand, ExampleSet.Test, Photos("test", "✋").Take(1));
        Assert.DoesNotContain(Ws.Guidance(project.Id), i => i.Code is "no-test-example" or "no-test-set");
    }

    [Fact]
    public void AnUnreadablePhoto_IsNamedWithItsSet_AndDoesNotCountAsAnExample()
    {
        var project = fixture.NewProject();
        var fist = Ws.AddLabel(project.Id, "✊");
        Ws.AddLabel(project.Id, "✋");
        var photos = Photos("train", "✊");
        Add(project.Id, fist, ExampleSet.Train, photos.Take(4));
        byte[] whole = File.ReadAllBytes(photos[5]);
        var bad = Ws.AddExample(project.Id, fist.Id, ExampleSet.Train, new MemoryStream(whole[..(whole.Length / 2)]), "upload", "half.jpg");
        Assert.True(bad.Example.Corrupt);

        var items = Ws.Guidance(project.Id);
        var corrupt = One(items, "corrupt-images", fist);
        Assert.Equal(("warning", "collect"), (corrupt.Severity, corrupt.Where));
        Assert.Contains("1 training photo of ✊ could not be read", corrupt.Message);
        // Five stored, four usable: still too few.
        Assert.Contains("only 4 photos", One(items, "few-training-examples", fist).Message);

        Ws.DeleteExample(project.Id, bad.Example.Id);
        Assert.DoesNotContain(Ws.Guidance(project.Id), i => i.Code == "corrupt-images");
    }

    [Fact]
    public void TheLatestRunDiverged_IsShownOnTrain_UntilAnotherRun()
    {
        var project = fixture.NewProject();
        string message = Run.DivergedMessage(new TrainingDivergence(3, 2, 4, double.NaN, 0.5), before: 0, committedEpoch: 2, domain: null);
        long run = Ws.BeginRun(project.Id, new RunRequest());
        Ws.EndRun(run, TrainingState.Failed, message, null);

        var diverged = One(Ws.Guidance(project.Id), "diverged");
        Assert.Equal(("error", "train", message), (diverged.Severity, diverged.Where, diverged.Message));

        long next = Ws.BeginRun(project.Id, new RunRequest());
        Ws.EndRun(next, TrainingState.Cancelled, "Stopped before anything was trained.", null);
        Assert.DoesNotContain(Ws.Guidance(project.Id), i => i.Code == "diverged");
    }

    [Fact]
    public void AnUnknownProject_IsAClearError()
    {
        var e = Assert.Throws<NotFoundException>(() => Ws.Guidance(987654));
        Assert.Contains("no project 987654", e.Message);
    }
}
