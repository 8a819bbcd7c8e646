using System.Globalization;
using Tailor.Studio.Runs;

namespace Tailor.Studio;

/// <summary>A hint for a project where users get stuck: what is wrong, where it shows, and what to do.</summary>
/// <param name="Code">What kind of hint (stable, for the page and tests): <c>no-labels</c>, <c>few-training-examples</c>,
/// <c>unbalanced</c>, <c>no-test-set</c>, <c>no-test-example</c>, <c>corrupt-images</c>, <c>diverged</c>.</param>
/// <param name="Severity"><c>error</c> (a run or an evaluation cannot do its job) or <c>warning</c> (it can, poorly).</param>
/// <param name="Where">The screen it is shown on: <c>collect</c>, <c>train</c> or <c>evaluate</c>.</param>
/// <param name="LabelId">The label it is about, if one.</param>
/// <param name="Label">That label's name.</param>
/// <param name="Message">What is wrong, with the numbers.</param>
/// <param name="Action">What to do about it.</param>
public sealed record GuidanceItem(string Code, string Severity, string Where, long? LabelId, string? Label, string Message, string Action);

public sealed partial class Workspace
{
    /// <summary>Fewer usable training photos than this for a label is worth a hint (the reference app asks for 10).</summary>
    public const int FewTrainingExamples = 5;

    /// <summary>The reference app's ask: 10 training photos per label.</summary>
    public const int ReferenceTrainingExamples = 10;

    /// <summary>A training set whose largest label has more than this many times the photos of its smallest is unbalanced.</summary>
    public const double UnbalancedRatio = 3;

    /// <summary>The hints for a project, from its counts (photos that could not be read do not count) and its latest run.</summary>
    /// <exception cref="TailorException">No such project.</exception>
    public IReadOnlyList<GuidanceItem> Guidance(long projectId) => Read(() =>
    {
        ProjectName(projectId, null);
        var labels = Query(
            """
            SELECT l.id, l.name,
                   (SELECT count(*) FROM examples e WHERE e.label = l.id AND e.example_set = 'train' AND e.corrupt = 0),
                   (SELECT count(*) FROM examples e WHERE e.label = l.id AND e.example_set = 'test' AND e.corrupt = 0),
                   (SELECT count(*) FROM examples e WHERE e.label = l.id AND e.example_set = 'train' AND e.corrupt <> 0),
                   (SELECT count(*) FROM examples e WHERE e.label = l.id AND e.example_set = 'test' AND e.corrupt <> 0)
            FROM labels l WHERE l.project = $p ORDER BY l.slot;
            """,
            r => (Id: r.GetInt64(0), Name: r.GetString(1), Train: r.GetInt32(2), Test: r.GetInt32(3), BadTrain: r.GetInt32(4), BadTest: r.GetInt32(5)),
            null, ("$p", projectId));
        var lastRun = Query("SELECT state, reason FROM runs WHERE project = $p ORDER BY id DESC LIMIT 1;",
            r => (State: r.GetString(0), Reason: NullableString(r, 1)), null, ("$p", projectId));

        var items = new List<GuidanceItem>();
        var c = CultureInfo.InvariantCulture;
        if (labels.Count < 2)
            items.Add(new GuidanceItem("no-labels", "error", "collect", null, null,
                labels.Count == 0 ? "The project has no labels yet." : $"The project has one label, {labels[0].Name}: a classifier tells labels apart.",
                $"Add {(labels.Count == 0 ? "two labels or more" : "another label")}, then {ReferenceTrainingExamples} training photos for each."));

        foreach (var l in labels)
        {
            if (l.Train < FewTrainingExamples)
            {
                int more = FewTrainingExamples - l.Train;
                items.Add(new GuidanceItem("few-training-examples", l.Train == 0 ? "error" : "warning", "collect", l.Id, l.Name,
                    l.Train == 0 ? $"{l.Name} has no training photos: the model cannot learn it."
                        : string.Create(c, $"{l.Name} has only {Photos(l.Train)} to train on."),
                    string.Create(c, $"Add at least {more} more training {(more == 1 ? "photo" : "photos")} of {l.Name} (the reference app asks for {ReferenceTrainingExamples} per label).")));
            }
            if (l.BadTrain + l.BadTest > 0)
            {
                string sets = (l.BadTrain > 0, l.BadTest > 0) switch
                {
                    (true, true) => string.Create(c, $"{l.BadTrain} training and {l.BadTest} test"),
                    (true, false) => string.Create(c, $"{l.BadTrain} training"),
                    _ => string.Create(c, $"{l.BadTest} test"),
                };
                int bad = l.BadTrain + l.BadTest;
                items.Add(new GuidanceItem("corrupt-images", "warning", "collect", l.Id, l.Name,
                    $"{sets} {(bad == 1 ? "photo" : "photos")} of {l.Name} could not be read: runs and Evaluate leave {(bad == 1 ? "it" : "them")} out.",
                    $"Delete {(bad == 1 ? "it" : "them")} (marked “could not be read” in the gallery) and add {(bad == 1 ? "a photo" : "photos")} that open."));
            }
        }

        var trained = labels.Where(l => l.Train > 0).ToList();
        if (trained.Count >= 2)
        {
            int largest = trained.Max(l => l.Train);
            var small = trained.Where(l => largest > UnbalancedRatio * l.Train).ToList();
            if (small.Count > 0)
            {
                var big = trained.Where(l => l.Train == largest).ToList();
                var smallest = small.MinBy(l => l.Train);
                items.Add(new GuidanceItem("unbalanced", "warning", "train", smallest.Id, smallest.Name,
                    string.Create(c, $"The training set is unbalanced: {Names(big.Select(l => l.Name))} {(big.Count == 1 ? "has" : "have")} {Photos(largest)}, ") +
                    string.Join(", ", small.Select(l => string.Create(c, $"{l.Name} {l.Train}"))) +
                    string.Create(c, $" (more than {UnbalancedRatio:0} times fewer): the model leans towards {Names(big.Select(l => l.Name))}."),
                    string.Join("; ", small.Select(l => string.Create(c, $"add about {largest - l.Train} training photos of {l.Name}"))) +
                    $" on Collect, or train on fewer of {Names(big.Select(l => l.Name))}."));
            }
        }

        if (labels.Count > 0 && labels.All(l => l.Test == 0))
            items.Add(new GuidanceItem("no-test-set", "error", "evaluate", null, null,
                "There is no test set: Evaluate has nothing to judge the model on, and runs show no validation accuracy.",
                $"Add a few test photos of each label on Collect (photos the model never trains on; the reference app keeps 5 per label)."));
        else
            foreach (var l in labels.Where(l => l.Test == 0))
                items.Add(new GuidanceItem("no-test-example", "warning", "evaluate", l.Id, l.Name,
                    $"{l.Name} has no test photo: Evaluate cannot judge how well the model knows it.",
                    $"Add a few test photos of {l.Name} on Collect (or move some of its training photos to the test set)."));

        if (lastRun is [{ State: "failed", Reason: { } reason }] && reason.StartsWith(Run.DivergedPrefix, StringComparison.Ordinal))
            items.Add(new GuidanceItem("diverged", "error", "train", null, null, reason,
                "Lower the learning rate with the slider (to the value named) and train again."));
        return (IReadOnlyList<GuidanceItem>)items;
    });

    private static string Photos(int count) => count == 1 ? "1 photo" : string.Create(CultureInfo.InvariantCulture, $"{count} photos");

    private static string Names(IEnumerable<string> names) => string.Join(" and ", names);
}
