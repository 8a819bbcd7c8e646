using System.Text.Json;
using System.Text.Json.Serialization;

namespace Tailor.Spec;

/// <summary>Which loss training minimizes.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<LossKind>))]
public enum LossKind
{
    /// <summary>Categorical cross-entropy −log p[true label] on the softmax output; the true label is
    /// given as a label string or a slot index.</summary>
    [JsonStringEnumMemberName("categorical_cross_entropy")] CategoricalCrossEntropy,
    /// <summary>Mean squared error between the output and a target tensor.</summary>
    [JsonStringEnumMemberName("mean_squared_error")] MeanSquaredError,
}

/// <summary>Which optimizer training uses.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<OptimizerKind>))]
public enum OptimizerKind
{
    [JsonStringEnumMemberName("sgd")] Sgd,
    [JsonStringEnumMemberName("adam")] Adam,
}

/// <summary>The kind of classifier head the model carries.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<HeadKind>))]
public enum HeadKind
{
    /// <summary>Fully-connected layer + softmax, trained by SGD or Adam on mini-batches.</summary>
    [JsonStringEnumMemberName("nn")] NeuralNetwork,
    /// <summary>Multinomial logistic regression trained by L-BFGS, in the same fully-connected + softmax layout.</summary>
    [JsonStringEnumMemberName("logreg")] LogisticRegression,
    /// <summary>k-nearest neighbours over stored examples.</summary>
    [JsonStringEnumMemberName("knn")] KNearestNeighbors,
}

/// <summary>A loss term: its kind, the tensor it reads, the training input that holds the target, and its weight
/// in the sum training minimizes.</summary>
public sealed record LossSpec
{
    [JsonPropertyName("type")] public LossKind Kind { get; init; } = LossKind.CategoricalCrossEntropy;

    /// <summary>The tensor the loss reads: the softmax probabilities for cross-entropy; for mean squared error,
    /// any tensor with one value per label slot per example (compared with the label's one-hot vector).</summary>
    [JsonPropertyName("input")] public string Input { get; init; } = "probabilities";

    /// <summary>The name of the training target: a label string or slot index for cross-entropy, a
    /// tensor for mean squared error.</summary>
    [JsonPropertyName("target")] public string Target { get; init; } = "label";

    /// <summary>The term's weight in the loss training minimizes, Σ weight · term (finite, ≥ 0). Default 1.</summary>
    [JsonPropertyName("weight")] public double Weight { get; init; } = 1;

    /// <summary>
    /// Parses loss terms in the form <c>tailor prepare --loss</c> takes: <c>TERM[,TERM…]</c>, each
    /// <c>KIND[@TENSOR][:WEIGHT]</c> with KIND <c>cross-entropy</c> (or <c>cce</c>) or <c>mse</c>, e.g.
    /// <c>cross-entropy,mse:0.5</c>. A term without @TENSOR gets an empty <see cref="Input"/>, which
    /// <see cref="Building.ModelBuilder.ConfigureTraining"/> reads as the model's probabilities output; the weight defaults to 1.
    /// </summary>
    /// <exception cref="TailorException">An unknown kind, a weight that is not a finite number ≥ 0, or an empty term.</exception>
    public static IReadOnlyList<LossSpec> ParseTerms(string text)
    {
        var terms = new List<LossSpec>();
        foreach (string raw in text.Split(',', StringSplitOptions.TrimEntries))
        {
            if (raw.Length == 0)
                throw new TailorException($"The loss '{text}' has an empty term; use KIND[@TENSOR][:WEIGHT], e.g. cross-entropy,mse:0.5.");
            string term = raw;
            double weight = 1;
            int colon = term.LastIndexOf(':');
            if (colon >= 0)
            {
                string w = term[(colon + 1)..];
                if (!double.TryParse(w, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out weight)
                    || !double.IsFinite(weight) || weight < 0)
                    throw new TailorException($"The loss term '{raw}' has weight '{w}'; a weight is a finite number ≥ 0.");
                term = term[..colon];
            }
            string input = "";
            int at = term.IndexOf('@');
            if (at >= 0)
            {
                input = term[(at + 1)..];
                if (input.Length == 0) throw new TailorException($"The loss term '{raw}' names no tensor after '@'.");
                term = term[..at];
            }
            var kind = term.ToLowerInvariant() switch
            {
                "cross-entropy" or "cce" or "categorical_cross_entropy" => LossKind.CategoricalCrossEntropy,
                "mse" or "mean_squared_error" => LossKind.MeanSquaredError,
                _ => throw new TailorException($"The loss term '{raw}' has kind '{term}'; allowed: cross-entropy (cce) or mse."),
            };
            terms.Add(new LossSpec { Kind = kind, Input = input, Target = kind == LossKind.CategoricalCrossEntropy ? "label" : "target", Weight = weight });
        }
        return terms;
    }

    /// <summary>The short form <c>tailor prepare --loss</c> takes and <c>tailor info</c> shows: KIND@TENSOR:WEIGHT.</summary>
    public override string ToString() =>
        $"{(Kind == LossKind.MeanSquaredError ? "mse" : "cross-entropy")}@{Input}:{Weight.ToString(System.Globalization.CultureInfo.InvariantCulture)}";
}

/// <summary>A layer whose parameters training changes.</summary>
public sealed record UpdatableLayer
{
    /// <summary>The ONNX node name.</summary>
    [JsonPropertyName("name")] public required string Name { get; init; }

    /// <summary>The ONNX op type (Gemm, Conv, MatMul…).</summary>
    [JsonPropertyName("op")] public required string Op { get; init; }

    /// <summary>The initializer names of its parameters (weight, then bias when present).</summary>
    [JsonPropertyName("parameters")] public required IReadOnlyList<string> Parameters { get; init; }
}

/// <summary>
/// The update specification of an updatable model: everything training needs to know, stored as
/// versioned JSON in the ONNX model's <c>metadata_props</c> under <see cref="MetadataKey"/>. Plain ONNX
/// Runtime ignores it; Tailor reads it.
/// </summary>
public sealed record UpdateSpec
{
    /// <summary>The metadata_props key holding the JSON.</summary>
    public const string MetadataKey = "tailor.update_spec";

    /// <summary>The format version this code writes and reads.</summary>
    public const int CurrentVersion = 1;

    [JsonPropertyName("version")] public int Version { get; init; } = CurrentVersion;

    /// <summary>The graph input that takes the image batch.</summary>
    [JsonPropertyName("input")] public string Input { get; init; } = "image";

    /// <summary>The graph output with per-slot probabilities [N, capacity].</summary>
    [JsonPropertyName("probabilities")] public string ProbabilitiesOutput { get; init; } = "probabilities";

    /// <summary>The graph output with the top label as a string [N].</summary>
    [JsonPropertyName("label_output")] public string LabelOutput { get; init; } = "label";

    /// <summary>The tensor the backbone produces (the classifier reads it).</summary>
    [JsonPropertyName("features")] public string Features { get; init; } = "features";

    /// <summary>The classifier's node name.</summary>
    [JsonPropertyName("classifier")] public string Classifier { get; init; } = "classifier";

    [JsonPropertyName("head")] public HeadKind Head { get; init; } = HeadKind.NeuralNetwork;

    [JsonPropertyName("preprocessing")] public ImagePreprocessing Preprocessing { get; init; } = new();

    [JsonPropertyName("labels")] public ClassLabels Labels { get; init; } = new();

    [JsonPropertyName("updatable_layers")] public IReadOnlyList<UpdatableLayer> UpdatableLayers { get; init; } = [];

    /// <summary>The main loss term: the one whose output gives the training accuracy.</summary>
    [JsonPropertyName("loss")] public LossSpec Loss { get; init; } = new();

    /// <summary>
    /// Further loss terms, each with its weight: training minimizes <c>Loss.Weight · Loss + Σ weight · term</c>
    /// (Core ML's update spec can list several losses but cannot weight them). Null or empty: the main loss alone.
    /// </summary>
    [JsonPropertyName("additional_losses")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyList<LossSpec>? AdditionalLosses { get; init; }

    /// <summary>Every loss term, the main one first.</summary>
    [JsonIgnore] public IReadOnlyList<LossSpec> LossTerms => [Loss, .. AdditionalLosses ?? []];

    [JsonPropertyName("optimizer")] public OptimizerKind Optimizer { get; init; } = OptimizerKind.Adam;

    /// <summary>Every hyperparameter with its default and allowed values, by name (see <see cref="HyperparameterNames"/>).</summary>
    [JsonPropertyName("hyperparameters")] public IReadOnlyDictionary<string, Hyperparameter> Hyperparameters { get; init; } = new Dictionary<string, Hyperparameter>();

    /// <summary>
    /// The augmentation training uses when it is not given one, in the list form of
    /// <see cref="Images.AugmentationOptions.Parse"/> (e.g. <c>"flip,rotate:15,crop:0.8,variants:4"</c>, or
    /// <c>"none"</c>). Null (models written before this field existed) means
    /// <see cref="Images.AugmentationOptions.FewShot"/>.
    /// </summary>
    [JsonPropertyName("augmentation")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Augmentation { get; init; }

    /// <summary>
    /// The learning-rate schedule training uses when it is not given one, in the form of
    /// <see cref="Training.Schedules.LearningRateSchedule.Parse"/>: <c>constant</c>, <c>cosine[:MIN_LR]</c> (over
    /// the run's epochs), <c>step:EPOCHS:GAMMA</c> or <c>exp:GAMMA</c>. Null (models written before this field
    /// existed) means constant.
    /// </summary>
    [JsonPropertyName("lr_schedule")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? LearningRateSchedule { get; init; }

    /// <summary>
    /// The labels the model was last trained on, each with its number of photos (augmented variants not
    /// counted; replayed kept examples counted), in slot order. Training whose data lacks one of them is refused
    /// unless it replays kept examples or is told to forget (DESIGN decision 8). Null: nothing recorded (a
    /// prepared model that learned nothing yet, or one written before this field existed), so nothing can be
    /// forgotten. A k-NN records the examples it stores.
    /// </summary>
    [JsonPropertyName("trained_examples")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyDictionary<string, int>? TrainedExamples { get; init; }

    /// <summary>Free-form notes about where the model came from (base model, feature normalization…).</summary>
    [JsonPropertyName("notes")] public IReadOnlyDictionary<string, string> Notes { get; init; } = new Dictionary<string, string>();

    private static readonly JsonSerializerOptions JsonOptions = new()
    {
        WriteIndented = false,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    /// <summary>The JSON stored in the model.</summary>
    public string ToJson() => JsonSerializer.Serialize(this, JsonOptions);

    /// <summary>Reads and validates the JSON stored in a model.</summary>
    /// <exception cref="TailorException">Malformed JSON, an unknown version or an inconsistent spec.</exception>
    public static UpdateSpec FromJson(string json, string source)
    {
        UpdateSpec? spec;
        try
        {
            using var doc = JsonDocument.Parse(json);
            if (doc.RootElement.TryGetProperty("version", out var v) && v.TryGetInt32(out int version) && version > CurrentVersion)
                throw new TailorException($"'{source}' has update spec version {version}; this Tailor reads up to version {CurrentVersion}. Update Tailor.");
            spec = JsonSerializer.Deserialize<UpdateSpec>(json, JsonOptions);
        }
        catch (JsonException e)
        {
            throw new TailorException($"'{source}' has a malformed update spec ({MetadataKey}): {e.Message}", e);
        }
        if (spec is null) throw new TailorException($"'{source}' has an empty update spec ({MetadataKey}).");
        spec.Validate(source);
        return spec;
    }

    /// <summary>Returns the hyperparameter or throws naming the known ones.</summary>
    public Hyperparameter GetHyperparameter(string name) =>
        Hyperparameters.TryGetValue(name, out var h) ? h
        : throw new TailorException($"This model has no hyperparameter '{name}'; it has: {string.Join(", ", Hyperparameters.Keys)}.");

    /// <summary>The default of a hyperparameter, or <paramref name="fallback"/> when the model does not define it.</summary>
    public double DefaultOr(string name, double fallback) => Hyperparameters.TryGetValue(name, out var h) ? h.Default : fallback;

    /// <summary>Checks internal consistency: every default within its own allowed values, labels, layers.</summary>
    /// <exception cref="TailorException">What is inconsistent, naming the value and what is allowed.</exception>
    public void Validate(string source)
    {
        string where = source.Length > 0 ? $"'{source}': " : "";
        foreach (var (name, h) in Hyperparameters)
        {
            h.Allowed.Validate(name);
            try { h.Check(name, h.Default); }
            catch (TailorException e)
            {
                string what = e.Message.Replace(" is not allowed by this model", " is outside its own allowed values");
                throw new TailorException(source.Length > 0 ? $"'{source}': the default {what}" : $"The default {what}");
            }
        }
        try
        {
            if (Augmentation is not null) Images.AugmentationOptions.Parse(Augmentation);
            if (LearningRateSchedule is not null) Training.Schedules.LearningRateSchedule.Parse(LearningRateSchedule, 1);
        }
        catch (TailorException e)
        {
            throw new TailorException(source.Length > 0 ? $"'{source}': the update spec's training defaults are invalid: {e.Message}" : e.Message, e);
        }
        foreach (var term in LossTerms)
        {
            if (!double.IsFinite(term.Weight) || term.Weight < 0)
                throw new TailorException($"{where}The loss term {term} has weight {term.Weight}; weights must be finite and ≥ 0.");
            if (string.IsNullOrEmpty(term.Input))
                throw new TailorException($"{where}A {term.Kind} loss term names no input tensor.");
        }
        if (LossTerms.All(t => t.Weight == 0))
            throw new TailorException($"{where}Every loss term has weight 0 ({string.Join(", ", LossTerms)}); at least one must be positive.");
        if (Labels.Names.Count == 0 && Head != HeadKind.KNearestNeighbors)
            throw new TailorException($"{where}The update spec has no class labels.");
        if (Labels.Placeholders.Any(i => i < 0 || i >= Labels.Capacity))
            throw new TailorException($"{where}A placeholder slot is outside 0..{Labels.Capacity - 1}.");
    }
}
