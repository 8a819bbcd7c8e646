using System.CommandLine;
using Spectre.Console;
using Tailor.Building;

namespace Tailor.Cli.Commands;

/// <summary><c>tailor reset MODEL</c>: undo training (fresh classifier, pretrained backbone layers), keep the labels.</summary>
internal static class ResetCommand
{
    public static Command Create()
    {
        var modelArg = new Argument<string>("MODEL") { Description = "A model trained by tailor train." };
        var outOption = new Option<string?>("--out", "-o") { Description = "Where to write the reset model (default: MODEL, replaced atomically)." };
        var initOption = new Option<string>("--init") { Description = "Classifier weights: kaiming or zeros.", DefaultValueFactory = _ => "kaiming" };
        var seedOption = new Option<int>("--init-seed") { Description = "Seed of the classifier's initialization (the same as tailor prepare's).", DefaultValueFactory = _ => 42 };
        var baseOption = new Option<string?>("--base") { Description = "The ONNX file fine-tuned layers go back to (default: the embedded ResNet18 when the model came from it)." };
        var command = HelpText.Examples(new Command("reset", "Undo training: the classifier gets fresh weights, fine-tuned backbone layers their pretrained ones; labels are kept.")
        {
            modelArg, outOption, initOption, seedOption.WholeIn(int.MinValue, int.MaxValue), baseOption,
        }, "tailor reset hands.onnx --out hands-fresh.onnx");
        command.SetAction(parse =>
        {
            string path = parse.GetValue(modelArg)!;
            string output = parse.GetValue(outOption) is { } o ? OptionParsing.OutputFile("--out", o) : path;
            var model = UpdatableModel.Load(path);
            ModelBuilder.Reset(model, new ResetOptions
            {
                Init = OptionParsing.Enum("--init", parse.GetValue(initOption)!, ("kaiming", WeightInit.KaimingUniform), ("zeros", WeightInit.Zeros)),
                Seed = parse.GetValue(seedOption),
                BaseModelPath = parse.GetValue(baseOption),
            });
            model.Save(output);
            AnsiConsole.MarkupLine($"Reset {Markup.Escape(string.Join(", ", model.Spec.UpdatableLayers.Select(l => Text.Path(l.Name))))}; wrote [bold]{Text.MarkupPath(output)}[/].");
            return 0;
        });
        return command;
    }
}
