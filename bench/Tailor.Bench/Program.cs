using System.CommandLine;
using Tailor.Bench;

// Benchmarks, none of them part of the tool: the end-to-end training benchmark, the GEMM kernels against a measured FMA
// peak, the heads against ML.NET, memory and images.
var root = new RootCommand(
    "Tailor benchmarks. Every figure is printed beside a baseline measured in the same run, with the ratio. " +
    "Run in Release: dotnet run -c Release --project bench/Tailor.Bench -- <command>.");

root.Add(TrainBenchCommand.Create());
root.Add(MemoryProbe.CreateCommand());
root.Add(StudioBenchmark.CreateCommand());

var json = new Option<bool>("--json") { Description = "Print one JSON object (progress goes to stderr)." };
var kernels = new Command("kernels", "GEMM GFLOP/s on the shapes of DESIGN.md's targets and the engine's train steps, against an FMA peak loop, on one core and on all.")
    { json };
var childOption = new Option<bool>("--single-core-child") { Hidden = true };
kernels.Add(childOption);
kernels.SetAction(parse => KernelBenchmarks.Run(parse.GetValue(json), parse.GetValue(childOption)));
root.Add(kernels);

var parityJson = new Option<bool>("--json") { Description = "Print one JSON object with every tensor's error and the losses (progress goes to stderr)." };
var parityModels = new Option<string?>("--models") { Description = "A folder of ONNX classifiers (default: ../shared/models)." };
var parityLayers = new Option<int?>("--layers") { Description = "Train the last N layers that can be updatable (default: the last block and the classifier of each architecture)." };
var parityKeep = new Option<bool>("--keep") { Description = "Keep the models, features and tensors written (the folder is printed)." };
var parity = new Command("parity", "PyTorch parity (needs Debian's python3-torch and python3-onnx): for each model, one SGD step and three Adam steps " +
    "of its last block + classifier in Tailor and in PyTorch from the same cut features; every trained tensor compared relative to its update (≤ 1e-2), " +
    "every frozen tensor unchanged.") { parityJson, parityModels, parityLayers, parityKeep };
parity.SetAction(parse => Parity.Run(parse.GetValue(parityModels), parse.GetValue(parityLayers), parse.GetValue(parityJson), parse.GetValue(parityKeep)));
root.Add(parity);

var headsJson = new Option<bool>("--json") { Description = "Print one JSON object (progress goes to stderr)." };
var heads = new Command("heads", "Accuracy and training time of the nn, logistic-regression and k-NN heads and ML.NET's LbfgsMaximumEntropy on the same " +
    "cached features (hands data; a seeded synthetic Gaussian mixture), and k-NN prediction cost managed vs ONNX Runtime.") { headsJson };
heads.SetAction(parse => HeadBenchmarks.Run(parse.GetValue(headsJson)));
root.Add(heads);

var memoryJson = new Option<bool>("--json") { Description = "Print one JSON object (progress goes to stderr)." };
var memory = new Command("memory", "Peak memory of the README's C# sample (one process: prepare, train, predict, evaluate) against the CLI's " +
    "prepare, train and evaluate, each in a fresh process.") { memoryJson };
memory.SetAction(parse => MemoryBenchmarks.Run(parse.GetValue(memoryJson)));
root.Add(memory);

var imagesJson = new Option<bool>("--json") { Description = "Print one JSON object (progress goes to stderr)." };
var photosOption = new Option<int>("--photos") { Description = "How many generated 12-megapixel photos feature extraction runs on. Default 8.", DefaultValueFactory = _ => 8 };
var images = new Command("images", "A 12-megapixel JPEG to the default model's input: reduced-size decode against full-size decode + resize; " +
    "feature extraction of 12-megapixel photos with the default augmentation against --augment none, per variant.") { imagesJson, photosOption };
images.SetAction(parse => ImageBenchmarks.Run(parse.GetValue(imagesJson), parse.GetValue(photosOption)));
root.Add(images);

var bdnArgs = new Argument<string[]>("ARGS") { Arity = ArgumentArity.ZeroOrMore, Description = "BenchmarkDotNet arguments (default: --filter *)." };
var bdn = new Command("bdn", "The GEMM shapes under BenchmarkDotNet (in-process, short job; several minutes), each against the FMA peak loop doing the same FLOPs.")
    { bdnArgs };
bdn.TreatUnmatchedTokensAsErrors = false;
bdn.SetAction(parse => GemmBenchmarks.Run([.. parse.GetValue(bdnArgs) ?? [], .. parse.UnmatchedTokens]));
root.Add(bdn);

if (args.Length == 0)
{
    // A bare run shows what there is (rather than only "required command was not provided"), and still fails:
    // a script that forgot the command has measured nothing.
    root.Parse(["--help"]).Invoke();
    return 1;
}
return root.Parse(args).Invoke();
