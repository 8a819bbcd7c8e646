using System.Diagnostics;
using System.Globalization;
using System.Numerics.Tensors;
using System.Text.Json;
using Google.Protobuf;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.OnnxRuntime;
using Onnx;
using Tailor.Building;
using Tailor.Data;
using Tailor.Engine;
using Tailor.Engine.Losses;
using Tailor.Heads;
using Tailor.Onnx;
using Tailor.Spec;
using Tailor.Training;
using Tailor.Training.Optimizers;
using H = Tailor.Spec.HyperparameterNames;

namespace Tailor.Bench;

/// <summary>
/// The three heads and ML.NET's LbfgsMaximumEntropy trained on the same feature rows: accuracy and training time,
/// with Tailor's L-BFGS time as a ratio of ML.NET's measured in the same run; then the k-NN's prediction cost as
/// the stored set grows, in managed code and through ONNX Runtime on the exported graph.
/// </summary>
internal static class HeadBenchmarks
{
    internal sealed record HeadFigure(string Head, int Correct, int Total, double TrainSeconds, int Runs, string Settings)
    {
        public double Accuracy => Correct / (double)Total;
    }

    internal sealed record DatasetResult(string Name, string Description, HeadFigure[] Heads, double LbfgsTimeRatio, bool LbfgsAccuracyAtLeastMlNet);

    internal sealed record KnnCost(int Stored, int Dimension, double ManagedSeconds, double ManagedBatch64SecondsPerQuery,
        double OrtSeconds, double OrtBatch64SecondsPerQuery);

    /// <summary>L2 strength of Tailor's logistic regression, as <c>tailor train --head logreg</c> uses it.</summary>
    private static readonly double LogRegL2 = new Tailor.Heads.LogisticRegressionTrainingOptions().L2;   // the head's own default

    public static int Run(bool json)
    {
        Measure.WarnIfDebug();
        var log = Console.Error;
        var clock = Stopwatch.StartNew();
        log.WriteLine("heads: preparing the default model and extracting the hands features…");
        var (hands, model, handsTrain) = FeatureSets.Hands();
        log.WriteLine("heads: hands data…");
        var handsResult = Compare(hands, NnWithUpdateTask(model, handsTrain, hands), runs: 5, log);
        log.WriteLine("heads: synthetic Gaussian mixture…");
        var mixture = FeatureSets.GaussianMixture();
        var mixtureResult = Compare(mixture, NnWithEngine(mixture), runs: 3, log);
        log.WriteLine("heads: k-NN prediction cost…");
        var knn = new[] { 100, 1_000, 10_000 }.Select(n => KnnPredictionCost(n, 512)).ToArray();
        if (json)
        {
            Console.Out.WriteLine(JsonSerializer.Serialize(new { datasets = new[] { handsResult, mixtureResult }, knn, total_seconds = clock.Elapsed.TotalSeconds },
                Measure.Json));
            return 0;
        }
        Print([handsResult, mixtureResult], knn, clock.Elapsed.TotalSeconds);
        return 0;
    }

    private static DatasetResult Compare(FeatureSet set, Func<HeadFigure> nn, int runs, TextWriter log)
    {
        var heads = new List<HeadFigure>();
        log.WriteLine($"heads:   nn…");
        heads.Add(nn());
        log.WriteLine($"heads:   logistic regression (Tailor L-BFGS)…");
        heads.Add(LogisticRegressionHead(set, runs));
        log.WriteLine($"heads:   logistic regression, λ by 5-fold cross-validation (--l2 auto)…");
        heads.Add(CrossValidatedLogisticRegressionHead(set));
        log.WriteLine($"heads:   k-NN…");
        heads.Add(KnnHead(set));
        log.WriteLine($"heads:   ML.NET LbfgsMaximumEntropy…");
        var mlnet = MlNet(set, runs, l1: null);
        heads.Add(mlnet);
        heads.Add(MlNet(set, runs, l1: 0f));
        var tailor = heads[1];
        return new DatasetResult(set.Name, set.Description, [.. heads], tailor.TrainSeconds / mlnet.TrainSeconds, tailor.Correct >= mlnet.Correct);
    }

    // ---- nn head ------------------------------------------------------------------------------------------------

    /// <summary>The nn head as <c>tailor train</c> runs it: UpdateTask with the model's defaults, no augmentation.
    /// Its time is the sum of its epochs (its own feature extraction is not counted: the features are the same rows
    /// the other heads get). Accuracy from the trained classifier weights on the test rows.</summary>
    private static Func<HeadFigure> NnWithUpdateTask(UpdatableModel model, LabeledFolder train, FeatureSet set) => () =>
    {
        var result = new UpdateTask(model, train, options: new TrainingOptions { Augmentation = Tailor.Images.AugmentationOptions.None }).Run();
        if (result.State != TrainingState.Completed) throw new InvalidOperationException($"UpdateTask {result.State}: {result.Reason}");
        var spec = model.Spec;
        var layer = spec.UpdatableLayers.First(l => l.Name == spec.Classifier);
        float[] w = model.GetParameter(layer.Parameters[0]), b = model.GetParameter(layer.Parameters[1]);
        int capacity = spec.Labels.Capacity, correct = 0;
        var logits = new float[capacity];
        for (int i = 0; i < set.TestCount; i++)
        {
            for (int c = 0; c < capacity; c++) logits[c] = TensorPrimitives.Dot(set.TestRow(i), w.AsSpan(c * set.Dimension, set.Dimension)) + b[c];
            if (TensorPrimitives.IndexOfMax(logits) == spec.Labels.IndexOf(set.ClassNames[set.TestLabels[i]])) correct++;
        }
        return new HeadFigure("nn (UpdateTask)", correct, set.TestCount, result.History.Epochs.Sum(e => e.Seconds), 1,
            $"{spec.Optimizer.ToString().ToLowerInvariant()} lr {spec.DefaultOr(H.LearningRate, 0)}, batch {spec.DefaultOr(H.BatchSize, 0)}, " +
            $"{result.EpochsCompleted} epochs, weight decay {spec.DefaultOr(H.WeightDecay, 0)} (model defaults)");
    };

    /// <summary>
    /// The nn head on feature rows that no image produced: the step UpdateTask runs (<see cref="Tailor.Training.TrainingSession.TrainStep"/>
    /// on engine suffix Gemm → Softmax, cross-entropy, Adam with the prepared model's default hyperparameters, seeded shuffle,
    /// Kaiming-uniform start), driven directly since UpdateTask reads images.
    /// </summary>
    private static Func<HeadFigure> NnWithEngine(FeatureSet set) => () =>
    {
        var h = DefaultHyperparameters.For(OptimizerKind.Adam);
        int batch = (int)h[H.BatchSize].Default, epochs = (int)h[H.Epochs].Default, seed = (int)h[H.Seed].Default;
        int d = set.Dimension, classes = set.ClassNames.Length;
        var rng = new Random(42);
        float wBound = MathF.Sqrt(6f / d), bBound = 1f / MathF.Sqrt(d);
        var w = Enumerable.Range(0, classes * d).Select(_ => (float)(rng.NextDouble() * 2 - 1) * wBound).ToArray();
        var b = Enumerable.Range(0, classes).Select(_ => (float)(rng.NextDouble() * 2 - 1) * bBound).ToArray();
        var graph = new GraphProto { Name = "head" };
        graph.Initializer.Add(OnnxTensors.FromFloats("w", [classes, d], w));
        graph.Initializer.Add(OnnxTensors.FromFloats("b", [classes], b));
        graph.Node.Add(OnnxGraph.Node("Gemm", "fc", ["x", "w", "b"], ["logits"], OnnxGraph.IntAttr("transB", 1)));
        graph.Node.Add(OnnxGraph.Node("Softmax", "softmax", ["logits"], ["prob"], OnnxGraph.IntAttr("axis", 1)));
        var suffix = SuffixGraph.Build(graph, ["x"], ["prob"], new HashSet<string> { "w", "b" }, 13, new Dictionary<string, int[]> { ["x"] = [d] }, seed);
        var adam = new Adam(h[H.LearningRate].Default, h[H.Beta1].Default, h[H.Beta2].Default, h[H.Epsilon].Default, h[H.WeightDecay].Default);
        var session = new Tailor.Training.TrainingSession(suffix, new TrainingLoss([new LossSpec { Input = "prob" }], classes), adam, classes,
            new TrainingSettings(OptimizerKind.Adam, epochs, adam.LearningRate, batch, true, seed, 0, false, adam.Beta1, adam.Beta2, adam.Epsilon,
                adam.WeightDecay, Images.AugmentationOptions.None, null));
        using var train = new Tailor.Training.FeatureSet(Features.FeatureCache.InMemory([d], set.Train), [.. set.TrainLabels], seed, shuffle: true);
        var clock = Stopwatch.StartNew();
        for (int epoch = 0; epoch < epochs; epoch++)
            foreach (var features in train.Batches(batch, epoch))
                session.TrainStep(features);
        double seconds = clock.Elapsed.TotalSeconds;
        int correct = 0;
        var trained = session.Parameters.Single(p => p.Name == "w").Value;
        var bias = session.Parameters.Single(p => p.Name == "b").Value;
        var logits = new float[classes];
        for (int i = 0; i < set.TestCount; i++)
        {
            for (int c = 0; c < classes; c++) logits[c] = TensorPrimitives.Dot(set.TestRow(i), trained.Slice(c * d, d)) + bias[c];
            if (TensorPrimitives.IndexOfMax(logits) == set.TestLabels[i]) correct++;
        }
        return new HeadFigure("nn (engine step of UpdateTask)", correct, set.TestCount, seconds, 1,
            $"adam lr {h[H.LearningRate].Default}, batch {batch}, {epochs} epochs, weight decay {h[H.WeightDecay].Default} (prepared-model defaults)");
    };

    // ---- logistic regression and k-NN ---------------------------------------------------------------------------

    private static HeadFigure LogisticRegressionHead(FeatureSet set, int runs)
    {
        // The settings HeadTrainer uses: features as the classifier sees them (already normalized by the graph for the
        // hands; raw for the mixture), L2 as the head's default, no L1.
        var options = new LogisticRegressionOptions { L2 = LogRegL2, NormalizeFeatures = false };
        int classes = set.ClassNames.Length;
        LogisticRegressionModel? model = null;
        LogisticRegression.Train(set.Train, set.TrainLabels, classes, options); // JIT warm-up
        var times = new double[runs];
        for (int r = 0; r < runs; r++)
        {
            var clock = Stopwatch.StartNew();
            model = LogisticRegression.Train(set.Train, set.TrainLabels, classes, options);
            times[r] = clock.Elapsed.TotalSeconds;
        }
        int correct = Enumerable.Range(0, set.TestCount).Count(i => model!.Predict(set.TestRow(i)) == set.TestLabels[i]);
        var t = model!.Training;
        return new HeadFigure("logreg (Tailor L-BFGS)", correct, set.TestCount, Measure.Median(times), runs,
            $"L2 {LogRegL2}, no L1; {(t.Converged ? "converged" : "not converged")} in {t.Iterations} iterations");
    }

    /// <summary><c>tailor train --head logreg --l2 auto</c>: λ chosen among the default grid by 5-fold cross-validation on the
    /// training set, then the final fit. One run (it is 7 × 5 + 1 fits); the time covers all of it.</summary>
    private static HeadFigure CrossValidatedLogisticRegressionHead(FeatureSet set)
    {
        var options = new LogisticRegressionOptions { NormalizeFeatures = false };
        int classes = set.ClassNames.Length;
        var clock = Stopwatch.StartNew();
        var selection = LogisticRegression.CrossValidateL2(set.Train, set.TrainLabels, classes, options: options);
        var model = LogisticRegression.Train(set.Train, set.TrainLabels, classes, options with { L2 = selection.Chosen });
        double seconds = clock.Elapsed.TotalSeconds;
        int correct = Enumerable.Range(0, set.TestCount).Count(i => model.Predict(set.TestRow(i)) == set.TestLabels[i]);
        return new HeadFigure("logreg, λ by 5-fold CV", correct, set.TestCount, seconds, 1,
            $"chose L2 {selection.Chosen} of {LogisticRegression.DefaultL2Candidates.Count} ({selection.Folds} folds)");
    }

    private static HeadFigure KnnHead(FeatureSet set)
    {
        KNearestNeighbors Store()
        {
            var knn = new KNearestNeighbors(set.Dimension);
            for (int i = 0; i < set.TrainCount; i++) knn.Add(set.TrainRow(i), set.ClassNames[set.TrainLabels[i]]);
            return knn;
        }
        Store(); // JIT warm-up, as for the other heads
        var clock = Stopwatch.StartNew();
        var knn = Store();
        double seconds = clock.Elapsed.TotalSeconds;
        var predictions = knn.PredictBatch(set.Test);
        int correct = Enumerable.Range(0, set.TestCount).Count(i => predictions[i].Label == set.ClassNames[set.TestLabels[i]]);
        return new HeadFigure("k-NN (Tailor)", correct, set.TestCount, seconds, 1, $"k {knn.K}, {knn.Weighting}, {knn.Metric}; time = storing the examples");
    }

    // ---- ML.NET --------------------------------------------------------------------------------------------------

    private sealed class Row
    {
        public uint Label { get; set; }
        public float[] Features { get; set; } = [];
    }

    /// <summary>ML.NET's LbfgsMaximumEntropy on the same rows: its defaults (L1 1, L2 1), or with L1 set.
    /// Timed: Fit on an in-memory IDataView, after one untimed Fit that JIT-compiles ML.NET.</summary>
    private static HeadFigure MlNet(FeatureSet set, int runs, float? l1)
    {
        var ml = new MLContext(seed: 1);
        int d = set.Dimension, classes = set.ClassNames.Length;
        var schema = SchemaDefinition.Create(typeof(Row));
        schema[nameof(Row.Features)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, d);
        schema[nameof(Row.Label)].ColumnType = new KeyDataViewType(typeof(uint), classes);
        // Key values are 1-based in ML.NET (0 means missing).
        IEnumerable<Row> Rows(float[] x, int[] y) => y.Select((label, i) => new Row { Label = (uint)label + 1, Features = x.AsSpan(i * d, d).ToArray() }).ToList();
        var train = ml.Data.LoadFromEnumerable(Rows(set.Train, set.TrainLabels), schema);
        var test = ml.Data.LoadFromEnumerable(Rows(set.Test, set.TestLabels), schema);
        var trainer = l1 is float l
            ? ml.MulticlassClassification.Trainers.LbfgsMaximumEntropy(l1Regularization: l)
            : ml.MulticlassClassification.Trainers.LbfgsMaximumEntropy();
        trainer.Fit(train); // JIT warm-up
        var times = new double[runs];
        ITransformer? model = null;
        for (int r = 0; r < runs; r++)
        {
            var clock = Stopwatch.StartNew();
            model = trainer.Fit(train);
            times[r] = clock.Elapsed.TotalSeconds;
        }
        var metrics = ml.MulticlassClassification.Evaluate(model!.Transform(test));
        int correct = (int)Math.Round(metrics.MicroAccuracy * set.TestCount);
        return new HeadFigure(l1 is null ? "ML.NET LbfgsMaximumEntropy (defaults)" : $"ML.NET LbfgsMaximumEntropy (L1 {l1})", correct, set.TestCount,
            Measure.Median(times), runs, l1 is null ? "L1 1, L2 1 (its defaults)" : $"L1 {l1}, L2 1");
    }

    // ---- k-NN prediction cost ------------------------------------------------------------------------------------

    /// <summary>Seconds per query with <paramref name="stored"/> random examples stored: managed Predict and PredictBatch,
    /// and the exported graph on ONNX Runtime (one query per call, and 64 per call divided by 64).</summary>
    private static KnnCost KnnPredictionCost(int stored, int d)
    {
        var rng = new Random(5);
        var knn = new KNearestNeighbors(d);
        var row = new float[d];
        for (int i = 0; i < stored; i++)
        {
            for (int j = 0; j < d; j++) row[j] = (float)rng.NextDouble();
            knn.Add(row, $"label {i % 10}");
        }
        float[] queries = Enumerable.Range(0, 64 * d).Select(_ => (float)rng.NextDouble()).ToArray();
        int q = 0;
        var managed = Measure.Time(() => { knn.Predict(queries.AsSpan((q++ % 64) * d, d)); }, samples: 7);
        var managedBatch = Measure.Time(() => { knn.PredictBatch(queries); }, samples: 7);

        var model = KnnOnnxExport.Export(FeatureInputModel(d), knn);
        using var options = new SessionOptions { LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR };
        using var session = new InferenceSession(model.ToByteArray(), options);
        using var runOptions = new RunOptions();
        using var one = OrtValue.CreateTensorValueFromMemory(queries.AsSpan(0, d).ToArray(), [1, d]);
        using var many = OrtValue.CreateTensorValueFromMemory(queries, [64, d]);
        string[] inputs = ["features"], outputs = ["probabilities", "label"];
        var ort = Measure.Time(() => { using var _ = session.Run(runOptions, inputs, [one], outputs); }, samples: 7);
        var ortBatch = Measure.Time(() => { using var _ = session.Run(runOptions, inputs, [many], outputs); }, samples: 7);
        return new KnnCost(stored, d, managed.Median, managedBatch.Median / 64, ort.Median, ortBatch.Median / 64);
    }

    /// <summary>A graph whose input is already the features: features [N, d] → Identity → embedding.</summary>
    private static ModelProto FeatureInputModel(int d)
    {
        var model = new ModelProto { IrVersion = 7, ProducerName = "tailor-bench" };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 13 });
        var graph = new GraphProto { Name = "features" };
        graph.Input.Add(OnnxGraph.TensorInfo("features", TensorProto.Types.DataType.Float, null, d));
        graph.Output.Add(OnnxGraph.TensorInfo("embedding", TensorProto.Types.DataType.Float, null, d));
        graph.Node.Add(OnnxGraph.Node("Identity", "identity", ["features"], ["embedding"]));
        model.Graph = graph;
        return model;
    }

    // ---- output --------------------------------------------------------------------------------------------------

    private static void Print(DatasetResult[] datasets, KnnCost[] knn, double totalSeconds)
    {
        var c = CultureInfo.InvariantCulture;
        void Line(string text) => Console.Out.WriteLine(text);
        string Ms(double s) => s >= 1 ? (s).ToString("F2", c) + " s" : s >= 1e-3 ? (s * 1e3).ToString("F1", c) + " ms" : (s * 1e6).ToString("F1", c) + " µs";
        Line($"Tailor heads: {(Measure.TailorIsOptimized ? "Release" : "Debug (unoptimized!)")} build, .NET {Environment.Version}, {Environment.ProcessorCount} cores");
        foreach (var set in datasets)
        {
            Line("");
            Line($"{set.Name}: {set.Description}");
            Line($"  {"head",-40} {"test accuracy",-22} {"train time",12}  settings");
            foreach (var h in set.Heads)
                Line(string.Create(c, $"  {h.Head,-40} {$"{h.Correct}/{h.Total} ({h.Accuracy:P1})",-22} {Ms(h.TrainSeconds),12}  {h.Settings}{(h.Runs > 1 ? $"; median of {h.Runs}" : "")}"));
            var tailor = set.Heads.First(h => h.Head.StartsWith("logreg", StringComparison.Ordinal));
            var ml = set.Heads.First(h => h.Head.StartsWith("ML.NET", StringComparison.Ordinal));
            Line(string.Create(c, $"  Tailor L-BFGS time / ML.NET's: {set.LbfgsTimeRatio:F2}× (target ≤ 0.5×), accuracy {tailor.Correct}/{tailor.Total} vs {ml.Correct}/{ml.Total} ") +
                (set.LbfgsAccuracyAtLeastMlNet ? "(at least ML.NET's)" : "(BELOW ML.NET's)"));
        }
        Line("");
        Line($"k-NN prediction cost per query ({knn[0].Dimension}-d, k 5, uniform, Euclidean; median)");
        Line($"  {"stored",8} {"managed",12} {"ORT, 1 query/run",18} {"ratio",7} {"managed, 64/batch",19} {"ORT, 64 queries/run",21} {"ratio",7}");
        foreach (var k in knn)
            Line(string.Create(c, $"  {k.Stored,8:N0} {Ms(k.ManagedSeconds),12} {Ms(k.OrtSeconds),18} {k.OrtSeconds / k.ManagedSeconds,6:F2}× ") +
                string.Create(c, $"{Ms(k.ManagedBatch64SecondsPerQuery),19} {Ms(k.OrtBatch64SecondsPerQuery),21} {k.OrtBatch64SecondsPerQuery / k.ManagedBatch64SecondsPerQuery,6:F2}×"));
        Line("  (ratio = ONNX Runtime time / managed time at the same batch size, same run)");
        Line("");
        Line(string.Create(c, $"Total {totalSeconds:F0} s. Ratios compare figures from this run only; on a shared machine, rerun before quoting them."));
    }
}
