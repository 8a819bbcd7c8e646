using System.CommandLine;
using Spectre.Console;

namespace Tailor.Cli.Commands;

/// <summary><c>tailor info MODEL [--json]</c>.</summary>
internal static class InfoCommand
{
    public static Command Create()
    {
        var modelArg = new Argument<string>("MODEL") { Description = "An updatable ONNX model." };
        var jsonOption = new Option<bool>("--json") { Description = "Print one JSON object." };
        var command = HelpText.Examples(
            new Command("info", "Show a model's inputs, outputs, preprocessing, labels, updatable layers, loss, optimizer and hyperparameters.") { modelArg, jsonOption },
            "tailor info hands.onnx", "tailor info hands.onnx --json");
        command.SetAction(parse =>
        {
            var info = ModelInfo.Describe(UpdatableModel.Load(parse.GetValue(modelArg)!));
            if (parse.GetValue(jsonOption)) { CliApp.WriteJson(info); return 0; }
            Render(info);
            return 0;
        });
        return command;
    }

    private static void Render(ModelInfo info)
    {
        AnsiConsole.MarkupLine($"[bold]{Text.MarkupPath(info.Path ?? "")}[/]  (update spec v{info.SpecVersion}, head {info.Head})");
        // Names never wrap (a tensor, layer or parameter name split over two lines cannot be copied or grepped).
        var io = new Table().AddColumn("").AddColumn(new TableColumn("name").NoWrap()).AddColumns("type", "shape");
        foreach (var t in info.Inputs) io.AddRow("input", Text.MarkupPath(t.Name), t.Type, Text.MarkupPath(t.Shape));
        foreach (var t in info.Outputs) io.AddRow("output", Text.MarkupPath(t.Name), t.Type, Text.MarkupPath(t.Shape));
        Tables.Write(io);
        var p = info.Preprocessing;
        AnsiConsole.MarkupLine($"Preprocessing: {p.Width}×{p.Height} {p.Channels.ToString().ToUpperInvariant()} {p.Layout.ToString().ToUpperInvariant()}, resize {p.Resize}, " +
            $"{p.Resampler}, pixel × {p.Scale}; normalization: {Text.MarkupPath(p.Normalization)}");
        var free = info.Placeholders.ToHashSet();   // a lookup in the list made this quadratic in the capacity
        AnsiConsole.MarkupLine($"Labels ({Text.Count(info.Capacity, "slot")}, {info.Placeholders.Count} free): " +
            string.Join(" ", info.Labels.Select((l, i) => free.Contains(l) ? $"[grey]{i}:{Text.MarkupLabel(l)} (free)[/]" : $"{i}:{Text.MarkupLabel(l)}")));
        AnsiConsole.MarkupLine(info.TrainedExamples is { } trained
            ? $"Trained on: {Markup.Escape(string.Join(", ", trained.Select(p => $"{Text.Label(p.Key)} {p.Value}")))} photos (training data lacking one of them is refused unless replayed or --forget)."
            : "Trained on: nothing recorded yet.");
        if (info.Knn is { } knn)
        {
            // A k-NN learns by storing examples: no layers, loss or optimizer apply.
            AnsiConsole.MarkupLine($"k-NN head: {Text.Count(knn.StoredExamples, "stored example")} of {Text.Count(knn.Dimension, "feature")}, k = {knn.K}, {knn.Weighting} vote, {knn.Metric} distance " +
                "(add examples with tailor train --head knn).");
            return;
        }
        var layers = new Table().AddColumn(new TableColumn("updatable layer").NoWrap()).AddColumn(new TableColumn("op").NoWrap())
            .AddColumn(new TableColumn("parameters").NoWrap()).AddColumn(new TableColumn("count").RightAligned());
        foreach (var l in info.UpdatableLayers) layers.AddRow(Text.MarkupPath(l.Name), Text.MarkupPath(l.Op), Markup.Escape(string.Join("\n", l.Parameters.Select(Text.Path))), l.ParameterCount.ToString("N0"));
        Tables.Write(layers);
        AnsiConsole.MarkupLine(info.AdditionalLosses is { Count: > 0 } more
            ? $"Loss: {Markup.Escape(string.Join(" + ", new[] { info.Loss }.Concat(more).Select(t => $"{t.Weight.ToString(System.Globalization.CultureInfo.InvariantCulture)} × {t.Kind} on '{Text.Path(t.Input)}'")))}; optimizer: {info.Optimizer}"
            : $"Loss: {info.Loss.Kind} on '{Text.MarkupPath(info.Loss.Input)}' (target '{Text.MarkupPath(info.Loss.Target)}'); optimizer: {info.Optimizer}");
        var hyper = new Table().AddColumn(new TableColumn("hyperparameter").NoWrap()).AddColumns("default", "allowed");
        foreach (var (name, h) in info.Hyperparameters.OrderBy(kv => kv.Key))
            hyper.AddRow(Text.MarkupPath(name), Text.MarkupPath(Convert.ToString(h.Default, System.Globalization.CultureInfo.InvariantCulture) ?? ""), Text.MarkupPath(h.AllowedText));
        Tables.Write(hyper);
        AnsiConsole.MarkupLine($"Training defaults: augmentation {Text.MarkupPath(info.Augmentation)}; learning-rate schedule {Text.MarkupPath(info.LearningRateSchedule)}.");
    }
}
