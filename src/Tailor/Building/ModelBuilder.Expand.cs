using Onnx;
using Tailor.Onnx;
using Tailor.Spec;
using DataType = Onnx.TensorProto.Types.DataType;

namespace Tailor.Building;

/// <summary>Options for <see cref="ModelBuilder.Expand"/>.</summary>
public sealed record ExpandOptions
{
    /// <summary>The new number of output slots; must be at least the current one. Default <see cref="TrainingDefaults.Capacity"/>.</summary>
    public int Capacity { get; init; } = TrainingDefaults.Capacity;

    /// <summary>Names for the classifier's existing classes (a model without an update spec only;
    /// default class0, class1…).</summary>
    public IReadOnlyList<string>? Labels { get; init; }

    /// <summary>The classifier layer (a model without an update spec only; default: the last Gemm,
    /// MatMul or 1×1 Conv before the output).</summary>
    public string? ClassifierLayer { get; init; }

    /// <summary>Placeholder name prefix. Default "user".</summary>
    public string PlaceholderPrefix { get; init; } = "user";

    /// <summary>Image settings for a model without an update spec (size defaults to the model's input).</summary>
    public ImagePreprocessing? Preprocessing { get; init; }

    public OptimizerKind Optimizer { get; init; } = OptimizerKind.Adam;

    public IReadOnlyDictionary<string, Hyperparameter> Hyperparameters { get; init; } = new Dictionary<string, Hyperparameter>();

    /// <summary>Layers to make updatable. Default: the classifier.</summary>
    public IReadOnlyList<string>? UpdatableLayers { get; init; }

    /// <summary>The augmentation training uses unless given another. Default: a Tailor model keeps its own;
    /// a plain classifier gets <see cref="Images.AugmentationOptions.FewShot"/>.</summary>
    public Images.AugmentationOptions? Augmentation { get; init; }

    /// <summary>The learning-rate schedule training uses unless given another (the form of
    /// <see cref="Training.Schedules.LearningRateSchedule.Parse(string)"/>). Default: a Tailor model keeps its own;
    /// a plain classifier gets <see cref="TrainingDefaults.LearningRateSchedule"/>.</summary>
    public string? LearningRateSchedule { get; init; }

    /// <summary>The main loss. Default: a Tailor model keeps its own; a plain classifier gets cross-entropy.</summary>
    public LossKind? Loss { get; init; }

    /// <summary>The main loss's weight. Default: a Tailor model keeps its own; otherwise 1.</summary>
    public double? LossWeight { get; init; }

    /// <summary>Further weighted loss terms (see <see cref="PrepareOptions.AdditionalLosses"/>). Default: a Tailor
    /// model keeps its own; otherwise none.</summary>
    public IReadOnlyList<LossSpec>? AdditionalLosses { get; init; }
}

public static partial class ModelBuilder
{
    /// <summary>
    /// Expands a classifier to <see cref="ExpandOptions.Capacity"/> slots: rows of existing classes keep
    /// their weights bit for bit, new rows (weights and bias) are zero, and the new slots are free
    /// placeholders. Works on a Tailor model and on a plain ONNX classifier (which becomes updatable).
    /// </summary>
    /// <exception cref="TailorException">A smaller capacity, an unknown or unsupported classifier layer,
    /// labels that do not match the existing classes.</exception>
    public static UpdatableModel Expand(string path, ExpandOptions options)
    {
        ClassLabels.CheckCapacity(options.Capacity);
        var proto = OnnxModelFile.Read(path);
        proto.Graph.EnsureNodeNames();
        string? json = proto.GetMetadata(UpdateSpec.MetadataKey);
        if (json is null)
            proto.Import(options.Preprocessing is { } p ? (p.Height, p.Width) : null);
        UpdatableModel model = json is not null
            ? UpdatableModel.FromStoredSpec(proto, json, path)
            : AdoptClassifier(proto, options, path);
        EnsureSlotMask(model, required: json is null);
        ExpandClassifier(model, options.Capacity, options.PlaceholderPrefix);
        if (options.LearningRateSchedule is { } schedule) Training.Schedules.LearningRateSchedule.Parse(schedule);
        model.SetSpec(model.Spec with
        {
            Augmentation = options.Augmentation?.ToString() ?? model.Spec.Augmentation,
            LearningRateSchedule = options.LearningRateSchedule ?? model.Spec.LearningRateSchedule,
        });
        if (json is null || options.UpdatableLayers is not null || options.Loss is not null || options.LossWeight is not null || options.AdditionalLosses is not null)
            ConfigureTraining(model, options.UpdatableLayers ?? model.Spec.UpdatableLayers.Select(l => l.Name).DefaultIfEmpty(model.Spec.Classifier).ToList(),
                options.Loss ?? model.Spec.Loss.Kind, json is null ? options.Optimizer : model.Spec.Optimizer,
                json is null ? options.Hyperparameters : model.Spec.Hyperparameters,
                options.LossWeight ?? model.Spec.Loss.Weight, options.AdditionalLosses ?? model.Spec.AdditionalLosses);
        return model;
    }

    private static void ExpandClassifier(UpdatableModel model, int capacity, string prefix)
    {
        var spec = model.Spec;
        var graph = model.Proto.Graph;
        var node = graph.FindNode(spec.Classifier) ?? throw new TailorException($"The classifier layer '{spec.Classifier}' is missing from the graph.");
        var (weight, bias, rowsAreClasses) = ClassifierParameters(graph, node);
        long[] wDims = weight.Dims.ToArray();
        int current = (int)(rowsAreClasses ? wDims[0] : wDims[^1]);
        if (capacity < current)
            throw new TailorException($"ExpandOptions.Capacity {capacity} is smaller than the {current} slots the classifier '{node.Name}' already has; expanding only adds slots.");
        if (spec.Labels.Capacity != current)
            throw new TailorException($"The model's labels ({spec.Labels.Capacity}) do not match its classifier '{node.Name}' ({current} outputs).");

        float[] w = OnnxTensors.ToFloats(weight);
        long[] newDims = (long[])wDims.Clone();
        float[] expanded;
        if (rowsAreClasses)
        {
            // [C, …] → [C', …]: the first C rows are copied, the rest stay zero.
            newDims[0] = capacity;
            expanded = new float[w.Length / current * capacity];
            w.CopyTo(expanded, 0);
        }
        else
        {
            // [F, C] → [F, C']: each row gets zero columns appended.
            newDims[^1] = capacity;
            int rows = w.Length / current;
            expanded = new float[rows * capacity];
            for (int r = 0; r < rows; r++) Array.Copy(w, r * current, expanded, r * capacity, current);
        }
        graph.ReplaceInitializer(OnnxTensors.FromFloats(weight.Name, newDims, expanded));
        if (bias is not null)
        {
            long[] bDims = bias.Dims.ToArray();
            float[] b = OnnxTensors.ToFloats(bias);
            float[] nb = new float[capacity];
            b.CopyTo(nb, 0);
            bDims[^1] = capacity;
            graph.ReplaceInitializer(OnnxTensors.FromFloats(bias.Name, bDims, nb));
        }

        var names = spec.Labels.Names.ToList();
        var placeholders = spec.Labels.Placeholders.ToList();
        var taken = names.ToHashSet();
        int next = 0;
        while (names.Count < capacity)
        {
            string candidate = prefix + next++;
            if (!taken.Add(candidate)) continue;
            placeholders.Add(names.Count);
            names.Add(candidate);
        }
        // Stale shapes mention the old capacity; ONNX Runtime infers them again.
        graph.ValueInfo.Clear();
        foreach (var output in graph.Output.Where(o => o.Name == spec.ProbabilitiesOutput))
        {
            var dims = output.Type.TensorType.Shape?.Dim;
            if (dims is { Count: 2 }) dims[1] = new TensorShapeProto.Types.Dimension { DimValue = capacity };
        }
        WriteLabels(model, new ClassLabels { Names = names, Placeholders = placeholders });
    }

    /// <summary>The weight and bias of a classifier layer, and whether the weight's rows are classes.</summary>
    internal static (TensorProto Weight, TensorProto? Bias, bool RowsAreClasses) ClassifierParameters(GraphProto graph, NodeProto node)
    {
        TensorProto W() => graph.FindInitializer(node.Input[1])
            ?? throw new TailorException($"The classifier layer '{node.Name}' has no weight initializer (its weights are computed, not stored).");
        switch (node.OpType)
        {
            case "Gemm":
                return (W(), node.Input.Count > 2 && node.Input[2].Length > 0 ? graph.FindInitializer(node.Input[2]) : null,
                    node.IntAttribute("transB", 0) == 1);
            case "MatMul":
                var biasName = BiasAfterMatMul(graph, node);
                return (W(), biasName is null ? null : graph.FindInitializer(biasName), false);
            case "Conv":
                var w = W();
                if (w.Dims.Count != 4 || w.Dims[2] != 1 || w.Dims[3] != 1 || node.IntAttribute("group", 1) != 1)
                    throw new TailorException($"The classifier layer '{node.Name}' is a {w.Dims[2]}×{w.Dims[3]} convolution; only a 1×1 convolution without groups can be expanded.");
                return (w, node.Input.Count > 2 ? graph.FindInitializer(node.Input[2]) : null, true);
            default:
                throw new TailorException($"The classifier layer '{node.Name}' is a {node.OpType}; a classifier is a Gemm, MatMul or 1×1 Conv. Candidates: {string.Join(", ", CandidateLayers(graph))}.");
        }
    }

    /// <summary>Makes a plain ONNX classifier updatable: finds its classifier layer and probability output,
    /// adds a Softmax and Flatten when needed and the label-string output, and writes an update spec.</summary>
    private static UpdatableModel AdoptClassifier(ModelProto proto, ExpandOptions options, string path)
    {
        var graph = proto.Graph;
        var inputs = graph.RealInputs().ToList();
        if (inputs.Count != 1)
            throw new TailorException($"'{path}' has {inputs.Count} inputs; an image classifier with one input was expected.");
        if (graph.Output.Count == 0) throw new TailorException($"'{path}' has no outputs.");
        string output = graph.Output[0].Name;
        NodeProto classifier = options.ClassifierLayer is { } name
            ? graph.FindNode(name) ?? throw new TailorException($"There is no layer named '{name}' in '{path}'. Candidates: {string.Join(", ", CandidateLayers(graph))}.")
            : FindClassifier(graph, output, path);
        var (weight, _, rowsAreClasses) = ClassifierParameters(graph, classifier);
        int classes = (int)(rowsAreClasses ? weight.Dims[0] : weight.Dims[^1]);
        var labels = options.Labels ?? Enumerable.Range(0, classes).Select(i => "class" + i).ToList();
        if (labels.Count != classes)
            throw new TailorException($"ExpandOptions.Labels names {labels.Count} classes, but the classifier '{classifier.Name}' has {classes}; give one label per existing class.");

        // Probabilities: reuse a Softmax on the path, else add one; flatten [N, C, 1, 1] to [N, C].
        bool hasSoftmax = graph.ProducerChain(output, 64).TakeWhile(n => !n.Output.Contains(classifier.Output[0])).Any(n => n.OpType == "Softmax");
        string probs = output;
        graph.Output.Clear();
        if (!hasSoftmax)
        {
            graph.Node.Add(OnnxGraph.Node("Softmax", "tailor_softmax", [probs], ["tailor_softmax_out"], OnnxGraph.IntAttr("axis", 1)));
            probs = "tailor_softmax_out";
        }
        graph.Node.Add(OnnxGraph.Node("Flatten", "tailor_flatten_probabilities", [probs], [ProbabilitiesOutput], OnnxGraph.IntAttr("axis", 1)));
        var classLabels = ClassLabels.Create(labels, classes, options.PlaceholderPrefix);
        graph.Node.Add(OnnxGraph.Node("ArgMax", "argmax", [ProbabilitiesOutput], [LabelIndexTensor], OnnxGraph.IntAttr("axis", 1), OnnxGraph.IntAttr("keepdims", 0)));
        graph.Initializer.Add(OnnxTensors.FromStrings(LabelsInitializer, classLabels.Names));
        graph.Node.Add(OnnxGraph.Node("Gather", "label_of_index", [LabelsInitializer, LabelIndexTensor], [LabelOutput], OnnxGraph.IntAttr("axis", 0)));
        graph.Output.Add(OnnxGraph.TensorInfo(ProbabilitiesOutput, DataType.Float, null, classes));
        graph.Output.Add(OnnxGraph.TensorInfo(LabelOutput, DataType.String, OnnxGraph.Dim("N")));
        proto.MakeBatchDynamic();
        proto.FinishGraph();

        long[] inDims = inputs[0].Dims();
        var pre = options.Preprocessing ?? new ImagePreprocessing();
        if (inDims.Length == 4)
            pre = pre.Layout == TensorLayout.Nchw
                ? pre with { Height = inDims[2] > 0 ? (int)inDims[2] : pre.Height, Width = inDims[3] > 0 ? (int)inDims[3] : pre.Width }
                : pre with { Height = inDims[1] > 0 ? (int)inDims[1] : pre.Height, Width = inDims[2] > 0 ? (int)inDims[2] : pre.Width };
        var spec = new UpdateSpec
        {
            Input = inputs[0].Name,
            Features = classifier.Input[0],
            Classifier = classifier.Name,
            Preprocessing = pre,
            Labels = classLabels,
            UpdatableLayers = [DescribeLayer(graph, classifier.Name)],
            Hyperparameters = DefaultHyperparameters.For(options.Optimizer),
            Optimizer = options.Optimizer,
            Augmentation = Images.AugmentationOptions.FewShot.ToString(),
            LearningRateSchedule = TrainingDefaults.LearningRateSchedule,
            Notes = new Dictionary<string, string> { ["base_model"] = Path.GetFileName(path) },
        };
        var model = new UpdatableModel(proto, spec, path);
        model.SetSpec(spec);
        return model;
    }

    private static NodeProto FindClassifier(GraphProto graph, string output, string path)
    {
        // Walk back from the output through ops that keep the class axis (activations, pooling, reshapes).
        foreach (var n in graph.ProducerChain(output, 64))
        {
            if (n.OpType is "Gemm" or "MatMul" or "Conv" && graph.FindInitializer(n.Input[1]) is not null) return n;
            if (n.OpType is "Add" && graph.Producer(n.Input[0]) is { OpType: "MatMul" } mm) return mm;
            if (n.OpType is not ("Softmax" or "Relu" or "Flatten" or "Reshape" or "Squeeze" or "AveragePool" or "GlobalAveragePool" or "Identity" or "Dropout" or "Add" or "LogSoftmax" or "Sigmoid"))
                break;
        }
        throw new TailorException($"Cannot find the classifier layer of '{path}' (a Gemm, MatMul or 1×1 Conv before the output '{output}'). Name it with ExpandOptions.ClassifierLayer; candidates: {string.Join(", ", CandidateLayers(graph))}.");
    }
}
