using System.Text.Json.Serialization;
using Tailor.Data;
using Tailor.Images;

namespace Tailor.Prediction;

/// <summary>One evaluated image.</summary>
public sealed record ExampleResult(
    [property: JsonPropertyName("path")] string Path,
    [property: JsonPropertyName("label")] string Label,
    [property: JsonPropertyName("predicted")] string Predicted,
    [property: JsonPropertyName("probability")] float Probability,
    [property: JsonPropertyName("true_probability")] float TrueProbability);

/// <summary>A file evaluation could not read, and why.</summary>
public sealed record SkippedFile(
    [property: JsonPropertyName("path")] string Path,
    [property: JsonPropertyName("reason")] string Reason);

/// <summary>Accuracy on the images of one label.</summary>
public sealed record LabelAccuracy(
    [property: JsonPropertyName("count")] int Count,
    [property: JsonPropertyName("accuracy")] double Accuracy);

/// <summary>Rows are true labels, columns predicted labels, both in <see cref="Labels"/> order.</summary>
public sealed record ConfusionMatrix(
    [property: JsonPropertyName("labels")] IReadOnlyList<string> Labels,
    [property: JsonPropertyName("matrix")] int[][] Matrix);

/// <summary>The result of evaluating a model on a labelled folder.</summary>
public sealed record EvaluationReport
{
    /// <summary>Fraction of evaluated images whose top label is the true one (0..1).</summary>
    [JsonPropertyName("accuracy")] public double Accuracy { get; init; }

    /// <summary>Mean cross-entropy of the true label, −log(p_true + 1e-12), over the evaluated images.</summary>
    [JsonPropertyName("loss")] public double Loss { get; init; }

    /// <summary>Images evaluated (skipped files are not counted).</summary>
    [JsonPropertyName("count")] public int Count { get; init; }

    [JsonPropertyName("correct")] public int Correct { get; init; }

    [JsonPropertyName("per_label")] public IReadOnlyDictionary<string, LabelAccuracy> PerLabel { get; init; } = new Dictionary<string, LabelAccuracy>();

    [JsonPropertyName("confusion")] public ConfusionMatrix Confusion { get; init; } = new([], []);

    [JsonPropertyName("examples")] public IReadOnlyList<ExampleResult> Examples { get; init; } = [];

    [JsonPropertyName("skipped")] public IReadOnlyList<SkippedFile> Skipped { get; init; } = [];
}

/// <summary>Options for <see cref="Evaluator.Evaluate"/>.</summary>
public sealed record EvaluationOptions
{
    /// <summary>Fail on the first unreadable file instead of skipping it. Default false.</summary>
    public bool Strict { get; init; }

    /// <summary>Images decoded and run together. Default 16.</summary>
    public int BatchSize { get; init; } = 16;

    /// <summary>Receives the number of images done so far.</summary>
    public IProgress<int>? Progress { get; init; }
}

/// <summary>Evaluates a model on a labelled folder (<c>DIR/&lt;label&gt;/&lt;images&gt;</c>).</summary>
public static class Evaluator
{
    /// <summary>The epsilon in −log(p + ε): keeps the loss finite when a probability underflows to 0,
    /// as the reference app does (in double precision).</summary>
    public const double LogEpsilon = 1e-12;

    /// <summary>Runs <paramref name="predictor"/> on every image of <paramref name="data"/>.</summary>
    /// <exception cref="TailorException">A label folder the model does not know; with
    /// <see cref="EvaluationOptions.Strict"/>, the first unreadable file; no readable image at all; ONNX Runtime
    /// failing, or the model giving NaN or infinite probabilities (see <see cref="Predictor.Predict(ReadOnlySpan{float}, int, IReadOnlyList{string})"/>).</exception>
    public static EvaluationReport Evaluate(Predictor predictor, LabeledFolder data, EvaluationOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        options ??= new EvaluationOptions();
        var labels = predictor.Model.Spec.Labels;
        var unknown = data.Labels.Where(l => labels.IndexOf(l) < 0).ToList();
        if (unknown.Count > 0)
            throw new TailorException(
                $"The label folder{(unknown.Count > 1 ? "s" : "")} {string.Join(", ", unknown.Select(u => $"'{Path.Combine(data.Root, u)}'"))} " +
                $"{(unknown.Count > 1 ? "are" : "is")} not among the model's labels ({string.Join(", ", labels.InUse)}). " +
                "Train on it first (training adds new labels to free slots), or remove the folder.");

        var spec = predictor.Model.Spec.Preprocessing;
        int length = ImageLoader.TensorLength(spec);
        int batchSize = Math.Max(1, options.BatchSize);
        var buffer = new float[batchSize * length];
        var examples = new List<ExampleResult>();
        var skipped = new List<SkippedFile>();
        var good = new float[batchSize * length];
        for (int start = 0; start < data.Examples.Count; start += batchSize)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var chunk = data.Examples.Skip(start).Take(batchSize).ToList();
            var results = ImageLoader.LoadBatch(chunk.Select(e => e.Path).ToList(), spec, buffer, cancellationToken);
            // Compact the readable images so the model sees only them.
            var kept = new List<LabeledExample>();
            for (int i = 0; i < results.Length; i++)
            {
                if (results[i].Error is { } error)
                {
                    if (options.Strict) throw new TailorException(error);
                    skipped.Add(new SkippedFile(chunk[i].Path, error));
                    continue;
                }
                buffer.AsSpan(i * length, length).CopyTo(good.AsSpan(kept.Count * length, length));
                kept.Add(chunk[i]);
            }
            var predictions = predictor.Predict(good, kept.Count, kept.Select(e => e.Path).ToList());
            for (int i = 0; i < kept.Count; i++)
            {
                var p = predictions[i];
                int trueSlot = labels.IndexOf(kept[i].Label);
                examples.Add(new ExampleResult(kept[i].Path, kept[i].Label, p.Label, p.Probability, p.Probabilities[trueSlot]));
            }
            options.Progress?.Report(start + chunk.Count);
        }
        if (examples.Count == 0)
            throw new TailorException($"No image in '{data.Root}' could be read ({skipped.Count} skipped; first: {skipped.FirstOrDefault()?.Reason}).");
        return Summarize(examples, skipped, data.Labels, labels);
    }

    internal static EvaluationReport Summarize(IReadOnlyList<ExampleResult> examples, IReadOnlyList<SkippedFile> skipped,
        IReadOnlyList<string> dataLabels, Spec.ClassLabels modelLabels)
    {
        var cmp = LabelComparer.Instance;
        // Confusion labels: the data's labels and any other label the model predicted, in slot order — the same order
        // whatever the head, since every head keeps the model's slots.
        var order = dataLabels.ToList();
        foreach (var e in examples)
            if (!order.Contains(e.Predicted, cmp)) order.Add(e.Predicted);
        int Slot(string l)
        {
            for (int i = 0; i < modelLabels.Names.Count; i++)
                if (cmp.Equals(modelLabels.Names[i], l)) return i;
            return int.MaxValue;
        }
        order = [.. order.OrderBy(Slot)];
        int Index(string l) => order.FindIndex(o => cmp.Equals(o, l));
        var matrix = order.Select(_ => new int[order.Count]).ToArray();
        int correct = 0;
        double loss = 0;
        foreach (var e in examples)
        {
            matrix[Index(e.Label)][Index(e.Predicted)]++;
            if (cmp.Equals(e.Label, e.Predicted)) correct++;
            loss += -Math.Log(e.TrueProbability + LogEpsilon);
        }
        var perLabel = new Dictionary<string, LabelAccuracy>();
        foreach (var label in order.Where(l => dataLabels.Contains(l, cmp)))
        {
            var mine = examples.Where(e => cmp.Equals(e.Label, label)).ToList();
            if (mine.Count > 0)
                perLabel[label] = new LabelAccuracy(mine.Count, mine.Count(e => cmp.Equals(e.Predicted, label)) / (double)mine.Count);
        }
        return new EvaluationReport
        {
            Accuracy = correct / (double)examples.Count,
            Loss = loss / examples.Count,
            Count = examples.Count,
            Correct = correct,
            PerLabel = perLabel,
            Confusion = new ConfusionMatrix(order, matrix),
            Examples = examples,
            Skipped = skipped,
        };
    }
}
