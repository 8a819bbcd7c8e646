using System.CommandLine;
using System.Text.Json.Serialization;
using Spectre.Console;
using Tailor.Images;
using Tailor.Prediction;

namespace Tailor.Cli.Commands;

/// <summary><c>tailor predict MODEL IMAGE... [--top K] [--json]</c>.</summary>
internal static class PredictCommand
{
    private sealed record Ranked(
        [property: JsonPropertyName("label")] string Label,
        [property: JsonPropertyName("probability")] float Probability);

    private sealed record Row(
        [property: JsonPropertyName("path")] string Path,
        [property: JsonPropertyName("label")] string? Label,
        [property: JsonPropertyName("probability")] float? Probability,
        [property: JsonPropertyName("top")] IReadOnlyList<Ranked>? Top,
        [property: JsonPropertyName("error"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Error);

    public static Command Create()
    {
        var modelArg = new Argument<string>("MODEL") { Description = "An updatable ONNX model." };
        var imagesArg = new Argument<string[]>("IMAGE") { Description = "Image files.", Arity = ArgumentArity.OneOrMore };
        var topOption = new Option<int>("--top") { Description = "How many labels to show per image.", DefaultValueFactory = _ => 3 };
        var jsonOption = new Option<bool>("--json") { Description = "Print one JSON array." };
        var command = new Command("predict", "Classify images: the top label and the most probable labels with their probabilities.") { modelArg, imagesArg, topOption, jsonOption };
        command.SetAction((parse, ct) =>
        {
            int top = parse.GetValue(topOption);
            if (top < 1) throw new TailorException($"--top must be at least 1; got {top}.");
            var model = UpdatableModel.Load(parse.GetValue(modelArg)!);
            var paths = parse.GetValue(imagesArg)!;
            using var predictor = new Predictor(model);
            var rows = new List<Row>();
            const int chunkSize = 16;
            for (int start = 0; start < paths.Length; start += chunkSize)
            {
                var chunk = paths.Skip(start).Take(chunkSize).ToList();
                var (batch, results) = ImageLoader.LoadBatch(chunk, model.Spec.Preprocessing, ct);
                var predictions = predictor.Predict(batch, chunk.Count);
                for (int i = 0; i < chunk.Count; i++)
                {
                    if (results[i].Error is { } error) { rows.Add(new Row(chunk[i], null, null, null, error)); continue; }
                    var p = predictions[i];
                    rows.Add(new Row(chunk[i], p.Label, p.Probability,
                        p.Top(Math.Min(top, p.Probabilities.Length), model.Spec.Labels).Select(t => new Ranked(t.Label, t.Probability)).ToList(), null));
                }
            }
            if (parse.GetValue(jsonOption)) CliApp.WriteJson(rows);
            else
            {
                var table = new Table().AddColumns("image", "label", "probability", $"top {top}");
                foreach (var r in rows.Where(r => r.Error is null))
                    table.AddRow(Markup.Escape(Path.GetFileName(r.Path)), Markup.Escape(r.Label!), $"{r.Probability:P1}",
                        Markup.Escape(string.Join("  ", r.Top!.Select(t => $"{t.Label} {t.Probability:P1}"))));
                AnsiConsole.Write(table);
            }
            foreach (var r in rows.Where(r => r.Error is not null)) CliApp.WriteError(r.Error!);
            return Task.FromResult(rows.Any(r => r.Error is not null) ? 1 : 0);
        });
        return command;
    }
}
