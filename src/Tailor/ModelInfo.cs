using System.Text.Json.Serialization;
using Tailor.Onnx;
using Tailor.Spec;

namespace Tailor;

/// <summary>A description of an updatable model for people and scripts (what <c>tailor info</c> prints).</summary>
public sealed record ModelInfo
{
    public sealed record Tensor(
        [property: JsonPropertyName("name")] string Name,
        [property: JsonPropertyName("type")] string Type,
        [property: JsonPropertyName("shape")] string Shape);

    public sealed record Layer(
        [property: JsonPropertyName("name")] string Name,
        [property: JsonPropertyName("op")] string Op,
        [property: JsonPropertyName("parameters")] IReadOnlyList<string> Parameters,
        [property: JsonPropertyName("parameter_count")] long ParameterCount);

    public sealed record HyperparameterInfo(
        [property: JsonPropertyName("default")] object Default,
        [property: JsonPropertyName("allowed")] object Allowed,
        [property: JsonPropertyName("allowed_text")] string AllowedText);

    /// <summary>What a k-NN head holds (null for the other heads).</summary>
    public sealed record KnnInfo(
        [property: JsonPropertyName("stored_examples")] int StoredExamples,
        [property: JsonPropertyName("k")] int K,
        [property: JsonPropertyName("weighting")] string Weighting,
        [property: JsonPropertyName("metric")] string Metric,
        [property: JsonPropertyName("dimension")] int Dimension);

    [JsonPropertyName("path")] public string? Path { get; init; }
    [JsonPropertyName("spec_version")] public int SpecVersion { get; init; }
    [JsonPropertyName("head")] public string Head { get; init; } = "";
    [JsonPropertyName("inputs")] public IReadOnlyList<Tensor> Inputs { get; init; } = [];
    [JsonPropertyName("outputs")] public IReadOnlyList<Tensor> Outputs { get; init; } = [];
    [JsonPropertyName("preprocessing")] public ImagePreprocessing Preprocessing { get; init; } = new();
    [JsonPropertyName("labels")] public IReadOnlyList<string> Labels { get; init; } = [];
    [JsonPropertyName("capacity")] public int Capacity { get; init; }
    [JsonPropertyName("placeholders")] public IReadOnlyList<string> Placeholders { get; init; } = [];

    /// <summary>The labels the model was last trained on with their photo counts (<see cref="Spec.UpdateSpec.TrainedExamples"/>); null when nothing is recorded.</summary>
    [JsonPropertyName("trained_examples")] public IReadOnlyDictionary<string, int>? TrainedExamples { get; init; }
    [JsonPropertyName("updatable_layers")] public IReadOnlyList<Layer> UpdatableLayers { get; init; } = [];
    [JsonPropertyName("loss")] public LossSpec Loss { get; init; } = new();

    /// <summary>Further weighted loss terms (<see cref="UpdateSpec.AdditionalLosses"/>); null when there are none.</summary>
    [JsonPropertyName("additional_losses")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyList<LossSpec>? AdditionalLosses { get; init; }
    [JsonPropertyName("optimizer")] public string Optimizer { get; init; } = "";
    [JsonPropertyName("hyperparameters")] public IReadOnlyDictionary<string, HyperparameterInfo> Hyperparameters { get; init; } = new Dictionary<string, HyperparameterInfo>();
    /// <summary>The augmentation training uses by default (the update spec's, or the default for a model
    /// that names none), in the list form of <see cref="Images.AugmentationOptions.Parse"/>.</summary>
    [JsonPropertyName("augmentation")] public string Augmentation { get; init; } = "";
    /// <summary>The learning-rate schedule training uses by default ("constant" for a model that names none).</summary>
    [JsonPropertyName("lr_schedule")] public string LearningRateSchedule { get; init; } = "";
    [JsonPropertyName("knn")] public KnnInfo? Knn { get; init; }
    [JsonPropertyName("notes")] public IReadOnlyDictionary<string, string> Notes { get; init; } = new Dictionary<string, string>();

    /// <summary>Describes <paramref name="model"/>.</summary>
    public static ModelInfo Describe(UpdatableModel model)
    {
        var spec = model.Spec;
        var graph = model.Proto.Graph;
        static string TypeName(global::Onnx.ValueInfoProto v) =>
            v.Type?.TensorType is { } t ? ((global::Onnx.TensorProto.Types.DataType)t.ElemType).ToString().ToLowerInvariant() : "?";
        return new ModelInfo
        {
            Path = model.Path,
            SpecVersion = spec.Version,
            Head = spec.Head switch { HeadKind.KNearestNeighbors => "knn", HeadKind.LogisticRegression => "logreg", _ => "nn" },
            Inputs = graph.RealInputs().Select(v => new Tensor(v.Name, TypeName(v), v.ShapeText())).ToList(),
            Outputs = graph.Output.Select(v => new Tensor(v.Name, TypeName(v), v.ShapeText())).ToList(),
            Preprocessing = spec.Preprocessing,
            Labels = spec.Labels.Names,
            Capacity = spec.Labels.Capacity,
            Placeholders = spec.Labels.Placeholders.Select(i => spec.Labels.Names[i]).ToList(),
            TrainedExamples = spec.TrainedExamples,
            UpdatableLayers = spec.UpdatableLayers.Select(l => new Layer(l.Name, l.Op, l.Parameters,
                l.Parameters.Sum(p => graph.FindInitializer(p)?.Dims.Aggregate(1L, (a, d) => a * d) ?? 0))).ToList(),
            Loss = spec.Loss,
            AdditionalLosses = spec.AdditionalLosses,
            Optimizer = spec.Optimizer.ToString().ToLowerInvariant(),
            Hyperparameters = spec.Hyperparameters.ToDictionary(kv => kv.Key, kv => new HyperparameterInfo(
                kv.Value.Kind switch { HyperparameterKind.Bool => kv.Value.Default == 1, HyperparameterKind.Int => (object)(long)kv.Value.Default, _ => kv.Value.Default },
                kv.Value.Kind == HyperparameterKind.Bool ? new { set = new[] { false, true } } : kv.Value.Allowed.Set is { } s ? new { set = s } : new { range = kv.Value.Allowed.Range },
                kv.Value.DescribeAllowed())),
            Augmentation = spec.Augmentation ?? Images.AugmentationOptions.FewShot.ToString(),
            LearningRateSchedule = spec.LearningRateSchedule ?? "constant",
            Knn = spec.Head == HeadKind.KNearestNeighbors && Heads.KnnOnnxExport.HasKnn(model.Proto) && Heads.KnnOnnxExport.Read(model.Proto) is { } knn
                ? new KnnInfo(knn.Count, knn.K, knn.Weighting == Heads.KnnWeighting.Uniform ? "uniform" : "distance", knn.Metric.ToString().ToLowerInvariant(), knn.Dimension)
                : null,
            Notes = spec.Notes,
        };
    }
}
