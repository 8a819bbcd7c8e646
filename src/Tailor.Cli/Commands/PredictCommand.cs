using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json.Serialization;
using Spectre.Console;
using Tailor.Data;
using Tailor.Images;
using Tailor.Prediction;

namespace Tailor.Cli.Commands;

/// <summary><c>tailor predict MODEL IMAGE_OR_FOLDER... [--top K] [--format table|csv|json]</c>.</summary>
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
        [property: JsonPropertyName("error"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Error)
    {
        /// <summary>How the table names the image: its path inside the folder given, or the file name of a file given.</summary>
        [JsonIgnore] public string Shown { get; init; } = System.IO.Path.GetFileName(Path);

        /// <summary>Every slot's probability (CSV writes those of the labels in use).</summary>
        [JsonIgnore] public float[]? Probabilities { get; init; }
    }

    /// <summary>Output formats of --format.</summary>
    internal static readonly string[] Formats = ["table", "csv", "json"];

    public static Command Create()
    {
        var modelArg = new Argument<string>("MODEL") { Description = "An updatable ONNX model." };
        var imagesArg = new Argument<string[]>("IMAGE") { Description = "Image files, or folders: every file inside, sub-folders included, in ordinal order of their paths.", Arity = ArgumentArity.OneOrMore };
        var topOption = new Option<int>("--top") { Description = "How many labels the table and JSON show per image.", DefaultValueFactory = _ => 3 };
        var formatOption = new Option<string>("--format") { Description = "table, csv (one row per image: path, label, probability, then one column per label) or json.", DefaultValueFactory = _ => "table" };
        var jsonOption = new Option<bool>("--json") { Description = "Print one JSON array (the same as --format json)." };
        var deviceOption = DeviceOption.Create();
        var command = HelpText.Examples(
            new Command("predict", "Classify images: the top label and the most probable labels with their probabilities.") { modelArg, imagesArg, topOption.WholeIn(1, int.MaxValue), formatOption, jsonOption, deviceOption },
            "tailor predict hands.onnx photo.jpg",
            "tailor predict hands.onnx photos/ --format csv > predictions.csv",
            "tailor predict hands.onnx photos/ --json --top 1");
        command.SetAction((parse, ct) =>
        {
            int top = parse.GetValue(topOption);
            if (top < 1) throw new UsageException($"--top must be at least 1; got {top}.");
            string format = parse.GetValue(formatOption)!.Trim().ToLowerInvariant();
            if (!Formats.Contains(format)) throw new UsageException($"--format: '{format}' is not one of {string.Join(", ", Formats)}.");
            if (parse.GetValue(jsonOption))
            {
                if (parse.GetResult(formatOption) is { Implicit: false } && format != "json")
                    throw new UsageException($"--json and --format {format} disagree; give one of them.");
                format = "json";
            }
            string device = DeviceOption.Get(parse, deviceOption);
            var images = ExpandImages(parse.GetValue(imagesArg)!);
            var paths = images.Select(i => i.Path).ToList();
            var model = UpdatableModel.Load(parse.GetValue(modelArg)!);
            using var predictor = new Predictor(model, new PredictorOptions { ExecutionProvider = device });
            var rows = new List<Row>();
            const int chunkSize = 16;
            for (int start = 0; start < paths.Count; start += chunkSize)
            {
                var chunk = paths.Skip(start).Take(chunkSize).ToList();
                var (batch, results) = ImageLoader.LoadBatch(chunk, model.Spec.Preprocessing, ct);
                var predictions = predictor.Predict(batch, chunk.Count, chunk);
                for (int i = 0; i < chunk.Count; i++)
                {
                    string shown = images[start + i].Shown;
                    if (results[i].Error is { } error) { rows.Add(new Row(chunk[i], null, null, null, error) { Shown = shown }); continue; }
                    var p = predictions[i];
                    rows.Add(new Row(chunk[i], p.Label, p.Probability,
                        p.Top(Math.Min(top, p.Probabilities.Length), model.Spec.Labels).Select(t => new Ranked(t.Label, t.Probability)).ToList(), null)
                        { Probabilities = p.Probabilities, Shown = shown });
                }
            }
            switch (format)
            {
                case "json":
                    CliApp.WriteJson(rows);
                    break;
                case "csv":
                    WriteCsv(Console.Out, rows, model.Spec.Labels);
                    break;
                default:
                    // Names never wrap; the top labels go one per line, each whole.
                    var ok = rows.Where(r => r.Error is null).ToList();
                    var topTexts = ok.Select(r => string.Join("\n", r.Top!.Select(t => $"{Text.Label(t.Label)} {t.Probability:P1}"))).ToList();
                    var table = new Table().AddColumn(new TableColumn("image").NoWrap()).AddColumn(new TableColumn("label").NoWrap())
                        .AddColumn(new TableColumn("probability").NoWrap()).AddColumn(Tables.Whole($"top {top}", topTexts));
                    for (int i = 0; i < ok.Count; i++)
                        table.AddRow(Text.MarkupPath(ok[i].Shown), Text.MarkupLabel(ok[i].Label!), $"{ok[i].Probability:P1}", Markup.Escape(topTexts[i]));
                    Tables.Write(table);
                    break;
            }
            foreach (var r in rows.Where(r => r.Error is not null)) CliApp.WriteError(r.Error!);
            return Task.FromResult(rows.Any(r => r.Error is not null) ? 1 : 0);
        });
        return command;
    }

    /// <summary>
    /// Files as given; a folder becomes every file below it (sub-folders included; hidden entries and system junk
    /// skipped, as in a data folder), in ordinal order of their paths so that runs list images the same way.
    /// </summary>
    /// <returns>Each file's path (the folder given joined with its path inside) and how a table shows it (its
    /// path inside the folder, or the file name of a file given).</returns>
    /// <exception cref="TailorException">A path does not exist, or a folder holds no file.</exception>
    internal static IReadOnlyList<(string Path, string Shown)> ExpandImages(IEnumerable<string> arguments)
    {
        var paths = new List<(string, string)>();
        foreach (var argument in arguments)
        {
            if (File.Exists(argument)) { paths.Add((argument, Path.GetFileName(argument))); continue; }
            if (!Directory.Exists(argument)) throw new TailorException($"'{argument}' does not exist: give image files or folders of images.");
            var files = new List<string>();
            Collect(new DirectoryInfo(argument), argument, files);
            if (files.Count == 0) throw new TailorException($"The folder '{argument}' holds no files.");
            files.Sort(StringComparer.Ordinal);
            paths.AddRange(files.Select(f => (f, Path.GetRelativePath(argument, f))));
        }
        return paths;

        static void Collect(DirectoryInfo folder, string shown, List<string> files)
        {
            try
            {
                foreach (var file in folder.EnumerateFiles().Where(f => !LabeledFolder.IsSkipped(f)))
                    files.Add(Path.Combine(shown, file.Name));
                foreach (var sub in folder.EnumerateDirectories().Where(d => !LabeledFolder.IsSkipped(d)))
                    Collect(sub, Path.Combine(shown, sub.Name), files);
            }
            catch (Exception e) when (e is UnauthorizedAccessException or IOException)
            {
                throw new TailorException($"The folder '{shown}' cannot be read: {e.Message}", e);
            }
        }
    }

    /// <summary>RFC 4180 CSV: a header, then one row per image — path, label, probability, error, and one column per
    /// label in use with that label's probability (empty for an unreadable image, whose error says why).</summary>
    private static void WriteCsv(TextWriter writer, IReadOnlyList<Row> rows, Spec.ClassLabels labels)
    {
        var slots = Enumerable.Range(0, labels.Capacity).Where(i => !labels.IsPlaceholder(i)).ToArray();
        var line = new StringBuilder();
        void Write(IEnumerable<string> fields)
        {
            line.Clear().AppendJoin(',', fields.Select(Quote));
            writer.WriteLine(line);
        }
        // Labels as every output shows them (escaped; one over 80 characters shortened to its start and length).
        Write(["path", "label", "probability", "error", .. slots.Select(i => Shown.Label(labels.Names[i]))]);
        foreach (var r in rows)
            Write([r.Path, r.Label is { } label ? Shown.Label(label) : "", Number(r.Probability), r.Error ?? "", .. slots.Select(i => Number(r.Probabilities?[i]))]);
    }

    private static string Number(float? value) => value is float v ? v.ToString("0.######", CultureInfo.InvariantCulture) : "";

    /// <summary>A field with control characters escaped as every text output escapes them (<c>\u001b</c>, <c>\r</c>): a
    /// label or file name must not act on the terminal the CSV is printed to. Paths stay whole (never shortened).</summary>
    private static string Quote(string field)
    {
        field = Shown.Text(field, int.MaxValue, int.MaxValue);
        return field.AsSpan().IndexOfAny(",\"") >= 0 ? "\"" + field.Replace("\"", "\"\"") + "\"" : field;
    }
}
