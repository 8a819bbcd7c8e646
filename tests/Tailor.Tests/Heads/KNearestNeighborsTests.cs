using System.Diagnostics;
using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Onnx;
using Tailor.Heads;
using Xunit.Abstractions;

namespace Tailor.Tests.Heads;

public class KNearestNeighborsTests
{
    [Theory]
    [InlineData(0)]
    [InlineData(101)]
    [InlineData(-3)]
    public void KOutOfRange_Throws_NamingValueAndRange(int k)
    {
        var e = Assert.Throws<TailorException>(() => new KNearestNeighbors(4, k));
        Assert.Contains($"k = {k}", e.Message);
        Assert.Contains("between 1 and 100", e.Message);
        var knn = new KNearestNeighbors(4);
        Assert.Throws<TailorException>(() => knn.K = k);
        Assert.Equal(KNearestNeighbors.DefaultK, knn.K);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(100)]
    public void KAtBounds_IsAllowed(int k) => Assert.Equal(k, new KNearestNeighbors(4, k).K);

    [Fact]
    public void EmptySet_Throws()
    {
        var knn = new KNearestNeighbors(3);
        var e = Assert.Throws<TailorException>(() => knn.Predict([1, 2, 3]));
        Assert.Contains("the k-NN holds no examples; add some with", e.Message, StringComparison.OrdinalIgnoreCase);
        Assert.Throws<TailorException>(() => knn.PredictBatch(new float[6]));
        Assert.Throws<TailorException>(() => KnnOnnxExport.Export(IdentityModel(3, 13), knn));
    }

    [Fact]
    public void WrongFeatureLength_Throws_NamingExpectedAndActual()
    {
        var knn = new KNearestNeighbors(3);
        var e = Assert.Throws<TailorException>(() => knn.Add([1, 2], "a"));
        Assert.Contains("length 3", e.Message);
        Assert.Contains("length 2", e.Message);
        knn.Add([1, 2, 3], "a");
        e = Assert.Throws<TailorException>(() => knn.Predict([1, 2, 3, 4]));
        Assert.Contains("length 3", e.Message);
        Assert.Contains("length 4", e.Message);
        Assert.Throws<TailorException>(() => knn.PredictBatch(new float[7]));
    }

    [Fact]
    public void NonFiniteFeature_Throws() =>
        Assert.Throws<TailorException>(() => new KNearestNeighbors(2).Add([float.NaN, 0], "a"));

    [Fact]
    public void FewerExamplesThanK_UsesAll()
    {
        var knn = new KNearestNeighbors(1, k: 5);
        knn.Add([0], "a");
        knn.Add([10], "b");
        knn.Add([11], "b");
        Assert.Equal(3, knn.EffectiveK);
        var p = knn.Predict([0]);
        // Uniform: all three vote even though "a" is nearest.
        Assert.Equal("b", p.Label);
        Assert.Equal(1f / 3, p.Probabilities[0], 6);
        Assert.Equal(2f / 3, p.Probabilities[1], 6);
    }

    [Fact]
    public void InverseDistanceWeighting_Math()
    {
        var knn = new KNearestNeighbors(1, k: 3, KnnWeighting.InverseDistance);
        knn.Add([1], "a");   // d = 1
        knn.Add([-2], "b");  // d = 2
        knn.Add([4], "b");   // d = 4
        knn.Add([100], "a"); // not among the 3 nearest
        var p = knn.Predict([0]);
        double eps = KNearestNeighbors.InverseDistanceEpsilon;
        double wa = 1 / (1 + eps), wb = 1 / (2 + eps) + 1 / (4 + eps);
        Assert.Equal(wa / (wa + wb), p.Probabilities[0], 6);
        Assert.Equal(wb / (wa + wb), p.Probabilities[1], 6);
        Assert.Equal("a", p.Label); // 0.571 vs 0.429; uniform would say "b"
        var uniform = new KNearestNeighbors(1, 3, KnnWeighting.Uniform);
        uniform.Add([1], "a"); uniform.Add([-2], "b"); uniform.Add([4], "b");
        Assert.Equal("b", uniform.Predict([0]).Label);
    }

    [Fact]
    public void InverseDistance_ExactMatch_IsFiniteAndDominates()
    {
        var knn = new KNearestNeighbors(2, 2, KnnWeighting.InverseDistance);
        knn.Add([1, 1], "a");
        knn.Add([1, 2], "b");
        var p = knn.Predict([1, 1]);
        Assert.All(p.Probabilities, v => Assert.True(float.IsFinite(v)));
        Assert.Equal("a", p.Label);
        Assert.True(p.Probabilities[0] > 0.999f);
    }

    [Fact]
    public void Cosine_IgnoresScale_EuclideanDoesNot()
    {
        var euclid = new KNearestNeighbors(2, 1, metric: KnnMetric.Euclidean);
        var cosine = new KNearestNeighbors(2, 1, metric: KnnMetric.Cosine);
        foreach (var knn in new[] { euclid, cosine })
        {
            knn.Add([10, 0], "east");
            knn.Add([0.1f, 0.1f], "northeast");
        }
        float[] query = [1, 0.05f];
        Assert.Equal("northeast", euclid.Predict(query).Label); // nearer in absolute position
        Assert.Equal("east", cosine.Predict(query).Label);      // same direction
        Assert.Equal(1 - 1 / MathF.Sqrt(1.0025f), cosine.Distance(query, 0), 5);
        Assert.Equal(1 - 1.05f / (MathF.Sqrt(1.0025f) * MathF.Sqrt(2)), cosine.Distance(query, 1), 5);
    }

    [Fact]
    public void Cosine_ZeroVector_IsAtDistanceOne()
    {
        var knn = new KNearestNeighbors(2, 1, metric: KnnMetric.Cosine);
        knn.Add([0, 0], "zero");
        Assert.Equal(1f, knn.Distance([3, 4], 0), 6);
    }

    [Fact]
    public void Ties_GoToTheExampleAndLabelAddedFirst()
    {
        var knn = new KNearestNeighbors(1, k: 1);
        knn.Add([1], "right");
        knn.Add([-1], "left");
        Assert.Equal("right", knn.Predict([0]).Label);
        knn.K = 2;
        var p = knn.Predict([0]);
        Assert.Equal(0.5f, p.Probabilities[0]);
        Assert.Equal("right", p.Label);
    }

    [Fact]
    public void IncrementalAdd_NewExampleAtQuery_FlipsLabel()
    {
        var knn = new KNearestNeighbors(2, k: 1);
        knn.Add([0, 0], "a");
        knn.Add([5, 5], "b");
        float[] q = [1, 1];
        Assert.Equal("a", knn.Predict(q).Label);
        knn.Add(q, "c");
        var p = knn.Predict(q);
        Assert.Equal("c", p.Label);
        Assert.Equal(["a", "b", "c"], knn.Labels);
        Assert.Equal([0f, 0f, 1f], p.Probabilities);
    }

    [Fact]
    public void Labels_AreComparedAfterNfcNormalization()
    {
        var knn = new KNearestNeighbors(1);
        knn.Add([0], "e\u0301");  // e + combining acute
        knn.Add([1], "\u00e9");   // precomposed é
        Assert.Single(knn.Labels);
    }

    [Fact]
    public void PredictBatch_MatchesSinglePredictions()
    {
        var (knn, queries) = RandomSet(KnnMetric.Euclidean, KnnWeighting.InverseDistance, 40, 7, 3, 5, seed: 1);
        var batch = knn.PredictBatch(queries);
        for (int q = 0; q < batch.Length; q++)
        {
            var single = knn.Predict(queries.AsSpan(q * 7, 7));
            Assert.Equal(single.Label, batch[q].Label);
            Assert.Equal(single.Probabilities, batch[q].Probabilities);
        }
    }

    [Theory]
    [InlineData(KnnMetric.Euclidean, KnnWeighting.InverseDistance)]
    [InlineData(KnnMetric.Cosine, KnnWeighting.Uniform)]
    public void PredictBatch_ManyBlocks_MatchesSinglePredictionsAndASortOfAllDistances(KnnMetric metric, KnnWeighting weighting)
    {
        // More stored examples than one GEMM block (256) and more queries than one query block (64), with ragged
        // ends; every 50th example repeats an earlier one, so equal distances must go to the example added first.
        const int d = 33, k = 7;
        var (knn, queries) = RandomSet(metric, weighting, 600, d, 5, 130, seed: 6);
        for (int i = 0; i < 600; i += 50) knn.Add(knn.GetFeatures(i).ToArray(), knn.GetLabel(i));
        knn.K = k;
        var batch = knn.PredictBatch(queries);
        for (int q = 0; q < batch.Length; q++)
        {
            var query = queries.AsSpan(q * d, d).ToArray();
            var single = knn.Predict(query);
            Assert.Equal(single.Label, batch[q].Label);
            Assert.Equal(single.Probabilities, batch[q].Probabilities);
            var order = Enumerable.Range(0, knn.Count).OrderBy(i => knn.Distance(query, i)).Take(k).ToList();
            var expected = new float[knn.Labels.Count];
            float total = 0;
            foreach (int i in order)
            {
                float w = weighting == KnnWeighting.Uniform ? 1f : 1f / (knn.Distance(query, i) + KNearestNeighbors.InverseDistanceEpsilon);
                expected[knn.Labels.ToList().IndexOf(knn.GetLabel(i))] += w;
                total += w;
            }
            for (int l = 0; l < expected.Length; l++)
                Assert.Equal(expected[l] / total, batch[q].Probabilities[l], 5);
        }
    }

    [Theory]
    [InlineData(KnnMetric.Euclidean)]
    [InlineData(KnnMetric.Cosine)]
    public void ExactMatch_HighDimension_IsAtDistanceZero(KnnMetric metric)
    {
        // d² = ‖q‖² + ‖e‖² − 2·q·e cancels exactly for q = e: all three come from one kernel and one summation order.
        var rng = new Random(7);
        var knn = new KNearestNeighbors(512, k: 1, KnnWeighting.InverseDistance, metric);
        var rows = new float[20][];
        for (int i = 0; i < rows.Length; i++)
        {
            rows[i] = Enumerable.Range(0, 512).Select(_ => (float)(rng.NextDouble() * 40)).ToArray();
            knn.Add(rows[i], $"l{i}");
        }
        for (int i = 0; i < rows.Length; i++)
        {
            if (metric == KnnMetric.Euclidean)
                Assert.Equal(0f, knn.Distance(rows[i], i));
            else
                Assert.True(knn.Distance(rows[i], i) < 1e-6f);
            Assert.Equal(i, knn.Predict(rows[i]).LabelIndex);
        }
    }

    [Fact]
    public void Neighbours_MatchASortOfAllDistances()
    {
        // Reference: sort every distance (stable, so ties keep insertion order) and take the first k.
        var (knn, queries) = RandomSet(KnnMetric.Euclidean, KnnWeighting.Uniform, 60, 5, 4, 20, seed: 2);
        knn.K = 7;
        for (int q = 0; q < 20; q++)
        {
            var query = queries.AsSpan(q * 5, 5).ToArray();
            var order = Enumerable.Range(0, knn.Count).OrderBy(i => knn.Distance(query, i)).Take(7).ToList();
            var expected = new float[knn.Labels.Count];
            foreach (int i in order)
                expected[knn.Labels.ToList().IndexOf(knn.GetLabel(i))] += 1f / 7;
            var actual = knn.Predict(query).Probabilities;
            for (int l = 0; l < expected.Length; l++)
                Assert.Equal(expected[l], actual[l], 6);
        }
    }

    [Theory]
    [InlineData(KnnMetric.Euclidean, KnnWeighting.Uniform, 13)]
    [InlineData(KnnMetric.Euclidean, KnnWeighting.InverseDistance, 13)]
    [InlineData(KnnMetric.Cosine, KnnWeighting.Uniform, 13)]
    [InlineData(KnnMetric.Cosine, KnnWeighting.InverseDistance, 13)]
    [InlineData(KnnMetric.Euclidean, KnnWeighting.InverseDistance, 11)]
    [InlineData(KnnMetric.Euclidean, KnnWeighting.InverseDistance, 10)]
    [InlineData(KnnMetric.Cosine, KnnWeighting.InverseDistance, 9)]
    [InlineData(KnnMetric.Euclidean, KnnWeighting.Uniform, 7)]
    [InlineData(KnnMetric.Euclidean, KnnWeighting.InverseDistance, 17)]
    public void ExportedGraph_OnOnnxRuntime_MatchesManagedPredict(KnnMetric metric, KnnWeighting weighting, int opset)
    {
        const int d = 6;
        var (knn, queries) = RandomSet(metric, weighting, 50, d, 4, 9, seed: 3);
        var model = KnnOnnxExport.Export(IdentityModel(d, opset), knn);
        var (probabilities, labels) = RunOrt(model, queries, d);
        var managed = knn.PredictBatch(queries);
        for (int q = 0; q < managed.Length; q++)
        {
            for (int l = 0; l < knn.Labels.Count; l++)
                Assert.Equal(managed[q].Probabilities[l], probabilities[q, l], 1e-5f);
            Assert.Equal(managed[q].Label, labels[q]);
        }
    }

    [Fact]
    public void ExportedGraph_FourDimensionalFeatures_AreFlattened()
    {
        const int d = 4;
        var (knn, queries) = RandomSet(KnnMetric.Euclidean, KnnWeighting.Uniform, 12, d, 3, 3, seed: 4);
        var model = IdentityModel(d, 13, fourDimensional: true);
        var (probabilities, labels) = RunOrt(KnnOnnxExport.Export(model, knn), queries, d, fourDimensional: true);
        var managed = knn.PredictBatch(queries);
        for (int q = 0; q < managed.Length; q++)
        {
            Assert.Equal(managed[q].Label, labels[q]);
            Assert.Equal(managed[q].Probabilities[0], probabilities[q, 0], 1e-5f);
        }
    }

    [Fact]
    public void ExportedGraph_FewerExamplesThanK_AndUnicodeLabels()
    {
        var knn = new KNearestNeighbors(2, k: 10);
        knn.Add([0, 0], "✊");
        knn.Add([1, 0], "✋");
        knn.Add([0, 1], "✌️");
        var (p, labels) = RunOrt(KnnOnnxExport.Export(IdentityModel(2, 13), knn), [0.1f, 0.1f], 2);
        Assert.Equal(1f / 3, p[0, 0], 1e-6f);
        Assert.Equal("✊", labels[0]); // three-way tie → first label, as managed
        Assert.Equal(knn.Predict([0.1f, 0.1f]).Label, labels[0]);
    }

    [Theory]
    [InlineData(KnnMetric.Euclidean, 13)]
    [InlineData(KnnMetric.Cosine, 13)]
    [InlineData(KnnMetric.Euclidean, 9)]
    public void ExportedGraph_EquidistantNeighbours_BreakTiesLikeManaged(KnnMetric metric, int opset)
    {
        var knn = new KNearestNeighbors(2, k: 1, metric: metric);
        knn.Add([1, 1], "first");
        knn.Add([1, -1], "second");
        float[] q = [1, 0];
        Assert.Equal("first", knn.Predict(q).Label);
        Assert.Equal("first", RunOrt(KnnOnnxExport.Export(IdentityModel(2, opset), knn), q, 2).Labels[0]);
    }

    [Fact]
    public void Export_ReadBack_AddMore_ExportAgain()
    {
        const int d = 3;
        var knn = new KNearestNeighbors(d, k: 1, KnnWeighting.InverseDistance, KnnMetric.Cosine);
        knn.Add([1, 0, 0], "x");
        knn.Add([0, 1, 0], "y");
        var baseModel = IdentityModel(d, 13);
        var model = KnnOnnxExport.Export(baseModel, knn);
        // Serialized and parsed, as a file would be.
        var reloaded = ModelProto.Parser.ParseFrom(model.ToByteArray());
        Assert.True(KnnOnnxExport.HasKnn(reloaded));
        var back = KnnOnnxExport.Read(reloaded);
        Assert.Equal(knn.Count, back.Count);
        Assert.Equal(knn.K, back.K);
        Assert.Equal(knn.Weighting, back.Weighting);
        Assert.Equal(knn.Metric, back.Metric);
        Assert.Equal(knn.Labels, back.Labels);
        Assert.Equal(knn.GetFeatures(1).ToArray(), back.GetFeatures(1).ToArray());

        float[] q = [0, 0, 1];
        Assert.NotEqual("z", RunOrt(reloaded, q, d).Labels[0]);
        back.Add(q, "z");
        var extended = KnnOnnxExport.Export(reloaded, back);
        Assert.Equal("z", RunOrt(extended, q, d).Labels[0]);
        Assert.Equal(3, KnnOnnxExport.Read(extended).Count);
        // Re-export replaced the head instead of stacking a second one.
        Assert.Equal(model.Graph.Node.Count, extended.Graph.Node.Count);
        Assert.Single(extended.MetadataProps, p => p.Key == KnnOnnxExport.MetadataKey);
        // And removing it gives the backbone back.
        var backbone = KnnOnnxExport.RemoveHead(extended);
        Assert.Equal(baseModel.Graph, backbone.Graph);
    }

    [Fact]
    public void Export_ByPath_WritesAModelThatOnnxRuntimeRuns_AndReadsBack()
    {
        // The public overload: file in, file out, no protobuf types.
        var dir = Directory.CreateTempSubdirectory("tailor-knn").FullName;
        try
        {
            string backbone = Path.Combine(dir, "backbone.onnx"), output = Path.Combine(dir, "knn.onnx");
            File.WriteAllBytes(backbone, IdentityModel(2, 13).ToByteArray());
            var knn = new KNearestNeighbors(2, k: 1);
            knn.Add([1, 0], "right");
            knn.Add([0, 1], "up");
            KnnOnnxExport.Export(backbone, output, knn);
            var written = ModelProto.Parser.ParseFrom(File.ReadAllBytes(output));
            Assert.Equal("up", RunOrt(written, [0.1f, 0.9f], 2).Labels[0]);
            Assert.Equal(2, KnnOnnxExport.Read(written).Count);
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Fact]
    public void Read_ModelWithoutKnn_Throws()
    {
        var e = Assert.Throws<TailorException>(() => KnnOnnxExport.Read(IdentityModel(2, 13)));
        Assert.Contains(KnnOnnxExport.MetadataKey, e.Message);
    }

    [Fact]
    public void Export_OldOpset_Throws()
    {
        var knn = new KNearestNeighbors(2);
        knn.Add([0, 0], "a");
        var e = Assert.Throws<TailorException>(() => KnnOnnxExport.Export(IdentityModel(2, 6), knn));
        Assert.Contains("opset is 6", e.Message);
    }

    [Fact]
    public void Export_UnknownFeatureTensor_Throws()
    {
        var knn = new KNearestNeighbors(2);
        knn.Add([0, 0], "a");
        var e = Assert.Throws<TailorException>(() =>
            KnnOnnxExport.Export(IdentityModel(2, 13), knn, new KnnExportOptions { FeatureTensor = "nope" }));
        Assert.Contains("'nope'", e.Message);
    }

    internal static (KNearestNeighbors, float[]) RandomSet(KnnMetric metric, KnnWeighting weighting, int n, int d, int labels, int queries, int seed)
    {
        var rng = new Random(seed);
        var knn = new KNearestNeighbors(d, 5, weighting, metric);
        var row = new float[d];
        for (int i = 0; i < n; i++)
        {
            int label = i % labels;
            for (int j = 0; j < d; j++) row[j] = (float)(rng.NextDouble() * 2 - 1 + (j == label ? 1.5 : 0));
            knn.Add(row, $"class {label}");
        }
        float[] q = new float[queries * d];
        for (int i = 0; i < q.Length; i++) q[i] = (float)(rng.NextDouble() * 2 - 1 + 0.5);
        return (knn, q);
    }

    internal static ModelProto IdentityModel(int d, int opset, bool fourDimensional = false)
    {
        var model = new ModelProto { IrVersion = opset >= 15 ? 8 : 7, ProducerName = "tailor-tests" };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = opset });
        var graph = new GraphProto { Name = "backbone" };
        long[] dims = fourDimensional ? [d, 1, 1] : [d];
        graph.Input.Add(Value("features", dims));
        graph.Output.Add(Value("embedding", dims));
        graph.Node.Add(new NodeProto { OpType = "Identity", Name = "id", Input = { "features" }, Output = { "embedding" } });
        model.Graph = graph;
        return model;

        static ValueInfoProto Value(string name, long[] dims)
        {
            var shape = new TensorShapeProto();
            shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimParam = "N" });
            foreach (long v in dims) shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = v });
            return new ValueInfoProto
            {
                Name = name,
                Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float, Shape = shape } },
            };
        }
    }

    internal static (float[,] Probabilities, string[] Labels) RunOrt(ModelProto model, float[] features, int d, bool fourDimensional = false)
    {
        int n = features.Length / d;
        using var session = new InferenceSession(model.ToByteArray());
        int[] shape = fourDimensional ? [n, d, 1, 1] : [n, d];
        var input = new DenseTensor<float>(features, shape);
        using var results = session.Run([NamedOnnxValue.CreateFromTensor("features", input)]);
        var p = results.First(r => r.Name == "probabilities").AsTensor<float>();
        var l = results.First(r => r.Name == "label").AsTensor<string>();
        var probabilities = new float[n, p.Dimensions[1]];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < p.Dimensions[1]; j++)
                probabilities[i, j] = p[i, j];
        return (probabilities, l.ToArray());
    }
}
