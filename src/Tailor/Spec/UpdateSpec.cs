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
    /// <remarks>The text is parsed once, when it is set (as the spec is read); <see cref="TrainingAugmentation"/> is the
    /// parsed value, and this is its text form.</remarks>
    /// <exception cref="TailorException">Set to a list that <see cref="Images.AugmentationOptions.Parse"/> refuses.</exception>
    [JsonPropertyName("augmentation")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Augmentation
    {
        get => TrainingAugmentation?.ToString();
        init => TrainingAugmentation = value is null ? null : Images.AugmentationOptions.Parse(value);
    }

    /// <summary>The augmentation training uses when it is not given one, as a value (<see cref="Augmentation"/> is its
    /// text form); null means <see cref="Images.AugmentationOptions.FewShot"/>.</summary>
    [JsonIgnore] public Images.AugmentationOptions? TrainingAugmentation { get; init; }

    /// <summary>
    /// The learning-rate schedule training uses when it is not given one, in the form of
    /// <see cref="Training.Schedules.LearningRateSchedule.Parse(string)"/>: <c>constant</c>, <c>cosine[:MIN_LR]</c> (over
    /// the run's epochs), <c>step:EPOCHS:GAMMA</c> or <c>exp:GAMMA</c>. Null (models written before this field
    /// existed) means constant.
    /// </summary>
    /// <remarks>The text is parsed once, when it is set (as the spec is read); <see cref="Schedule"/> is the parsed value,
    /// and this is its text form.</remarks>
    /// <exception cref="TailorException">Set to a text that <see cref="Training.Schedules.LearningRateSchedule.Parse(string)"/> refuses.</exception>
    [JsonPropertyName("lr_schedule")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? LearningRateSchedule
    {
        get => Schedule?.ToString();
        init => Schedule = value is null ? null : Training.Schedules.LearningRateSchedule.Parse(value);
    }

    /// <summary>The learning-rate schedule training uses when it is not given one, as a value that answers
    /// <see cref="Training.Schedules.LearningRateSchedule.LearningRateAt(int, int, double)"/> for any run length
    /// (<see cref="LearningRateSchedule"/> is its text form); null means constant.</summary>
    [JsonIgnore] public Training.Schedules.LearningRateSchedule? Schedule { get; init; }

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

    /// <summary>Reads and validates the JSON stored in a model: its shape (every field of the JSON type it needs, null only
    /// where a field may be absent), then its consistency (<see cref="Validate"/>). The errors name
    /// <paramref name="source"/> and the field by its JSON path, e.g. <c>hyperparameters.learning_rate.allowed</c>.</summary>
    /// <exception cref="TailorException">Malformed JSON, an unknown version, a field of the wrong type, or an inconsistent spec.</exception>
    public static UpdateSpec FromJson(string json, string source)
    {
        string where = Where(source);
        UpdateSpec? spec;
        int? capacity = null;
        try
        {
            using var doc = JsonDocument.Parse(json);
            var root = doc.RootElement;
            // The version first: a newer spec may have fields of other shapes.
            if (root.ValueKind == JsonValueKind.Object && root.TryGetProperty("version", out var v)
                && v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out int version) && version > CurrentVersion)
                throw new TailorException($"'{source}' has update spec version {version}; this Tailor reads up to version {CurrentVersion}. Update Tailor.");
            SpecJsonShape.Check(root, where);
            // 'capacity' is written for people and scripts (it is the number of names) and not read back.
            if (root.TryGetProperty("labels", out var labels) && labels.ValueKind == JsonValueKind.Object && labels.TryGetProperty("capacity", out var c))
                capacity = c.GetInt32();
            try { spec = root.Deserialize<UpdateSpec>(JsonOptions); }
            catch (TailorException e)
            {
                // Thrown by the augmentation's or the schedule's setter, which parse them as the spec is read.
                throw new TailorException($"{where}the update spec's training defaults are invalid: {e.Message}", e);
            }
        }
        catch (JsonException e)
        {
            throw new TailorException($"'{source}' has a malformed update spec ({MetadataKey}): {e.Message}", e);
        }

        if (spec is null) throw new TailorException($"'{source}' has an empty update spec ({MetadataKey}).");
        if (spec.Version < 1)
            throw new TailorException($"{where}the update spec's 'version' is {spec.Version}; versions start at 1.");
        if (capacity is { } cap && cap != spec.Labels.Names.Count)
            throw new TailorException($"{where}the update spec's 'labels.capacity' is {cap}, but 'labels.names' has {spec.Labels.Names.Count} names; " +
                "the capacity is the number of slots, one name each.");
        spec.Validate(source);
        return spec;
    }

    private static string Where(string source) => source.Length > 0 ? $"'{source}': " : "";

    /// <summary>The range of an integer field of the spec by its JSON path, when it has one narrower than int's.</summary>
    internal static (long Min, long Max)? IntegerRange(string field) => field switch
    {
        "preprocessing.width" or "preprocessing.height" => (1, ImagePreprocessing.MaxSide),
        "version" => (1, CurrentVersion),
        _ => null,
    };

    /// <summary>A key of the spec's JSON as part of a field's path in a message, cut to 60 characters.</summary>
    internal static string PathSegment(string key) => key.Length <= 60 ? key : key[..57] + "…";

    /// <summary>A string from the spec for a message: quoted, and cut to 60 characters (a label can be megabytes).</summary>
    internal static string Quote(string? text) =>
        text is null ? "null" : text.Length <= 60 ? $"'{text}'" : $"'{text[..57]}…' ({text.Length:N0} characters)";

    /// <summary>Returns the hyperparameter or throws naming the known ones.</summary>
    public Hyperparameter GetHyperparameter(string name) =>
        Hyperparameters.TryGetValue(name, out var h) ? h
        : throw new TailorException($"This model has no hyperparameter '{name}'; it has: {string.Join(", ", Hyperparameters.Keys)}.");

    /// <summary>The default of a hyperparameter, or <paramref name="fallback"/> when the model does not define it.</summary>
    public double DefaultOr(string name, double fallback) => Hyperparameters.TryGetValue(name, out var h) ? h.Default : fallback;

    /// <summary>
    /// Checks internal consistency: names that are not empty, the image size (1 to <see cref="ImagePreprocessing.MaxSide"/>)
    /// and a finite positive scale, at least one label and no two slots of the same name, placeholders among the slots,
    /// allowed values that are a non-empty set or a finite range [min, max] within what the hyperparameter can take
    /// (a learning rate finite and ≥ 0, epochs 1 to <see cref="HyperparameterDomain.MaxEpochs"/>…; see
    /// <see cref="HyperparameterDomain"/>), every default within its own allowed values, and the loss terms. Whether
    /// the names exist in the ONNX graph is checked when a model loads.
    /// </summary>
    /// <exception cref="TailorException">What is inconsistent, naming <paramref name="source"/>, the field and what is allowed.</exception>
    public void Validate(string source)
    {
        string where = Where(source);
        TailorException Bad(string field, string problem) => new($"{(where.Length > 0 ? where + "the" : "The")} update spec's '{field}' {problem}.");

        foreach (var (field, value) in new[] { ("input", Input), ("probabilities", ProbabilitiesOutput), ("label_output", LabelOutput),
                     ("features", Features), ("classifier", Classifier) })
            if (string.IsNullOrEmpty(value)) throw Bad(field, "is empty; it must name a tensor or node of the graph");
        if (Preprocessing is null) throw Bad("preprocessing", "is missing");
        foreach (var (field, value) in new[] { ("preprocessing.width", Preprocessing.Width), ("preprocessing.height", Preprocessing.Height) })
            if (value is < 1 or > ImagePreprocessing.MaxSide)
                throw Bad(field, $"is {value}; allowed: 1 to {ImagePreprocessing.MaxSide} pixels");
        if (!float.IsFinite(Preprocessing.Scale) || Preprocessing.Scale <= 0)
            throw Bad("preprocessing.scale", $"is {Preprocessing.Scale.ToString(System.Globalization.CultureInfo.InvariantCulture)}; it must be a finite number > 0");

        ValidateLabels(Bad);
        ValidateHyperparameters(Bad, source);
        // The augmentation and schedule were parsed when they were set (FromJson reports a text that does not parse).
        TrainingAugmentation?.Validate();
        if (Loss is null) throw Bad("loss", "is missing");
        var terms = LossTerms;
        for (int i = 0; i < terms.Count; i++)
        {
            var term = terms[i];
            if (term is null) throw Bad($"additional_losses[{i - 1}]", "is null");
            if (!double.IsFinite(term.Weight) || term.Weight < 0)
                throw new TailorException($"{where}The loss term {term} has weight {term.Weight}; weights must be finite and ≥ 0.");
            if (string.IsNullOrEmpty(term.Input))
                throw new TailorException($"{where}A {term.Kind} loss term names no input tensor.");
        }
        if (terms.All(t => t.Weight == 0))
            throw new TailorException($"{where}Every loss term has weight 0 ({string.Join(", ", terms)}); at least one must be positive.");
        if (UpdatableLayers is null) throw Bad("updatable_layers", "is missing");
        for (int i = 0; i < UpdatableLayers.Count; i++)
        {
            var layer = UpdatableLayers[i];
            if (layer is null) throw Bad($"updatable_layers[{i}]", "is null");
            if (string.IsNullOrEmpty(layer.Name)) throw Bad($"updatable_layers[{i}].name", "is empty");
            if (layer.Parameters is null || layer.Parameters.Any(string.IsNullOrEmpty))
                throw Bad($"updatable_layers[{i}].parameters", "lists an empty name");
        }
        if (TrainedExamples is not null)
            foreach (var (label, count) in TrainedExamples)
                if (count < 0) throw Bad($"trained_examples.{PathSegment(label)}", $"is {count}; a number of photos is ≥ 0");
    }

    private void ValidateLabels(Func<string, string, TailorException> bad)
    {
        if (Labels?.Names is null) throw bad("labels.names", "is missing");
        var names = Labels.Names;
        if (names.Count == 0) throw bad("labels.names", "is empty; a model has at least one slot (capacity ≥ 1)");
        var slotOf = new Dictionary<string, int>(names.Count);
        for (int i = 0; i < names.Count; i++)
        {
            string name = ClassLabels.Normalize(names[i] ?? "");
            if (name.Length == 0) throw bad($"labels.names[{i}]", "is empty; every slot has a name");
            if (!slotOf.TryAdd(name, i))
                throw bad($"labels.names[{i}]", $"is {Quote(name)}, the name of slots {slotOf[name]} and {i}; every slot's name is different");
        }
        if (Labels.Placeholders is null) throw bad("labels.placeholders", "is missing");
        var free = new HashSet<int>();
        for (int i = 0; i < Labels.Placeholders.Count; i++)
        {
            int slot = Labels.Placeholders[i];
            if (slot < 0 || slot >= names.Count)
                throw bad($"labels.placeholders[{i}]", $"is {slot}; the slots are 0 to {names.Count - 1}");
            if (!free.Add(slot)) throw bad($"labels.placeholders[{i}]", $"lists slot {slot} twice");
        }
    }

    private void ValidateHyperparameters(Func<string, string, TailorException> bad, string source)
    {
        if (Hyperparameters is null) throw bad("hyperparameters", "is missing");
        foreach (var (name, h) in Hyperparameters)
        {
            string field = "hyperparameters." + name;
            if (h is null) throw bad(field, "is null");
            if (h.Allowed is null) throw bad(field + ".allowed", "is missing");
            if (h.Allowed.Problem() is { } problem) throw bad(field + ".allowed", problem);
            var domain = HyperparameterDomain.Of(name);
            if (domain is not null && h.Kind != domain.Kind)
                throw bad(field + ".kind", $"is {h.Kind}; {name} is {(domain.Kind == HyperparameterKind.Int ? "an Int" : "a " + domain.Kind)}");
            // A range may start at an excluded bound (ε in [0, 1]: models prepared before ε had to be positive say so);
            // its values and the default may not be that bound.
            var bounds = h.Allowed.Set is null && domain is not null ? domain with { MinExclusive = false, Kind = HyperparameterKind.Real } : domain;
            if (domain is not null && !domain.Contains(h.Default))
                throw bad(field + ".default", $"is {AllowedValues.Format(h.Default)}; {name} must be {domain}");
            foreach (double v in h.Allowed.Values)
            {
                if (bounds is not null && !bounds.Contains(v))
                    throw bad(field + ".allowed", $"is {h.Allowed}, which allows {AllowedValues.Format(v)}; {name} must be {domain}");
                if (h.Kind == HyperparameterKind.Int && v is < int.MinValue or > int.MaxValue)
                    throw bad(field + ".allowed", $"is {h.Allowed}, which allows {AllowedValues.Format(v)}; an Int hyperparameter is from {int.MinValue} to {int.MaxValue}");
            }
            try { h.Check(name, h.Default); }
            catch (TailorException e)
            {
                string what = e.Message.Replace(" is not allowed by this model", " is outside its own allowed values");
                throw new TailorException(source.Length > 0 ? $"'{source}': the update spec's '{field}.default' is invalid: {what}" : $"The default {what}");
            }
        }
    }
}
