using Tailor.Building;
using Tailor.Data;
using Tailor.Features;
using Tailor.Images;
using Tailor.Spec;

namespace Tailor.Bench;

/// <summary>Examples as rows of features (the classifier's input) with class indices, split into train and test.</summary>
internal sealed record FeatureSet(string Name, string Description, int Dimension, string[] ClassNames,
    float[] Train, int[] TrainLabels, float[] Test, int[] TestLabels)
{
    public int TrainCount => TrainLabels.Length;
    public int TestCount => TestLabels.Length;
    public ReadOnlySpan<float> TrainRow(int i) => Train.AsSpan(i * Dimension, Dimension);
    public ReadOnlySpan<float> TestRow(int i) => Test.AsSpan(i * Dimension, Dimension);
}

internal static class FeatureSets
{
    /// <summary>The hands data folder (holding train/ and test/), as the tests and the train benchmark find it.</summary>
    public static string HandsRoot() => SharedData.Hands;

    /// <summary>
    /// Features of the hands photos at the default model's classifier input (ResNet18's pooled 512-d output,
    /// L2-normalized in the graph), computed once by Tailor's FeatureCache — what every head trains on.
    /// Also returns the freshly prepared model, for the nn head.
    /// </summary>
    public static (FeatureSet Set, UpdatableModel Model, LabeledFolder Train) Hands()
    {
        string root = HandsRoot();
        var train = LabeledFolder.Scan(Path.Combine(root, "train"));
        var test = LabeledFolder.Scan(Path.Combine(root, "test"));
        var model = ModelBuilder.Prepare(new PrepareOptions { Labels = train.Labels.ToArray(), Capacity = Math.Max(10, train.Labels.Count), UpdatableLayers = ["classifier"] });  // heads on frozen features: the classifier alone trains
        // Cut just before the classifier, as HeadTrainer does for the k-NN and logistic-regression heads.
        var cutSpec = model.Spec with { UpdatableLayers = [new UpdatableLayer { Name = model.Spec.Classifier, Op = "Gemm", Parameters = [] }] };
        var cut = GraphCut.Compute(model.Proto.Graph, cutSpec);
        using var extractor = new FeatureExtractor(model, cut);
        float[] Extract(LabeledFolder folder)
        {
            var (cache, failures) = FeatureCache.Build(extractor, folder.Examples.Select(e => e.Path).ToList(), AugmentationOptions.None, 0);
            using (cache)
            {
                if (failures.Count > 0) throw new InvalidOperationException($"{failures[0].Path}: {failures[0].Reason}");
                var rows = new float[cache.Rows * cache.RowLength];
                for (int r = 0; r < cache.Rows; r++) cache.Read(r, rows.AsSpan(r * cache.RowLength, cache.RowLength));
                return rows;
            }
        }
        string[] names = [.. train.Labels];
        int[] Labels(LabeledFolder folder) => folder.Examples.Select(e => train.IndexOf(e.Label)).ToArray();
        var set = new FeatureSet("hands", $"hands photos ({root}): {train.Examples.Count} train / {test.Examples.Count} test, " +
            $"{extractor.FeatureLength}-d L2-normalized ResNet18 features, no augmentation",
            extractor.FeatureLength, names, Extract(train), Labels(train), Extract(test), Labels(test));
        return (set, model, train);
    }

    /// <summary>
    /// A seeded Gaussian mixture: class c has mean μ_c with entries drawn from N(0, meanScale²), and an example of
    /// class c is μ_c + N(0, I). Classes are balanced (example i has class i mod C). Nothing is downloaded.
    /// </summary>
    public static FeatureSet GaussianMixture(int train = 10_000, int test = 2_000, int dimension = 512, int classes = 10,
        double meanScale = 0.1, int seed = 7)
    {
        var rng = new Random(seed);
        double Normal()
        {
            // Box–Muller; 1 − U keeps the logarithm finite.
            double u1 = 1 - rng.NextDouble(), u2 = rng.NextDouble();
            return Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
        }
        var means = new double[classes * dimension];
        for (int i = 0; i < means.Length; i++) means[i] = meanScale * Normal();
        (float[] X, int[] Y) Draw(int n)
        {
            var x = new float[n * dimension];
            var y = new int[n];
            for (int i = 0; i < n; i++)
            {
                y[i] = i % classes;
                for (int j = 0; j < dimension; j++) x[i * dimension + j] = (float)(means[y[i] * dimension + j] + Normal());
            }
            return (x, y);
        }
        var (trainX, trainY) = Draw(train);
        var (testX, testY) = Draw(test);
        return new FeatureSet("gaussian-mixture",
            $"synthetic Gaussian mixture (seed {seed}): {train:N0} train / {test:N0} test, {dimension}-d, {classes} classes, " +
            $"class means ~ N(0, {meanScale}²) per dimension, unit noise",
            dimension, Enumerable.Range(0, classes).Select(c => $"class {c}").ToArray(), trainX, trainY, testX, testY);
    }
}
