using System.CommandLine;
using System.Text.Json.Serialization;
using Spectre.Console;
using Tailor.Building;

namespace Tailor.Cli.Commands;

/// <summary><c>tailor layers MODEL [--json]</c>: the layers that can be made updatable. A command of its own rather than
/// <c>info --layers</c>: it reads any ONNX image model (the file given to <c>prepare --base/--from</c>), while <c>info</c>
/// describes updatable models only.</summary>
internal static class LayersCommand
{
    private sealed record Row(
        [property: JsonPropertyName("name")] string Name,
        [property: JsonPropertyName("op")] string Op,
        [property: JsonPropertyName("parameter_count")] long ParameterCount,
        [property: JsonPropertyName("output_shape")] string OutputShape,
        [property: JsonPropertyName("backprop_reaches")] bool BackpropReaches,
        [property: JsonPropertyName("blocked_by")] string? BlockedBy,
        [property: JsonPropertyName("last_block")] bool LastBlock);

    public static Command Create()
    {
        var modelArg = new Argument<string>("MODEL") { Description = "An ONNX image model (updatable or not)." };
        var jsonOption = new Option<bool>("--json") { Description = "Print one JSON array." };
        var command = HelpText.Examples(
            new Command("layers", "List the layers that can be made updatable (--updatable), in graph order: op, parameters, output shape, " +
                "whether the loss's gradient reaches them, and which ones --updatable last-block selects."),
            "tailor layers mobilenet.onnx", "tailor layers hands.onnx --json");
        command.Add(modelArg);
        command.Add(jsonOption);
        command.SetAction(parse =>
        {
            string path = parse.GetValue(modelArg)!;
            var rows = LayerCatalog.Describe(path);
            if (parse.GetValue(jsonOption))
            {
                CliApp.WriteJson(rows.Select(r => new Row(r.Name, r.Op, r.ParameterCount, r.OutputShape, r.Reachable, r.Blocker, r.InLastBlock)).ToList());
                return 0;
            }
            var table = new Table().AddColumn(new TableColumn("layer").NoWrap()).AddColumn(new TableColumn("op").NoWrap())
                .AddColumn(new TableColumn("parameters").RightAligned()).AddColumn(new TableColumn("output").NoWrap())
                .AddColumn(new TableColumn("trainable from the loss").NoWrap()).AddColumn(new TableColumn("last-block").NoWrap());
            foreach (var r in rows)
                table.AddRow(Text.MarkupPath(r.Name), Text.MarkupPath(r.Op), r.ParameterCount.ToString("N0"), Text.MarkupPath(r.OutputShape),
                    r.Reachable ? "yes" : $"no: {Text.MarkupPath(r.Blocker!)}", r.InLastBlock ? "yes" : "");
            Tables.Write(table);
            AnsiConsole.MarkupLine($"{Text.Count(rows.Count, "layer")} can be updatable; {rows.Count(r => r.Reachable)} of them train from the loss. " +
                "Name them with prepare --updatable, or give --updatable last-block.");
            return 0;
        });
        return command;
    }
}
