using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using System.Runtime;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Json.Serialization;
using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using Onnx;
using Tailor.Building;
using Tailor.Data;
using Tailor.Engine;
using Tailor.Engine.Losses;
using Tailor.Features;
using Tailor.Images;
using Tailor.Spec;
using Tailor.Training;
using Tailor.Training.Optimizers;
using TrainingSession = Tailor.Training.TrainingSession;
using H = Tailor.Spec.HyperparameterNames;

namespace Tailor.Bench;

/// <summary>
/// The measurements behind the <c>train</c> benchmark. Everything goes through the public library API, the way an
/// app would use it. Each baseline runs in the same run, on the same model and data: recomputing the prefix every
/// epoch between runs of the cached path; raw ONNX Runtime on pre-decoded tensors taking turns with Tailor pass by
/// pass; ONNX Runtime's peak memory in a fresh process beside the training task's (see <see cref="MemoryProbe"/>).
/// </summary>
internal static class TrainBenchmark
{
    /// <summary>Batch of the raw ONNX Runtime baseline: the batch FeatureCache gives the extractor.</summary>
    private const int RawOrtBatch = 16;

    /// <summary>What the <c>train</c> benchmark measured: the cache against recompute for the default model (the
    /// inherited figures), then throughput, memory and the same comparison for the reference app's model.
    /// Seconds are wall-clock; memory in MiB.</summary>
    internal sealed record Report : CacheComparison
    {
        /// <summary>Starts from the default model's comparison.</summary>
        public Report(CacheComparison cache) : base(cache) { }

        [JsonPropertyName("data")] public required string Data { get; init; }
        [JsonPropertyName("images")] public int Images { get; init; }
        [JsonPropertyName("labels")] public int Labels { get; init; }
        [JsonPropertyName("build")] public required string Build { get; init; }
        [JsonPropertyName("cores")] public int Cores { get; init; }
        [JsonPropertyName("onnxruntime_version")] public required string OnnxRuntimeVersion { get; init; }
        [JsonPropertyName("epochs")] public int Epochs { get; init; }
        [JsonPropertyName("prepare_seconds")] public double PrepareSeconds { get; init; }

        /// <summary>Feature extraction in the process's first task (JIT compilation, ONNX Runtime's first batches): not used in ratios.</summary>
        [JsonPropertyName("feature_seconds_cold")] public double FeatureSecondsCold { get; init; }
        [JsonPropertyName("images_per_second")] public double ImagesPerSecond { get; init; }
        [JsonPropertyName("ort_images_per_second")] public double OrtImagesPerSecond { get; init; }
        [JsonPropertyName("ort_images_per_second_batch16")] public double OrtImagesPerSecondBatch16 { get; init; }
        [JsonPropertyName("ort_images_per_second_batch1")] public double OrtImagesPerSecondBatch1 { get; init; }
        [JsonPropertyName("ort_best_batch")] public int OrtBestBatch { get; init; }

        /// <summary>Tailor's image → feature rate / the faster raw ONNX Runtime rate.</summary>
        [JsonPropertyName("throughput_ratio")] public double ThroughputRatio { get; init; }

        /// <summary>The same for a fresh process that runs only ONNX Runtime on the prefix, batch 16, pre-decoded images:
        /// the same-run baseline (DESIGN.md measured 520–610 MB for ONNX Runtime alone).</summary>
        [JsonPropertyName("ort_peak_memory_mb")] public double OrtPeakMemoryMb { get; init; }

        /// <summary>Peak of the benchmark process itself, all phases.</summary>
        [JsonPropertyName("process_peak_memory_mb")] public double ProcessPeakMemoryMb { get; init; }
        [JsonPropertyName("tasks")] public int Tasks { get; init; }
        [JsonPropertyName("rss_mb")] public required double[] RssMb { get; init; }
        [JsonPropertyName("managed_mb")] public required double[] ManagedMb { get; init; }
        [JsonPropertyName("growth_from_task")] public int GrowthFromTask { get; init; }

        /// <summary>Mean RSS over the last five tasks minus the mean over the five from <see cref="GrowthFromTask"/> (RSS
        /// swings by tens of MB with the timing of collections; single tasks would be noise). Fewer than ten tasks: last − first.</summary>
        [JsonPropertyName("memory_growth_mb")] public double MemoryGrowthMb { get; init; }

        /// <summary>Least-squares slope of RSS over the tasks from <see cref="GrowthFromTask"/> on.</summary>
        [JsonPropertyName("memory_slope_mb_per_task")] public double MemorySlopeMbPerTask { get; init; }
        [JsonPropertyName("managed_growth_mb")] public double ManagedGrowthMb { get; init; }
        [JsonPropertyName("total_seconds")] public double TotalSeconds { get; init; }

        /// <summary>The same cache-versus-recompute comparison and peak for a model prepared with the reference app's
        /// settings (<c>--preset reference</c>: the classifier alone trains, SGD, batch 8), the configuration Core ML
        /// updates on the device. The default model trains a 3×3 convolution as well, whose own arithmetic (the same on
        /// both paths) bounds what caching the prefix can save.</summary>
        [JsonPropertyName("reference")] public required CacheComparison Reference { get; init; }
    }

    /// <summary>Cached path versus recomputing the prefix every epoch, for one prepared model.</summary>
    internal record CacheComparison
    {
        [JsonPropertyName("model")] public string Model { get; init; } = "";
        [JsonPropertyName("batch_size")] public int BatchSize { get; init; }

        /// <summary>Decoding every image and running the frozen prefix once (what the cache costs).</summary>
        [JsonPropertyName("feature_seconds")] public double FeatureSeconds { get; init; }

        /// <summary>Median seconds of one epoch over the cached features.</summary>
        [JsonPropertyName("epoch_seconds_cached")] public double EpochSecondsCached { get; init; }
        [JsonPropertyName("epoch_seconds_cached_all")] public double[] EpochSecondsCachedAll { get; init; } = [];

        /// <summary>Median seconds of one epoch that runs the prefix on every image, then the step (Core ML's way).</summary>
        [JsonPropertyName("recompute_epoch_seconds")] public double RecomputeEpochSeconds { get; init; }
        [JsonPropertyName("recompute_epoch_seconds_all")] public double[] RecomputeEpochSecondsAll { get; init; } = [];

        /// <summary>Decoding the images once, before the recompute path's epochs (it decodes no more than the cache does).</summary>
        [JsonPropertyName("decode_seconds")] public double DecodeSeconds { get; init; }
        [JsonPropertyName("cached_10_epoch_seconds")] public double Cached10EpochSeconds { get; init; }
        [JsonPropertyName("recompute_10_epoch_seconds")] public double Recompute10EpochSeconds { get; init; }

        /// <summary>Recompute time / cached time for 10 epochs, each including its one decode of the images.</summary>
        [JsonPropertyName("speedup_10_epochs")] public double Speedup10Epochs { get; init; }

        /// <summary>Null when 10 epochs were run on both paths; else the epochs measured, whose per-epoch times were scaled to 10.</summary>
        [JsonPropertyName("speedup_scaled_from_epochs")] public int? SpeedupScaledFromEpochs { get; init; }

        /// <summary>Peak resident memory (VmHWM) of a fresh process that loads the model and runs one training task.</summary>
        [JsonPropertyName("peak_memory_mb")] public double PeakMemoryMb { get; init; }
    }

    public static Report Run(LabeledFolder train, int epochs, int tasks, int repeats, TextWriter log,
        CancellationToken cancellationToken)
    {
        var total = Stopwatch.StartNew();
        if (train.Examples.Count == 0) throw new TailorException($"'{train.Root}' holds no images.");
        bool optimized = typeof(UpdateTask).Assembly.GetCustomAttribute<DebuggableAttribute>() is not { IsJITOptimizerDisabled: true };
        log.WriteLine($"bench train: {Tailor.Bench.Measure.Count(train.Examples.Count, "image")} in {Tailor.Bench.Measure.Count(train.Labels.Count, "label")} from {train.Root}" +
            (optimized ? "" : " (Debug build: managed code unoptimized)"));

        log.WriteLine("bench train: preparing the default model and the reference app's (embedded ResNet18)…");
        // Saved and loaded back by each run, as an app ships a prepared model and loads it to train: the benchmark
        // then holds no model of its own while the peak and the growth are measured.
        string Temp() => Path.Combine(Path.GetTempPath(), $"tailor-bench-{Environment.ProcessId}-{Guid.NewGuid():N}.onnx");
        string modelPath = Temp(), referencePath = Temp();
        try
        {
            var (prepareSeconds, spec) = Prepare(train, new PrepareOptions(), modelPath);
            var (_, referenceSpec) = Prepare(train, PrepareOptions.Reference, referencePath);
            return Measure(train, modelPath, spec, referencePath, referenceSpec, prepareSeconds, epochs, tasks, repeats, optimized, total, log, cancellationToken);
        }
        finally
        {
            File.Delete(modelPath);
            File.Delete(referencePath);
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static (double Seconds, UpdateSpec Spec) Prepare(LabeledFolder train, PrepareOptions preset, string path)
    {
        var clock = Stopwatch.StartNew();
        var model = ModelBuilder.Prepare(preset with { Labels = train.Labels.ToArray(), Capacity = Math.Max(10, train.Labels.Count) });
        double seconds = clock.Elapsed.TotalSeconds;
        model.Save(path);
        return (seconds, model.Spec);
    }

    /// <summary>One training task on a freshly loaded model. A method of its own so that nothing it allocated
    /// outlives it, even in a Debug build (where the JIT keeps locals alive to the end of their method).</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static TrainingResult RunTask(string modelPath, LabeledFolder train, TrainingOptions options, CancellationToken cancellationToken)
    {
        var result = new UpdateTask(UpdatableModel.Load(modelPath), train, null, options).Run(cancellationToken);
        if (result.State != TrainingState.Completed)
            throw new TailorException($"The benchmark's training task did not complete ({result.State}): {result.Reason}");
        return result;
    }

    private static Report Measure(LabeledFolder train, string modelPath, UpdateSpec spec, string referencePath, UpdateSpec referenceSpec,
        double prepareSeconds, int epochs, int tasks, int repeats, bool optimized, Stopwatch total, TextWriter log, CancellationToken cancellationToken)
    {
        // No augmentation: both paths then run the prefix on the same images (with K variants the recompute path
        // would run it K times per image per epoch, and the ratio would only grow).
        var options = new TrainingOptions { Epochs = epochs, Augmentation = AugmentationOptions.None };

        // 0. One untimed task first: the first decode and the first ONNX Runtime batch in a process pay for JIT
        // compilation and arena growth, and whichever path ran first would carry that cost alone.
        log.WriteLine("bench train: warm-up task (1 epoch, not counted)…");
        double coldFeatureSeconds = RunTask(modelPath, train, options with { Epochs = 1 }, cancellationToken).FeatureSeconds;

        // 1–2. The cache against recomputing the prefix, for the default model and for the reference app's.
        var cache = Compare("the default model", modelPath, spec, train, options, repeats, log, cancellationToken);
        var reference = Compare("the reference app's model (classifier only)", referencePath, referenceSpec, train, options, repeats, log, cancellationToken);

        // 3. Image → feature throughput: Tailor from files vs raw ONNX Runtime on the same prefix, pre-decoded.
        log.WriteLine($"bench train: image → feature throughput, Tailor vs raw ONNX Runtime ({repeats} passes each, interleaved)…");
        var raw = PrepareRawOrt(modelPath, train);
        double tailorRate, ortRate16, ortRate1, trainPeak, ortPeak;
        try
        {
            (tailorRate, ortRate16, ortRate1) = Throughput(modelPath, train, raw, repeats, cancellationToken);

            // 4. Peak memory, each in a fresh process: this one keeps the memory its earlier phases touched (the
            // allocators do not hand it back), which would count against whatever ran later.
            log.WriteLine("bench train: peak memory of one training task, and of raw ONNX Runtime, each in a fresh process…");
            trainPeak = MemoryProbe.Run(["train", modelPath, train.Root, epochs.ToString(CultureInfo.InvariantCulture)], cancellationToken);
            reference = reference with
            {
                PeakMemoryMb = MemoryProbe.Run(["train", referencePath, train.Root, epochs.ToString(CultureInfo.InvariantCulture)], cancellationToken),
            };
            File.WriteAllBytes(raw.ImagesPath, MemoryMarshal.AsBytes(raw.Decoded.AsSpan()));
            File.WriteAllText(raw.WorkloadPath, JsonSerializer.Serialize(new MemoryProbe.OrtWorkload(
                raw.PrefixPath, raw.ImagesPath, raw.Input, raw.Outputs, raw.ExampleShape, raw.Count, RawOrtBatch)));
            ortPeak = MemoryProbe.Run(["ort", raw.WorkloadPath], cancellationToken);
        }
        finally
        {
            File.Delete(raw.PrefixPath);
            File.Delete(raw.ImagesPath);
            File.Delete(raw.WorkloadPath);
        }
        raw = null;

        // 5. Memory over consecutive tasks in this process: a full collection after each, so only what is still held counts.
        log.WriteLine($"bench train: {tasks} consecutive training tasks for memory growth…");
        var rss = new double[tasks];
        var managed = new double[tasks];
        for (int t = 0; t < tasks; t++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            RunTask(modelPath, train, options, cancellationToken);
            CollectGarbage();
            using var self = Process.GetCurrentProcess();
            rss[t] = self.WorkingSet64 / (1024.0 * 1024);
            managed[t] = GC.GetTotalMemory(false) / (1024.0 * 1024);
            log.WriteLine($"bench train:   task {t + 1}/{tasks}: RSS {rss[t]:F0} MB, managed heap {managed[t]:F1} MB");
        }
        // The first tasks grow the heap to its working size and JIT the code; growth is judged after them.
        int from = tasks >= 10 ? 5 : 1;
        double processPeak = MemoryProbe.PeakMb();

        return new Report(cache with { PeakMemoryMb = trainPeak })
        {
            Data = train.Root,
            Images = train.Examples.Count,
            Labels = train.Labels.Count,
            Build = optimized ? "Release" : "Debug",
            Cores = Environment.ProcessorCount,
            OnnxRuntimeVersion = typeof(InferenceSession).Assembly.GetName().Version?.ToString(3) ?? "?",
            Epochs = epochs,
            PrepareSeconds = prepareSeconds,
            FeatureSecondsCold = coldFeatureSeconds,
            ImagesPerSecond = tailorRate,
            OrtImagesPerSecond = Math.Max(ortRate16, ortRate1),
            OrtImagesPerSecondBatch16 = ortRate16,
            OrtImagesPerSecondBatch1 = ortRate1,
            OrtBestBatch = ortRate16 >= ortRate1 ? RawOrtBatch : 1,
            ThroughputRatio = tailorRate / Math.Max(ortRate16, ortRate1),
            OrtPeakMemoryMb = ortPeak,
            ProcessPeakMemoryMb = processPeak,
            Tasks = tasks,
            RssMb = rss,
            ManagedMb = managed,
            GrowthFromTask = from,
            MemoryGrowthMb = Growth(rss, from),
            MemorySlopeMbPerTask = Slope(rss.AsSpan(from - 1)),
            ManagedGrowthMb = Growth(managed, from),
            TotalSeconds = total.Elapsed.TotalSeconds,
            Reference = reference,
        };
    }

    /// <summary>
    /// The cached path as <c>tailor train</c> runs it, <paramref name="repeats"/> times (once before the recompute path,
    /// the rest after, so that a busy neighbour affects both; its one feature pass is a single sample, unlike the
    /// recompute path's epochs), against the recompute path: prefix on every image every epoch, then the same step.
    /// </summary>
    private static CacheComparison Compare(string name, string modelPath, UpdateSpec spec, LabeledFolder train, TrainingOptions options,
        int repeats, TextWriter log, CancellationToken cancellationToken)
    {
        int epochs = options.Epochs ?? throw new ArgumentException("The benchmark sets the epochs.", nameof(options));
        log.WriteLine($"bench train: {name}: {Tailor.Bench.Measure.Count(epochs, "epoch")} on cached features (UpdateTask)…");
        var cachedRuns = new List<TrainingResult> { RunTask(modelPath, train, options, cancellationToken) };
        log.WriteLine($"bench train: {name}: {Tailor.Bench.Measure.Count(epochs, "epoch")} recomputing the prefix every epoch (Core ML's way)…");
        var recompute = Recompute(modelPath, train, epochs, cancellationToken);
        if (repeats > 1) log.WriteLine($"bench train: {name}: {Tailor.Bench.Measure.Count(epochs, "epoch")} on cached features again ({repeats - 1} more)…");
        for (int r = 1; r < repeats; r++) cachedRuns.Add(RunTask(modelPath, train, options, cancellationToken));
        // The run with the median feature time stands for the cached path (its epochs included).
        var cached = cachedRuns.OrderBy(r => r.FeatureSeconds).ElementAt(cachedRuns.Count / 2);
        double featureSeconds = cached.FeatureSeconds;
        double[] cachedEpochs = cached.History.Epochs.Select(e => e.Seconds).ToArray();
        double cached10, recompute10;
        int? scaledFrom = null;
        if (epochs >= 10)
        {
            cached10 = featureSeconds + cachedEpochs.Take(10).Sum();
            recompute10 = recompute.DecodeSeconds + recompute.EpochSeconds.Take(10).Sum();
        }
        else
        {
            // Fewer epochs were asked for: scale the measured per-epoch means to 10 (said in the output).
            cached10 = featureSeconds + 10 * cachedEpochs.Average();
            recompute10 = recompute.DecodeSeconds + 10 * recompute.EpochSeconds.Average();
            scaledFrom = epochs;
        }
        return new CacheComparison
        {
            Model = Describe(spec),
            BatchSize = (int)spec.DefaultOr(H.BatchSize, 8),
            FeatureSeconds = featureSeconds,
            EpochSecondsCached = Median(cachedEpochs),
            EpochSecondsCachedAll = cachedEpochs,
            RecomputeEpochSeconds = Median(recompute.EpochSeconds),
            RecomputeEpochSecondsAll = recompute.EpochSeconds,
            DecodeSeconds = recompute.DecodeSeconds,
            Cached10EpochSeconds = cached10,
            Recompute10EpochSeconds = recompute10,
            Speedup10Epochs = recompute10 / cached10,
            SpeedupScaledFromEpochs = scaledFrom,
        };
    }

    private static string Describe(UpdateSpec spec) =>
        $"ResNet18 + {(spec.Notes.GetValueOrDefault("feature_normalization") == "l2" ? "L2-normalized features → " : "")}" +
        $"linear head ({Tailor.Bench.Measure.Count(spec.Labels.Capacity, "slot")}), {spec.Optimizer.ToString().ToLowerInvariant()}; training {string.Join(", ", spec.UpdatableLayers.Select(l => l.Name))}";

    private sealed record RecomputeResult(double DecodeSeconds, double[] EpochSeconds);

    /// <summary>
    /// Trains as <see cref="UpdateTask"/> does (the same plan, session, shuffling and batch size: one
    /// <see cref="TrainingSession.TrainStep"/> per batch) but runs the frozen prefix on each mini-batch's images every
    /// epoch instead of reading cached features. The images are decoded once up front, which favours this path: only
    /// the prefix is recomputed.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static RecomputeResult Recompute(string modelPath, LabeledFolder train, int epochs, CancellationToken cancellationToken)
    {
        var model = UpdatableModel.Load(modelPath);
        using var plan = TrainingPlan.Create(model, train, new TrainingOptions { Epochs = epochs, Augmentation = AugmentationOptions.None });
        var settings = plan.Settings;
        var extractor = plan.Extractor();
        using var session = new TrainingSession(plan);
        int n = train.Examples.Count, imageLength = extractor.ImageLength, featureLength = extractor.FeatureLength, batch = settings.BatchSize;
        var clock = Stopwatch.StartNew();
        var decoded = new float[(long)n * imageLength];
        var pre = model.Spec.Preprocessing;
        Parallel.For(0, n, new ParallelOptions { CancellationToken = cancellationToken },
            i => ImageLoader.LoadInto(train.Examples[i].Path, pre, decoded.AsSpan(i * imageLength, imageLength)));
        double decodeSeconds = clock.Elapsed.TotalSeconds;

        int[] slots = train.Examples.Select(e => plan.Slots.Labels.IndexOf(e.Label)).ToArray();
        var images = new float[batch * imageLength];
        var features = new float[batch * featureLength];
        // One batch of features at a time, refilled from the prefix: the session reads it as it reads the cache.
        var batchSlots = new int[batch];
        using var cache = new Tailor.Training.FeatureSet(FeatureCache.InMemory(extractor.Lengths, features), batchSlots, settings.Seed, shuffle: false);
        var order = new int[n];
        var seconds = new double[epochs];
        for (int epoch = 0; epoch < epochs; epoch++)
        {
            clock.Restart();
            if (settings.Shuffle) EpochShuffle.Permutation(settings.Seed, epoch, order);
            else for (int i = 0; i < n; i++) order[i] = i;
            for (int start = 0; start < n; start += batch)
            {
                cancellationToken.ThrowIfCancellationRequested();
                int count = Math.Min(batch, n - start);
                for (int i = 0; i < count; i++)
                {
                    decoded.AsSpan(order[start + i] * imageLength, imageLength).CopyTo(images.AsSpan(i * imageLength));
                    batchSlots[i] = slots[order[start + i]];
                }
                extractor.Extract(images, count, features);
                cache.Cache.WriteRows(0, features.AsSpan(0, count * featureLength));
                session.TrainStep(cache.Take(0, count));
            }
            seconds[epoch] = clock.Elapsed.TotalSeconds;
        }
        return new RecomputeResult(decodeSeconds, seconds);
    }

    /// <summary>What the raw ONNX Runtime baseline runs: the prefix exactly as FeatureExtractor builds it (outputs at
    /// the cut, everything after pruned), saved to a file, and the images decoded once into input tensors.</summary>
    private sealed record RawOrtInput(string PrefixPath, string Input, string[] Outputs, long[] ExampleShape, float[] Decoded, int Count)
    {
        public string ImagesPath => Path.ChangeExtension(PrefixPath, ".images.bin");
        public string WorkloadPath => Path.ChangeExtension(PrefixPath, ".workload.json");
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static RawOrtInput PrepareRawOrt(string modelPath, LabeledFolder train)
    {
        var model = UpdatableModel.Load(modelPath);
        var cut = GraphCut.Compute(model);
        var prefix = Tailor.Onnx.OnnxGraph.Subgraph(model.Proto, cut.CutTensors);
        string path = Path.ChangeExtension(modelPath, ".prefix.onnx");
        File.WriteAllBytes(path, prefix.ToByteArray());
        var p = model.Spec.Preprocessing;
        int channels = ImageLoader.ChannelCount(p), imageLength = ImageLoader.TensorLength(p), n = train.Examples.Count;
        var decoded = new float[(long)n * imageLength];
        Parallel.For(0, n, i => ImageLoader.LoadInto(train.Examples[i].Path, p, decoded.AsSpan(i * imageLength, imageLength)));
        long[] shape = p.Layout == TensorLayout.Nchw ? [channels, p.Height, p.Width] : [p.Height, p.Width, channels];
        return new RawOrtInput(path, model.Spec.Input, [.. cut.CutTensors], shape, decoded, n);
    }

    /// <summary>
    /// Images per second, median of <paramref name="repeats"/> passes over the data, the three contenders taking
    /// turns pass by pass so that a busy neighbour slows them alike: Tailor's FeatureCache from files (decode, resize,
    /// prefix), and an ONNX Runtime session of its own on the prefix file with FeatureExtractor's session options, fed
    /// the pre-decoded tensors (built before the clocks start) at batch 16 and at batch 1. Everything is created and
    /// warmed up first.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static (double Tailor, double Ort16, double Ort1) Throughput(string modelPath, LabeledFolder train, RawOrtInput raw, int repeats,
        CancellationToken cancellationToken)
    {
        var model = UpdatableModel.Load(modelPath);
        var paths = train.Examples.Select(e => e.Path).ToList();
        using var extractor = new FeatureExtractor(model, GraphCut.Compute(model));
        using var sessionOptions = Tailor.Onnx.OnnxSessions.CreateOptions();
        using var session = new InferenceSession(raw.PrefixPath, sessionOptions);
        using var runOptions = new RunOptions();
        int n = raw.Count, imageLength = raw.Decoded.Length / n;
        var batches16 = new List<OrtValue>();
        var batches1 = new List<OrtValue>();
        try
        {
            foreach (var (list, batch) in new[] { (batches16, RawOrtBatch), (batches1, 1) })
                for (int start = 0; start < n; start += batch)
                {
                    int count = Math.Min(batch, n - start);
                    list.Add(OrtValue.CreateTensorValueFromMemory(raw.Decoded.AsSpan(start * imageLength, count * imageLength).ToArray(), [count, .. raw.ExampleShape]));
                }
            double TailorPass()
            {
                var clock = Stopwatch.StartNew();
                var (cache, _) = FeatureCache.Build(extractor, paths, AugmentationOptions.None, 0, cancellationToken: cancellationToken);
                double rate = n / clock.Elapsed.TotalSeconds;
                cache.Dispose();
                return rate;
            }
            double OrtPass(List<OrtValue> values)
            {
                var clock = Stopwatch.StartNew();
                foreach (var v in values)
                    using (session.Run(runOptions, [raw.Input], [v], raw.Outputs)) { }
                return n / clock.Elapsed.TotalSeconds;
            }
            TailorPass();
            OrtPass(batches16);
            OrtPass(batches1);
            var tailor = new double[repeats];
            var ort16 = new double[repeats];
            var ort1 = new double[repeats];
            for (int r = 0; r < repeats; r++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                tailor[r] = TailorPass();
                ort16[r] = OrtPass(batches16);
                ort1[r] = OrtPass(batches1);
            }
            return (Median(tailor), Median(ort16), Median(ort1));
        }
        finally
        {
            foreach (var v in batches16.Concat(batches1)) v.Dispose();
        }
    }

    private static void CollectGarbage()
    {
        GCSettings.LargeObjectHeapCompactionMode = GCLargeObjectHeapCompactionMode.CompactOnce;
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
    }

    /// <summary>See <see cref="Report.MemoryGrowthMb"/>.</summary>
    private static double Growth(double[] values, int fromTask) => values.Length >= fromTask - 1 + 10
        ? values.TakeLast(5).Average() - values.Skip(fromTask - 1).Take(5).Average()
        : values[^1] - values[fromTask - 1];

    internal static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        if (sorted.Length == 0) return double.NaN;
        int mid = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    }

    /// <summary>Least-squares slope of <paramref name="y"/> against its index (0 for fewer than two points).</summary>
    internal static double Slope(ReadOnlySpan<double> y)
    {
        int n = y.Length;
        if (n < 2) return 0;
        double meanX = (n - 1) / 2.0, meanY = 0;
        foreach (double v in y) meanY += v / n;
        double sxy = 0, sxx = 0;
        for (int i = 0; i < n; i++)
        {
            sxy += (i - meanX) * (y[i] - meanY);
            sxx += (i - meanX) * (i - meanX);
        }
        return sxy / sxx;
    }
}
