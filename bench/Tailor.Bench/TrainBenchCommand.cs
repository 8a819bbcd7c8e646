using System.CommandLine;
using System.Globalization;
using Tailor.Data;

namespace Tailor.Bench;

/// <summary>
/// <c>train</c>: end-to-end figures of personalization on this machine, each printed as a ratio against a baseline
/// measured in the same run (machines are shared and noisy, so a figure from another run is no baseline): the same
/// <see cref="Tailor.Training.TrainingSession.TrainStep"/> users run, on cached features and recomputing the prefix.
/// </summary>
internal static class TrainBenchCommand
{
    public static Command Create()
    {
        var dataOption = new Option<string?>("--data")
        {
            Description = $"Training folder, one sub-folder per label (default: the hands data's train/, in ../shared beside the repository, or under ${SharedData.Variable}).",
        };
        var epochsOption = new Option<int>("--epochs")
        {
            Description = "Epochs of each timed training run; the speedup compares the first 10 (below 10, both paths' per-epoch times are scaled to 10, and the output says so).",
            DefaultValueFactory = _ => 10,
        };
        var tasksOption = new Option<int>("--tasks")
        {
            Description = "Consecutive training tasks for the memory-growth figure.",
            DefaultValueFactory = _ => 20,
        };
        var repeatsOption = new Option<int>("--repeats")
        {
            Description = "Runs of the cached path and passes of each throughput figure; the median counts.",
            DefaultValueFactory = _ => 3,
        };
        var jsonOption = new Option<bool>("--json") { Description = "Print one JSON object (progress still goes to stderr)." };
        var command = new Command("train",
            "Feature extraction, epochs over cached features, the speedup over recomputing the frozen prefix every epoch (Core ML's way), " +
            "image → feature throughput against raw ONNX Runtime, peak memory and memory growth over consecutive tasks.")
        {
            dataOption, epochsOption, tasksOption, repeatsOption, jsonOption,
        };
        command.SetAction((parse, ct) =>
        {
            int epochs = parse.GetValue(epochsOption), tasks = parse.GetValue(tasksOption), repeats = parse.GetValue(repeatsOption);
            if (epochs < 1) throw new TailorException($"--epochs {epochs}: at least 1 is needed.");
            if (tasks < 1) throw new TailorException($"--tasks {tasks}: at least 1 is needed.");
            if (repeats < 1) throw new TailorException($"--repeats {repeats}: at least 1 is needed.");
            string data = parse.GetValue(dataOption) ?? DefaultHandsTrain();
            var report = TrainBenchmark.Run(LabeledFolder.Scan(data), epochs, tasks, repeats, Console.Error, ct);
            if (parse.GetValue(jsonOption)) Console.Out.WriteLine(System.Text.Json.JsonSerializer.Serialize(report, Measure.Json));
            else Render(report);
            return Task.FromResult(0);
        });
        return command;
    }

    /// <summary>The hands training folder: <c>train/</c> of the shared hands data beside the repository
    /// (<see cref="SharedData"/>: <c>$TAILOR_SHARED</c>, else <c>../shared</c> from the repository root).</summary>
    /// <exception cref="TailorException">It is not there; the message says where it was looked for.</exception>
    internal static string DefaultHandsTrain()
    {
        string train = Path.Combine(SharedData.Hands, "train");
        return Directory.Exists(train) ? train
            : throw new TailorException($"The hands training photos are not in '{train}'; pass --data DIR.");
    }

    private static void Render(TrainBenchmark.Report r)
    {
        // Plain lines rather than a table: they never wrap into unreadable cells, and they grep well.
        var c = CultureInfo.InvariantCulture;
        string S(double seconds) => seconds >= 1 ? string.Create(c, $"{seconds:F2} s") : string.Create(c, $"{seconds * 1000:F2} ms");
        void Line(string text) => Console.Out.WriteLine(text);
        string Signed(double v, int digits) => (Math.Round(v, digits) < 0 ? "-" : "+") + Math.Abs(Math.Round(v, digits)).ToString("F" + digits, c);
        Line($"bench train: {Measure.Count(r.Images, "image")}, {Measure.Count(r.Labels, "label")} from {r.Data}");
        Line($"  model: {r.Model}; {Measure.Count(r.Epochs, "epoch")} per run, batch {r.BatchSize}, no augmentation");
        Line($"  {r.Build} build, {Measure.Count(r.Cores, "core")}, .NET {Environment.Version}, ONNX Runtime {r.OnnxRuntimeVersion}");
        if (r.Build != "Release")
            Line("  Debug build: the managed engine runs unoptimized; for figures run: dotnet run -c Release --project bench/Tailor.Bench -- train");
        Line("");
        Line($"feature extraction (decode + prefix, once)   {S(r.FeatureSeconds)}  (first task in the process: {S(r.FeatureSecondsCold)}, not used below)");
        Line($"epoch over cached features (median)          {S(r.EpochSecondsCached)}");
        Line($"10 epochs with the cache                     {S(r.Cached10EpochSeconds)}  (features once + 10 epochs)");
        Line($"10 epochs recomputing the prefix             {S(r.Recompute10EpochSeconds)}  (decode once {S(r.DecodeSeconds)}, then prefix + step: {S(r.RecomputeEpochSeconds)} per epoch)");
        string Scaled(int? epochs) => epochs is int e ? $"  [both paths measured over {Measure.Count(e, "epoch")} and scaled to 10]" : "  [10 epochs measured on both paths]";
        Line(string.Create(c, $"  speedup of the cache                       {r.Speedup10Epochs:F2}×") + Scaled(r.SpeedupScaledFromEpochs));
        // Caching saves the prefix, not the step: the default trains a 3×3 convolution, whose arithmetic both paths pay.
        Line(string.Create(c, $"  the training step's share of a recompute epoch  {r.EpochSecondsCached / r.RecomputeEpochSeconds:P0} (both paths pay it; the cache saves the rest)"));
        var f = r.Reference;
        Line($"reference app's model: {f.Model}, batch {f.BatchSize}");
        Line($"  features {S(f.FeatureSeconds)}, epoch over cached features {S(f.EpochSecondsCached)}, recompute epoch {S(f.RecomputeEpochSeconds)}");
        Line($"  10 epochs: cache {S(f.Cached10EpochSeconds)}, recompute {S(f.Recompute10EpochSeconds)}");
        Line(string.Create(c, $"  speedup of the cache                       {f.Speedup10Epochs:F2}×  (target ≥ 8×)") + Scaled(f.SpeedupScaledFromEpochs));
        Line(string.Create(c, $"image → feature, Tailor from files           {r.ImagesPerSecond:F1} images/s"));
        Line(string.Create(c, $"  raw ONNX Runtime, pre-decoded tensors      {r.OrtImagesPerSecond:F1} images/s (batch {r.OrtBestBatch}; batch 16: {r.OrtImagesPerSecondBatch16:F1}, batch 1: {r.OrtImagesPerSecondBatch1:F1})"));
        Line(string.Create(c, $"  Tailor / raw ONNX Runtime                  {r.ThroughputRatio:F2}×  (target ≥ 0.9×)"));
        Line(string.Create(c, $"peak memory, one training task (VmHWM)       {r.PeakMemoryMb:F0} MB  (fresh process; target ≤ 700 MB)"));
        Line(string.Create(c, $"  the reference app's model                  {r.Reference.PeakMemoryMb:F0} MB  (fresh process)"));
        Line(string.Create(c, $"  raw ONNX Runtime alone, batch 16            {r.OrtPeakMemoryMb:F0} MB  (fresh process) → Tailor / ONNX Runtime {r.PeakMemoryMb / r.OrtPeakMemoryMb:F2}×"));
        Line(string.Create(c, $"  this benchmark process, all phases          {r.ProcessPeakMemoryMb:F0} MB"));
        Line(string.Create(c, $"memory over {r.Tasks} consecutive tasks            RSS {string.Join(" ", r.RssMb.Select(v => v.ToString("F0", c)))} MB"));
        string window = r.Tasks >= r.GrowthFromTask + 9 ? $"mean of last 5 − mean of tasks {r.GrowthFromTask}–{r.GrowthFromTask + 4}" : $"task {r.Tasks} − task {r.GrowthFromTask}";
        Line(string.Create(c, $"  growth ({window})  {Signed(r.MemoryGrowthMb, 1)} MB RSS (slope {Signed(r.MemorySlopeMbPerTask, 2)} MB/task), managed heap {Signed(r.ManagedGrowthMb, 2)} MB  (target: no growth)"));
        Line("");
        Line("Ratios compare figures from this run only; on a shared machine, rerun before quoting them.");
    }
}
