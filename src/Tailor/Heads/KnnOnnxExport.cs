using System.Text.Json;
using System.Text.Json.Serialization;
using Google.Protobuf;
using Onnx;
using Tailor.Onnx;
using static Tailor.Onnx.OnnxGraph;

namespace Tailor.Heads;

/// <summary>Options for <see cref="KnnOnnxExport.Export(string, string, KNearestNeighbors, KnnExportOptions?)"/>.</summary>
public sealed record KnnExportOptions
{
    /// <summary>The tensor holding the features, shape [N, D] or [N, D, 1, 1] (flattened). Default: the graph's
    /// only output.</summary>
    public string? FeatureTensor { get; init; }

    /// <summary>Name of the float output [N, L] of per-label probabilities. Default <c>probabilities</c>.</summary>
    public string ProbabilitiesOutput { get; init; } = "probabilities";

    /// <summary>Name of the string output [N] holding the top label. Default <c>label</c>.</summary>
    public string LabelOutput { get; init; } = "label";

    /// <summary>The labels of the probabilities' columns, in order: the contract with the app that indexes them. Every label
    /// of the k-NN must be among them (compared after NFC normalization); a label without stored examples (a free
    /// placeholder slot, say) gets probability exactly 0 and is never the top label. Default: the labels of the k-NN head the
    /// model already holds, in their order, then the k-NN's other labels in the order they first appeared.</summary>
    public IReadOnlyList<string>? Labels { get; init; }
}

/// <summary>
/// Writes a <see cref="KNearestNeighbors"/> head into an ONNX model as standard ai.onnx operators, so plain
/// ONNX Runtime predicts with it, and reads the stored examples back from a model Tailor wrote.
/// </summary>
/// <remarks>
/// <para><b>Graph appended</b> after the feature tensor F (all names start with <c>tailor_knn/</c>):
/// x = Flatten(F); distances d [N, n] to the n stored examples E — Euclidean:
/// d = √max(0, ‖x−μ‖² − 2·(x−μ)·(E−μ)ᵀ + ‖e−μ‖²), where μ is the mean stored example (centering changes
/// no distance but cuts the float cancellation of the expansion); cosine: d = max(0, 1 − x̂·Êᵀ) with
/// v̂ = v / (‖v‖ + 1e-12); TopK smallest k' = min(k, n) (ties: lower index, i.e. added first); weights 1 or
/// 1/(d + ε); scores [N, L] = weights · Gather(onehot [n, L], indices); probabilities = scores / row sum;
/// label = Gather(labels, ArgMax(probabilities)) (ties: first label). The columns follow <see cref="KnnExportOptions.Labels"/>
/// (an updatable model's slots, placeholders included): a column no stored example has stays 0. — ONNX Runtime runs Gather on strings.
/// Row sums use MatMul with a ones vector rather than ReduceSum, whose axes moved from attribute to input
/// at opset 13; TopK's k is an attribute before opset 10 and <c>largest</c> exists only from opset 11, so
/// older opsets negate the distances. Opsets 7 (numpy broadcasting) and later are supported.</para>
/// <para><b>Precision.</b> The managed <see cref="KNearestNeighbors.Predict"/> computes distances directly;
/// the graph's expansion resolves a distance near 0 only to about √(ulp(‖x−μ‖²)), so for a query that
/// coincides with a stored example under inverse-distance weighting the two give slightly different
/// probabilities (the same label).</para>
/// <para><b>Stored examples</b>: initializer <c>tailor_knn/examples</c> [n, D] (the raw features),
/// <c>tailor_knn/onehot</c> [n, L] (label column of each), <c>tailor_knn/labels</c> [L] (strings, the columns), and the metadata
/// entry <see cref="MetadataKey"/> holding JSON {version, k, weighting, metric, dimension, count, labels,
/// featureTensor, outputs, removedOutputs}. The original graph outputs are replaced by the two new outputs and
/// kept (serialized) in the JSON so <see cref="RemoveHead"/> restores the backbone exactly.</para>
/// </remarks>
public static class KnnOnnxExport
{
    /// <summary>Metadata key of the k-NN description.</summary>
    public const string MetadataKey = "tailor.knn";

    /// <summary>Writes to <paramref name="outputPath"/> (atomically) the ONNX model at <paramref name="modelPath"/> with
    /// <paramref name="knn"/> appended after its feature tensor. A k-NN head already present (written by Tailor) is replaced.</summary>
    /// <exception cref="TailorException">The model cannot be read; the k-NN is empty; the feature tensor is not found or
    /// ambiguous; an output name is already used; the model's ai.onnx opset is below 7; a label of the k-NN is not among
    /// <see cref="KnnExportOptions.Labels"/>, or those repeat a label.</exception>
    public static void Export(string modelPath, string outputPath, KNearestNeighbors knn, KnnExportOptions? options = null) =>
        OnnxModelFile.Write(Export(OnnxModelFile.Read(modelPath), knn, options), outputPath);

    /// <summary>Whether <paramref name="model"/> holds a k-NN head written by Tailor.</summary>
    public static bool HasKnn(UpdatableModel model) => HasKnn(model.Proto);

    /// <summary>Reads the k-NN head (settings and stored examples) back from a model Tailor wrote.</summary>
    /// <exception cref="TailorException">The model holds no Tailor k-NN, or its description and initializers disagree.</exception>
    public static KNearestNeighbors Read(UpdatableModel model) => Read(model.Proto);

    private const string P = "tailor_knn/";
    private const string ExamplesName = P + "examples";
    private const string OneHotName = P + "onehot";
    private const string LabelsName = P + "labels";

    /// <summary>Returns a copy of <paramref name="model"/> with <paramref name="knn"/> appended after its feature
    /// tensor. A k-NN head already present (written by Tailor) is replaced.</summary>
    /// <exception cref="TailorException">The k-NN is empty; the feature tensor is not found or ambiguous; an
    /// output name is already used; the model's ai.onnx opset is below 7; a label of the k-NN is not among
    /// <see cref="KnnExportOptions.Labels"/>, or those repeat a label.</exception>
    internal static ModelProto Export(ModelProto model, KNearestNeighbors knn, KnnExportOptions? options = null)
    {
        options ??= new KnnExportOptions();
        if (knn.Count == 0)
            throw new TailorException("The k-NN holds no examples; add some with KNearestNeighbors.Add before exporting it to ONNX.");
        string[] columns = [.. (options.Labels ?? (HasKnn(model) ? ReadMetadata(model).Labels : [])).Select(Data.LabelComparer.Normalize)];
        var labelIndex = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int c = 0; c < columns.Length; c++)
            if (!labelIndex.TryAdd(columns[c], c))
                throw new TailorException($"The k-NN's output labels name '{columns[c]}' twice; each column needs its own label.");
        var missing = knn.Labels.Where(l => !labelIndex.ContainsKey(l)).ToList();
        if (options.Labels is not null && missing.Count > 0)
            throw new TailorException($"The k-NN has examples of {string.Join(", ", missing.Select(l => $"'{l}'"))}, which KnnExportOptions.Labels " +
                $"({string.Join(", ", columns)}) does not name; every stored label needs a column.");
        foreach (string l in missing) labelIndex[l] = labelIndex.Count;
        columns = [.. columns, .. missing];
        ModelProto result = HasKnn(model) ? RemoveHead(model) : model.Clone();
        GraphProto graph = result.Graph ?? throw new TailorException("The model has no graph.");
        int opset = result.Opset();
        if (opset < 7)
            throw new TailorException(
                $"The model's ai.onnx opset is {opset}; the k-NN head needs opset 7 or later (numpy-style broadcasting).");

        string feature = options.FeatureTensor ?? (graph.Output.Count == 1
            ? graph.Output[0].Name
            : throw new TailorException(
                $"The model has {graph.Output.Count} outputs ({string.Join(", ", graph.Output.Select(o => $"'{o.Name}'"))}); " +
                "name the feature tensor with KnnExportOptions.FeatureTensor."));
        HashSet<string> names = graph.TensorNames();
        if (!names.Contains(feature))
            throw new TailorException($"The feature tensor '{feature}' is not in the model's graph.");
        foreach (string output in new[] { options.ProbabilitiesOutput, options.LabelOutput })
            if (names.Contains(output) && !graph.Output.Any(o => o.Name == output))
                throw new TailorException($"The output name '{output}' is already used by a tensor in the model; choose another.");
        if (options.ProbabilitiesOutput == options.LabelOutput)
            throw new TailorException($"The probabilities and label outputs are both named '{options.LabelOutput}'; they must differ.");
        if (names.Any(n => n.StartsWith(P, StringComparison.Ordinal)))
            throw new TailorException($"The model already has tensors named '{P}…' that Tailor did not record; it cannot add a k-NN head.");

        int n = knn.Count, d = knn.Dimension, labels = columns.Length, k = knn.EffectiveK;
        TensorShapeProto.Types.Dimension batch = graph.Output.FirstOrDefault(o => o.Name == feature)?.Type?.TensorType?.Shape?.Dim
            is { Count: > 0 } dims ? dims[0].Clone() : Dim("N");

        var meta = new KnnMetadata
        {
            Version = 1,
            K = knn.K,
            Weighting = knn.Weighting == KnnWeighting.Uniform ? "uniform" : "inverse_distance",
            Metric = knn.Metric == KnnMetric.Euclidean ? "euclidean" : "cosine",
            Dimension = d,
            Count = n,
            Labels = columns,
            FeatureTensor = feature,
            Outputs = [options.ProbabilitiesOutput, options.LabelOutput],
            RemovedOutputs = [.. graph.Output.Select(o => Convert.ToBase64String(o.ToByteArray()))],
        };

        // Initializers.
        float[] examples = new float[n * d];
        float[] onehot = new float[n * labels];
        for (int i = 0; i < n; i++)
        {
            knn.GetFeatures(i).CopyTo(examples.AsSpan(i * d, d));
            onehot[i * labels + labelIndex[knn.GetLabel(i)]] = 1f;
        }
        var init = graph.Initializer;
        init.Add(OnnxTensors.FromFloats(ExamplesName, [n, d], examples));
        init.Add(OnnxTensors.FromFloats(OneHotName, [n, labels], onehot));
        init.Add(OnnxTensors.FromStrings(LabelsName, columns));
        init.Add(OnnxTensors.FromFloats(P + "ones_d", [d, 1], Enumerable.Repeat(1f, d).ToArray()));
        init.Add(OnnxTensors.FromFloats(P + "ones_l", [labels, 1], Enumerable.Repeat(1f, labels).ToArray()));
        init.Add(OnnxTensors.FromInt64s(P + "shape_scores", [2], [-1, labels]));

        var nodes = graph.Node;
        void Add(string op, string[] inputs, string[] outputs, params AttributeProto[] attributes) =>
            nodes.Add(Node(op, P + outputs[0], inputs, outputs, attributes));

        Add("Flatten", [feature], [P + "x"], IntAttr("axis", 1));
        if (knn.Metric == KnnMetric.Euclidean)
        {
            double[] sum = new double[d];
            for (int i = 0; i < n; i++)
                for (int j = 0; j < d; j++)
                    sum[j] += examples[i * d + j];
            init.Add(OnnxTensors.FromFloats(P + "mean", [d], sum.Select(s => (float)(s / n)).ToArray()));
            init.Add(OnnxTensors.FromFloats(P + "minus_two", [], [-2f]));
            Add("Sub", [P + "x", P + "mean"], [P + "xc"]);
            Add("Sub", [ExamplesName, P + "mean"], [P + "ec"]);
            Add("Mul", [P + "xc", P + "xc"], [P + "xc_sq"]);
            Add("MatMul", [P + "xc_sq", P + "ones_d"], [P + "xx"]);            // [N, 1]
            Add("Mul", [P + "ec", P + "ec"], [P + "ec_sq"]);
            Add("MatMul", [P + "ec_sq", P + "ones_d"], [P + "ee_col"]);        // [n, 1]
            Add("Transpose", [P + "ee_col"], [P + "ee"], IntsAttr("perm", 1, 0)); // [1, n]
            Add("Transpose", [P + "ec"], [P + "ec_t"], IntsAttr("perm", 1, 0));   // [D, n]
            Add("MatMul", [P + "xc", P + "ec_t"], [P + "xe"]);                 // [N, n]
            Add("Mul", [P + "xe", P + "minus_two"], [P + "m2xe"]);
            Add("Add", [P + "xx", P + "m2xe"], [P + "d2_partial"]);
            Add("Add", [P + "d2_partial", P + "ee"], [P + "d2"]);
            Add("Relu", [P + "d2"], [P + "d2_clamped"]);                       // rounding can make d² slightly negative
            Add("Sqrt", [P + "d2_clamped"], [P + "dist"]);
        }
        else
        {
            init.Add(OnnxTensors.FromFloats(P + "tiny", [], [KNearestNeighbors.NormEpsilon]));
            init.Add(OnnxTensors.FromFloats(P + "one", [], [1f]));
            foreach (var (src, v) in new[] { (P + "x", "x"), (ExamplesName, "e") })
            {
                Add("Mul", [src, src], [P + v + "_sq"]);
                Add("MatMul", [P + v + "_sq", P + "ones_d"], [P + v + "_ss"]);
                Add("Sqrt", [P + v + "_ss"], [P + v + "_norm"]);
                Add("Add", [P + v + "_norm", P + "tiny"], [P + v + "_den"]);
                Add("Div", [src, P + v + "_den"], [P + v + "_unit"]);
            }
            Add("Transpose", [P + "e_unit"], [P + "e_unit_t"], IntsAttr("perm", 1, 0));
            Add("MatMul", [P + "x_unit", P + "e_unit_t"], [P + "cos"]);
            Add("Sub", [P + "one", P + "cos"], [P + "one_minus_cos"]);
            Add("Relu", [P + "one_minus_cos"], [P + "dist"]);
        }

        // k smallest distances.
        if (opset >= 11)
        {
            init.Add(OnnxTensors.FromInt64s(P + "k", [1], [k]));
            Add("TopK", [P + "dist", P + "k"], [P + "near_dist", P + "near_index"], IntAttr("axis", 1), IntAttr("largest", 0), IntAttr("sorted", 1));
        }
        else
        {
            // No `largest` before opset 11: take the largest negated distances.
            Add("Neg", [P + "dist"], [P + "neg_dist"]);
            if (opset == 10)
            {
                init.Add(OnnxTensors.FromInt64s(P + "k", [1], [k]));
                Add("TopK", [P + "neg_dist", P + "k"], [P + "near_neg_dist", P + "near_index"], IntAttr("axis", 1));
            }
            else
                Add("TopK", [P + "neg_dist"], [P + "near_neg_dist", P + "near_index"], IntAttr("axis", 1), IntAttr("k", k));
            Add("Neg", [P + "near_neg_dist"], [P + "near_dist"]);
        }

        Add("Gather", [OneHotName, P + "near_index"], [P + "near_onehot"], IntAttr("axis", 0)); // [N, k, L]
        if (knn.Weighting == KnnWeighting.Uniform)
        {
            init.Add(OnnxTensors.FromFloats(P + "uniform_w", [1, k], Enumerable.Repeat(1f, k).ToArray()));
            Add("MatMul", [P + "uniform_w", P + "near_onehot"], [P + "scores3"]);           // [N, 1, L]
        }
        else
        {
            init.Add(OnnxTensors.FromFloats(P + "eps", [], [KNearestNeighbors.InverseDistanceEpsilon]));
            init.Add(OnnxTensors.FromInt64s(P + "shape_w", [3], [-1, 1, k]));
            Add("Add", [P + "near_dist", P + "eps"], [P + "near_dist_eps"]);
            Add("Reciprocal", [P + "near_dist_eps"], [P + "w"]);
            Add("Reshape", [P + "w", P + "shape_w"], [P + "w3"]);                             // [N, 1, k]
            Add("MatMul", [P + "w3", P + "near_onehot"], [P + "scores3"]);                   // [N, 1, L]
        }
        Add("Reshape", [P + "scores3", P + "shape_scores"], [P + "scores"]);                 // [N, L]
        Add("MatMul", [P + "scores", P + "ones_l"], [P + "total"]);                          // [N, 1]
        nodes.Add(Node("Div", P + "probabilities", [P + "scores", P + "total"], [options.ProbabilitiesOutput]));
        Add("ArgMax", [options.ProbabilitiesOutput], [P + "top"], IntAttr("axis", 1), IntAttr("keepdims", 0));
        nodes.Add(Node("Gather", P + "label", [LabelsName, P + "top"], [options.LabelOutput], IntAttr("axis", 0)));

        graph.Output.Clear();
        graph.Output.Add(TensorInfo(options.ProbabilitiesOutput, TensorProto.Types.DataType.Float, batch.Clone(), Dim(labels)));
        graph.Output.Add(TensorInfo(options.LabelOutput, TensorProto.Types.DataType.String, batch.Clone()));

        result.SetMetadata(MetadataKey, JsonSerializer.Serialize(meta, KnnJson.Default.KnnMetadata));
        return result;
    }

    /// <summary>Whether <paramref name="model"/> holds a k-NN head written by Tailor.</summary>
    internal static bool HasKnn(ModelProto model) => model.GetMetadata(MetadataKey) is not null;

    /// <summary>Reads the k-NN head (settings and stored examples) back from a model written by <see cref="Export(ModelProto, KNearestNeighbors, KnnExportOptions?)"/>.
    /// Adding examples to the result and exporting again onto the same model extends the stored set.</summary>
    /// <exception cref="TailorException">The model holds no Tailor k-NN, or its description and initializers disagree.</exception>
    internal static KNearestNeighbors Read(ModelProto model)
    {
        KnnMetadata meta = ReadMetadata(model);
        KnnWeighting weighting = meta.Weighting switch
        {
            "uniform" => KnnWeighting.Uniform,
            "inverse_distance" => KnnWeighting.InverseDistance,
            _ => throw new TailorException($"The model's k-NN weighting '{meta.Weighting}' is unknown; expected 'uniform' or 'inverse_distance'."),
        };
        KnnMetric metric = meta.Metric switch
        {
            "euclidean" => KnnMetric.Euclidean,
            "cosine" => KnnMetric.Cosine,
            _ => throw new TailorException($"The model's k-NN metric '{meta.Metric}' is unknown; expected 'euclidean' or 'cosine'."),
        };
        var knn = new KNearestNeighbors(meta.Dimension, meta.K, weighting, metric);
        GraphProto graph = model.Graph;
        float[] examples = OnnxTensors.ToFloats(KnnInitializer(graph, ExamplesName));
        float[] onehot = OnnxTensors.ToFloats(KnnInitializer(graph, OneHotName));
        int n = meta.Count, d = meta.Dimension, labels = meta.Labels.Length;
        if (examples.Length != n * d || onehot.Length != n * labels)
            throw new TailorException(
                $"The model's k-NN initializers do not match its description: {examples.Length} example values and " +
                $"{onehot.Length} one-hot values for {n} examples of length {d} and {labels} labels.");
        for (int i = 0; i < n; i++)
        {
            int label = onehot.AsSpan(i * labels, labels).IndexOf(1f);
            if (label < 0)
                throw new TailorException($"The model's k-NN example {i} has no label in '{OneHotName}'.");
            knn.Add(examples.AsSpan(i * d, d), meta.Labels[label]);
        }
        return knn;
    }

    /// <summary>Returns a copy of <paramref name="model"/> without the Tailor k-NN head: its nodes, initializers,
    /// outputs and metadata removed and the original graph outputs restored.</summary>
    /// <exception cref="TailorException">The model holds no Tailor k-NN.</exception>
    internal static ModelProto RemoveHead(ModelProto model)
    {
        KnnMetadata meta = ReadMetadata(model);
        ModelProto result = model.Clone();
        GraphProto graph = result.Graph;
        graph.RemoveWhere(name => name.StartsWith(P, StringComparison.Ordinal));
        graph.Output.Clear();
        foreach (string b64 in meta.RemovedOutputs)
            graph.Output.Add(ValueInfoProto.Parser.ParseFrom(Convert.FromBase64String(b64)));
        var keepMeta = result.MetadataProps.Where(p => p.Key != MetadataKey).ToList();
        result.MetadataProps.Clear();
        result.MetadataProps.AddRange(keepMeta);
        return result;
    }

    private static KnnMetadata ReadMetadata(ModelProto model)
    {
        string json = model.GetMetadata(MetadataKey)
            ?? throw new TailorException($"The model holds no k-NN written by Tailor (no '{MetadataKey}' metadata entry).");
        KnnMetadata? meta;
        try
        {
            meta = JsonSerializer.Deserialize(json, KnnJson.Default.KnnMetadata);
        }
        catch (JsonException e)
        {
            throw new TailorException($"The model's '{MetadataKey}' metadata is not valid JSON: {e.Message}", e);
        }
        if (meta is null || meta.Version != 1)
            throw new TailorException($"The model's '{MetadataKey}' metadata has version {meta?.Version}; this Tailor reads version 1.");
        return meta;
    }

    private static TensorProto KnnInitializer(GraphProto graph, string name) =>
        graph.FindInitializer(name)
        ?? throw new TailorException($"The model's k-NN initializer '{name}' is missing.");
}

internal sealed class KnnMetadata
{
    public int Version { get; set; }
    public int K { get; set; }
    public string Weighting { get; set; } = "";
    public string Metric { get; set; } = "";
    public int Dimension { get; set; }
    public int Count { get; set; }
    public string[] Labels { get; set; } = [];
    public string FeatureTensor { get; set; } = "";
    public string[] Outputs { get; set; } = [];
    public string[] RemovedOutputs { get; set; } = [];
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(KnnMetadata))]
internal sealed partial class KnnJson : JsonSerializerContext;
