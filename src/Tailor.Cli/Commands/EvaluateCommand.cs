using System.CommandLine;
using Spectre.Console;
using Tailor.Data;
using Tailor.Prediction;

namespace Tailor.Cli.Commands;

/// <summary><c>tailor evaluate MODEL --data DIR [--json] [--strict]</c>.</summary>
internal static class EvaluateCommand
{
    public static Command Create()
    {
        var modelArg = new Argument<string>("MODEL") { Description = "An updatable ONNX model." };
        var dataOption = new Option<string>("--data") { Description = "A folder with one sub-folder of images per label.", Required = true };
        var jsonOption = new Option<bool>("--json") { Description = "Print one JSON object." };
        var strictOption = new Option<bool>("--strict") { Description = "Fail on the first unreadable file instead of skipping it." };
        var deviceOption = DeviceOption.Create();
        var command = HelpText.Examples(
            new Command("evaluate", "Evaluate a model on a labelled folder: accuracy, loss, per-label accuracy, confusion matrix and a per-image table.")
                { modelArg, dataOption, jsonOption, strictOption, deviceOption },
            "tailor evaluate hands.onnx --data photos/test", "tailor evaluate hands.onnx --data photos/test --json");
        command.SetAction((parse, ct) =>
        {
            string device = DeviceOption.Get(parse, deviceOption);
            var model = UpdatableModel.Load(parse.GetValue(modelArg)!);
            var data = LabeledFolder.Scan(parse.GetValue(dataOption)!);
            bool json = parse.GetValue(jsonOption);
            using var predictor = new Predictor(model, new PredictorOptions { ExecutionProvider = device });
            var options = new EvaluationOptions { Strict = parse.GetValue(strictOption) };
            EvaluationReport report = json
                ? Evaluator.Evaluate(predictor, data, options, ct)
                : Progress.Run("Evaluating", data.Examples.Count, progress => Evaluator.Evaluate(predictor, data, options with { Progress = progress }, ct));
            if (json) { CliApp.WriteJson(report); return Task.FromResult(0); }
            Render(report);
            return Task.FromResult(0);
        });
        return command;
    }

    internal static void Render(EvaluationReport report)
    {
        // File names and labels never wrap (a name split over two lines cannot be copied or grepped).
        var table = new Table().AddColumn(new TableColumn("image").NoWrap()).AddColumn(new TableColumn("label").NoWrap())
            .AddColumn(new TableColumn("predicted").NoWrap()).AddColumns("probability", "p(true)");
        foreach (var e in report.Examples)
        {
            bool ok = LabelComparer.Instance.Equals(e.Label, e.Predicted);
            table.AddRow(Text.MarkupPath(Path.GetFileName(e.Path)), Text.MarkupLabel(e.Label),
                ok ? Text.MarkupLabel(e.Predicted) : $"[red]{Text.MarkupLabel(e.Predicted)}[/]", $"{e.Probability:P1}", $"{e.TrueProbability:P1}");
        }
        Tables.Write(table);
        var perLabel = new Table().AddColumn(new TableColumn("label").NoWrap()).AddColumns("images", "accuracy");
        foreach (var (label, acc) in report.PerLabel) perLabel.AddRow(Text.MarkupLabel(label), acc.Count.ToString(), $"{acc.Accuracy:P1}");
        Tables.Write(perLabel);
        var confusion = new Table().AddColumn("true \\ predicted");
        foreach (var l in report.Confusion.Labels) confusion.AddColumn(Text.MarkupLabel(l));
        for (int r = 0; r < report.Confusion.Labels.Count; r++)
            confusion.AddRow([Text.MarkupLabel(report.Confusion.Labels[r]), .. report.Confusion.Matrix[r].Select(v => v.ToString())]);
        Tables.Write(confusion);
        AnsiConsole.MarkupLine($"[bold]Accuracy {report.Accuracy:P1}[/] ({report.Correct}/{report.Count}), loss {report.Loss:F4}" +
            (report.Skipped.Count > 0 ? $", [yellow]{report.Skipped.Count} skipped[/]" : ""));
        foreach (var s in report.Skipped) AnsiConsole.MarkupLine($"[yellow]skipped[/] {Text.MarkupPath(s.Path)}: {Markup.Escape(Text.Message(s.Reason))}");
    }
}
