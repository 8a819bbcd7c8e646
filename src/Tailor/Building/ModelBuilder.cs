using Microsoft.ML.OnnxRuntime;
using Onnx;
using Tailor.Onnx;
using Tailor.Spec;
using DataType = Onnx.TensorProto.Types.DataType;

namespace Tailor.Building;

/// <summary>
/// Builds updatable models: attaches a classifier head to a feature extractor, expands an existing
/// classifier to more classes, marks layers updatable, resets weights and sets the training defaults —
/// every step of the reference's make_nn.py, in .NET, on standard ONNX.
/// </summary>
public static partial class ModelBuilder
{
    internal const string ImageInput = "image";
    internal const string FeaturesTensor = "features";
    internal const string NormalizedFeaturesTensor = "features_l2";
    internal const string ClassifierNode = "classifier";
    internal const string LogitsTensor = "logits";
    internal const string ProbabilitiesOutput = "probabilities";
    internal const string LabelOutput = "label";
    internal const string LabelIndexTensor = "label_index";
    internal const string LabelsInitializer = "class_labels";

    /// <summary>
    /// Turns a feature extractor (default: the embedded ResNet18) into an updatable classifier: image
    /// input with its normalization inside the graph, dynamic batch, Flatten (+ L2 normalization) →
    /// fully-connected <c>classifier</c> → slot mask (free placeholders get probability 0) → Softmax →
    /// <c>probabilities</c> [N, capacity] and the top
    /// <c>label</c> [N] as a string. Unless <see cref="PrepareOptions.UpdatableLayers"/> says otherwise, a
    /// model on the embedded ResNet18 fine-tunes <see cref="EmbeddedModels.ResNet18FineTunedLayers"/> with its
    /// classifier, and one on another base trains its classifier.
    /// </summary>
    /// <exception cref="TailorException">Bad base model, unknown feature output or layer, more labels
    /// than slots, a default outside its allowed values, an unreadable learning-rate schedule.</exception>
    public static UpdatableModel Prepare(PrepareOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        // Read the schedule now so a typo fails here rather than at the first training.
        Training.Schedules.LearningRateSchedule.Parse(options.LearningRateSchedule);
        options.Augmentation.Validate();
        bool embedded = options.BaseModelPath is null;
        string basePath = options.BaseModelPath ?? EmbeddedModels.ResNet18Path;
        var model = OnnxModelFile.Read(basePath);
        var graph = model.Graph;
        var labels = ClassLabels.Create(options.Labels, options.Capacity, options.PlaceholderPrefix);

        string featureName = options.FeatureOutput ?? (embedded ? EmbeddedModels.ResNet18FeatureOutput : SingleOutput(graph, basePath));
        RequireTensor(graph, featureName, basePath);
        string baseFeatureName = featureName;   // as the base model names it (the graph's copy may move aside below)

        var inputs = graph.RealInputs().ToList();
        if (inputs.Count != 1)
            throw new TailorException($"'{basePath}' has {inputs.Count} inputs ({string.Join(", ", inputs.Select(i => i.Name))}); an image model with exactly one input was expected.");
        var baseInput = inputs[0];
        long[] inputDims = baseInput.Dims();
        if (inputDims.Length != 4)
            throw new TailorException($"'{basePath}': input '{baseInput.Name}' has shape {baseInput.ShapeText()}; an image input [N, C, H, W] was expected.");

        ImagePreprocessing preprocessing;
        if (embedded)
        {
            preprocessing = new ImagePreprocessing
            {
                Width = 224, Height = 224, Channels = ChannelOrder.Rgb, Layout = TensorLayout.Nchw,
                Resize = ResizeMode.Stretch, Scale = 1f,
                Normalization = "RGB→BGR and subtraction of the ImageNet mean image, from ResNetPreprocess.onnx (in the graph)",
            };
        }
        else
        {
            var p = options.Preprocessing ?? new ImagePreprocessing();
            int h = inputDims[2] > 0 ? (int)inputDims[2] : p.Height, w = inputDims[3] > 0 ? (int)inputDims[3] : p.Width;
            preprocessing = p with
            {
                Width = w, Height = h,
                Normalization = options.Mean is null && options.Std is null ? "none"
                    : $"(x − mean) / std in the graph, mean [{string.Join(", ", options.Mean ?? [])}], std [{string.Join(", ", options.Std ?? [])}]",
            };
        }

        // What exporters write (Constant nodes, Identity-tied initializers, shape subgraphs) becomes plain initializers.
        model.Import((preprocessing.Height, preprocessing.Width));

        // The feature size as the base model declares it, read before its outputs and shapes are dropped.
        int? declaredFeatureDim = DeclaredFeatureDimension(graph, featureName);

        // Keep only what computes the features; the base model's own head (if any) goes.
        graph.PruneTo([featureName]);
        graph.Output.Clear();
        graph.ValueInfo.Clear();
        model.MakeBatchDynamic();
        // The head's names are Tailor's: a base tensor, initializer or node of the same name (a PyTorch export's output is
        // often 'logits', its classifier 'classifier.weight') moves aside to "base/NAME".
        foreach (string name in new[] { FeaturesTensor, NormalizedFeaturesTensor, LogitsTensor, ProbabilitiesOutput, LabelOutput, LabelIndexTensor,
                     LabelsInitializer, "classifier.weight", "classifier.bias", SlotMaskInitializer, "logits_masked" })
            if (graph.TensorNames().Contains(name))
            {
                if (name == featureName) featureName = "base/" + name;
                graph.RenameEverywhere(name, "base/" + name);
            }
        foreach (var n in graph.Node.Where(n => n.Name is ClassifierNode or "flatten_features" or "normalize_features" or "softmax" or "argmax" or "label_of_index" or SlotMaskNode))
            n.Name = "base/" + n.Name;
        graph.RenameTensor(baseInput.Name, ImageInput);

        if (embedded)
            PrependResNetPreprocessing(model);
        else if (options.Mean is not null || options.Std is not null)
            PrependNormalization(graph, options.Mean, options.Std, (int)inputDims[1]);

        int featureDim = declaredFeatureDim ?? FeatureDimension(model, featureName, preprocessing, basePath);

        // Head: Flatten → (LpNormalization) → Gemm → Softmax; ArgMax → Gather(labels) for the label string.
        graph.Node.Add(OnnxGraph.Node("Flatten", "flatten_features", [featureName], [FeaturesTensor], OnnxGraph.IntAttr("axis", 1)));
        string classifierInput = FeaturesTensor;
        if (options.NormalizeFeatures)
        {
            graph.Node.Add(OnnxGraph.Node("LpNormalization", "normalize_features", [FeaturesTensor], [NormalizedFeaturesTensor],
                OnnxGraph.IntAttr("axis", 1), OnnxGraph.IntAttr("p", 2)));
            classifierInput = NormalizedFeaturesTensor;
        }
        int capacity = labels.Capacity;
        graph.Initializer.Add(OnnxTensors.FromFloats("classifier.weight", [capacity, featureDim], new float[capacity * featureDim]));
        graph.Initializer.Add(OnnxTensors.FromFloats("classifier.bias", [capacity], new float[capacity]));
        graph.Node.Add(OnnxGraph.Node("Gemm", ClassifierNode, [classifierInput, "classifier.weight", "classifier.bias"], [LogitsTensor],
            OnnxGraph.IntAttr("transB", 1)));
        AddSoftmaxAndLabel(graph, LogitsTensor, labels);
        graph.Output.Add(OnnxGraph.TensorInfo(ProbabilitiesOutput, DataType.Float, null, capacity));
        graph.Output.Add(OnnxGraph.TensorInfo(LabelOutput, DataType.String, OnnxGraph.Dim("N")));
        model.FinishGraph();

        var notes = new Dictionary<string, string>
        {
            ["base_model"] = embedded ? EmbeddedBaseNote : Path.GetFileName(basePath),
            ["base_feature_output"] = baseFeatureName,
            ["feature_normalization"] = options.NormalizeFeatures ? "l2" : "none",
        };
        var spec = new UpdateSpec
        {
            Input = ImageInput,
            ProbabilitiesOutput = ProbabilitiesOutput,
            LabelOutput = LabelOutput,
            Features = classifierInput,
            Classifier = ClassifierNode,
            Preprocessing = preprocessing,
            Labels = labels,
            Augmentation = options.Augmentation.ToString(),
            LearningRateSchedule = options.LearningRateSchedule,
            Notes = notes,
        };
        var result = new UpdatableModel(model, spec, null);
        EnsureSlotMask(result, required: true);
        if (options.Init == WeightInit.KaimingUniform)
            ResetWeights(result, ClassifierNode, WeightInit.KaimingUniform, options.InitSeed);
        var updatable = options.UpdatableLayers ?? (embedded ? [.. EmbeddedModels.ResNet18FineTunedLayers, ClassifierNode] : [ClassifierNode]);
        ConfigureTraining(result, updatable, options.Loss, options.Optimizer, options.Hyperparameters, options.LossWeight, options.AdditionalLosses);
        return result;
    }

    /// <summary>
    /// Marks layers updatable, sets the loss, the optimizer and the hyperparameters (built-in defaults for
    /// the optimizer, replaced by <paramref name="overrides"/>), and validates that every default lies
    /// within its own allowed values. The main loss reads the probabilities output with weight
    /// <paramref name="lossWeight"/>; <paramref name="additionalLosses"/> adds weighted terms (an empty input means the
    /// probabilities output), each checked to read a tensor that an updatable layer affects.
    /// </summary>
    public static void ConfigureTraining(UpdatableModel model, IReadOnlyList<string> updatableLayers, LossKind loss,
        OptimizerKind optimizer, IReadOnlyDictionary<string, Hyperparameter>? overrides = null, double lossWeight = 1,
        IReadOnlyList<LossSpec>? additionalLosses = null)
    {
        // "last-block": the layers of the last block (LayerCatalog.FindLastBlock).
        if (updatableLayers.Contains(LayerCatalog.LastBlock))
            updatableLayers = [.. updatableLayers.SelectMany(n => n == LayerCatalog.LastBlock
                ? LayerCatalog.FindLastBlock(model.Proto.Graph, model.Spec.ProbabilitiesOutput) : [n]).Distinct()];
        // A parameter another node reads too (a tensor the exporter stored once) becomes the layer's own: training it must
        // leave the other readers' value as it was, as the separate parameters they are in PyTorch.
        foreach (var name in updatableLayers.Distinct())
            if (model.Proto.Graph.FindNode(name) is { } node && IsCandidate(model.Proto.Graph, node))
                foreach (int i in ParameterInputs(model.Proto.Graph, node))
                    model.Proto.Graph.Untie(node, i);
        var layers = updatableLayers.Select(name => DescribeLayer(model.Proto.Graph, name)).ToList();
        if (layers.Count == 0)
            throw new TailorException($"At least one layer must be updatable; candidates: {string.Join(", ", CandidateLayers(model.Proto.Graph))}.");
        var hyper = DefaultHyperparameters.For(optimizer);
        foreach (var (name, h) in overrides ?? new Dictionary<string, Hyperparameter>())
            hyper[name] = h;
        var lossSpec = new LossSpec
        {
            Kind = loss,
            Input = model.Spec.ProbabilitiesOutput,
            Target = loss == LossKind.CategoricalCrossEntropy ? "label" : "target",
            Weight = lossWeight,
        };
        var additional = additionalLosses is { Count: > 0 }
            ? additionalLosses.Select(t => t.Input.Length == 0 ? t with { Input = model.Spec.ProbabilitiesOutput } : t).ToList()
            : null;
        var spec = model.Spec with { UpdatableLayers = layers, Loss = lossSpec, AdditionalLosses = additional, Optimizer = optimizer, Hyperparameters = hyper };
        spec.Validate(model.Path ?? "");
        // A term on a tensor that is not in the graph, or that no updatable layer affects, fails here, not at training.
        if (additional is not null) Features.GraphCut.Compute(model.Proto.Graph, spec);
        model.SetSpec(spec);
    }

    /// <summary>The names of layers that can be made updatable (Gemm, MatMul and Conv with weight
    /// initializers, BatchNormalization), in graph order.</summary>
    internal static IReadOnlyList<string> CandidateLayers(GraphProto graph) =>
        graph.Node.Where(n => IsCandidate(graph, n)).Select(n => n.Name).ToList();

    private static bool IsCandidate(GraphProto g, NodeProto n) => n.OpType switch
    {
        "Gemm" or "Conv" or "MatMul" => n.Input.Count >= 2 && g.FindInitializer(n.Input[1]) is not null,
        "BatchNormalization" => n.Input.Count >= 3 && g.FindInitializer(n.Input[1]) is not null,
        _ => false,
    };

    private static UpdatableLayer DescribeLayer(GraphProto graph, string name)
    {
        var node = graph.FindNode(name);
        if (node is null || !IsCandidate(graph, node))
        {
            var candidates = CandidateLayers(graph);
            string shown = candidates.Count > 12 ? string.Join(", ", candidates.TakeLast(12)) + $" (and {candidates.Count - 12} earlier)" : string.Join(", ", candidates);
            throw new TailorException(node is null
                ? $"There is no layer named '{name}'. Layers that can be updatable: {shown}."
                : $"Layer '{name}' is a {node.OpType}, which has no trainable weights. Layers that can be updatable: {shown}.");
        }
        var parameters = ParameterInputs(graph, node).Select(i => node.Input[i]).ToArray();
        return new UpdatableLayer { Name = name, Op = node.OpType, Parameters = parameters };
    }

    /// <summary>The input indexes of a candidate layer's trainable parameters: a BatchNormalization's scale and bias (its
    /// statistics stay: inference statistics, see the BatchNormalization op), every other layer's initializer inputs after the first.</summary>
    internal static IEnumerable<int> ParameterInputs(GraphProto graph, NodeProto node) => node.OpType == "BatchNormalization"
        ? [1, 2]
        : Enumerable.Range(1, node.Input.Count - 1).Where(i => node.Input[i].Length > 0 && graph.FindInitializer(node.Input[i]) is not null);

    /// <summary>
    /// Resets a layer's weights: Kaiming-uniform (W ~ U(±√(6/fan_in)), b ~ U(±1/√fan_in), from
    /// <paramref name="seed"/>) or zeros. fan_in is the number of inputs per output unit (F for a
    /// fully-connected layer, C_in/groups·kH·kW for a convolution).
    /// </summary>
    /// <exception cref="TailorException">No such layer, or a layer without weights.</exception>
    public static void ResetWeights(UpdatableModel model, string layer, WeightInit init, int seed)
    {
        var graph = model.Proto.Graph;
        var node = graph.FindNode(layer);
        if (node is null || node.OpType is not ("Gemm" or "Conv" or "MatMul") || graph.FindInitializer(node.Input[1]) is null)
            throw new TailorException($"Cannot reset '{layer}': it is not a fully-connected or convolution layer with weights. Candidates: {string.Join(", ", CandidateLayers(graph).Where(n => graph.FindNode(n)!.OpType != "BatchNormalization"))}.");
        var w = graph.GetInitializer(node.Input[1]);
        long[] dims = w.Dims.ToArray();
        int fanIn = node.OpType switch
        {
            "Gemm" => (int)(node.IntAttribute("transB", 0) == 1 ? dims[1] : dims[0]),
            "MatMul" => (int)dims[0],
            _ => (int)dims.Skip(1).Aggregate(1L, (a, d) => a * d),
        };
        var rng = new Random(seed);
        float[] weights = new float[dims.Aggregate(1L, (a, d) => a * d)];
        if (init == WeightInit.KaimingUniform)
        {
            double bound = Math.Sqrt(6.0 / fanIn);
            for (int i = 0; i < weights.Length; i++) weights[i] = (float)((rng.NextDouble() * 2 - 1) * bound);
        }
        graph.ReplaceInitializer(OnnxTensors.FromFloats(w.Name, dims, weights));
        string? biasName = node.OpType is "Gemm" or "Conv" && node.Input.Count > 2 && node.Input[2].Length > 0 ? node.Input[2]
            : BiasAfterMatMul(graph, node);
        if (biasName is not null && graph.FindInitializer(biasName) is { } b)
        {
            float[] bias = new float[b.Dims.Aggregate(1L, (a, d) => a * d)];
            if (init == WeightInit.KaimingUniform)
            {
                double bound = 1.0 / Math.Sqrt(fanIn);
                for (int i = 0; i < bias.Length; i++) bias[i] = (float)((rng.NextDouble() * 2 - 1) * bound);
            }
            graph.ReplaceInitializer(OnnxTensors.FromFloats(b.Name, b.Dims, bias));
        }
    }

    private static string? BiasAfterMatMul(GraphProto graph, NodeProto node)
    {
        if (node.OpType != "MatMul") return null;
        var add = graph.Consumers(node.Output[0]).FirstOrDefault(n => n.OpType == "Add");
        return add?.Input.FirstOrDefault(i => i != node.Output[0] && graph.FindInitializer(i) is not null);
    }

    private static void AddSoftmaxAndLabel(GraphProto graph, string logits, ClassLabels labels)
    {
        // Softmax on a 2-D [N, C] tensor with axis 1 means the same at every opset (before 13 it coerces to
        // 2-D from the axis; from 13 it is a single axis), so the head works whatever the base opset is.
        graph.Node.Add(OnnxGraph.Node("Softmax", "softmax", [logits], [ProbabilitiesOutput], OnnxGraph.IntAttr("axis", 1)));
        graph.Node.Add(OnnxGraph.Node("ArgMax", "argmax", [ProbabilitiesOutput], [LabelIndexTensor],
            OnnxGraph.IntAttr("axis", 1), OnnxGraph.IntAttr("keepdims", 0)));
        graph.Initializer.Add(OnnxTensors.FromStrings(LabelsInitializer, labels.Names));
        graph.Node.Add(OnnxGraph.Node("Gather", "label_of_index", [LabelsInitializer, LabelIndexTensor], [LabelOutput], OnnxGraph.IntAttr("axis", 0)));
    }

    /// <summary>Rewrites the class-label initializer the label output gathers from.</summary>
    /// <remarks>The slot mask follows: a slot a label has just taken becomes live, new placeholders (an expanded
    /// classifier) are masked, every other slot keeps its state.</remarks>
    internal static void WriteLabels(UpdatableModel model, ClassLabels labels)
    {
        EnsureSlotMask(model);
        var before = model.Spec.Labels;
        var live = LiveSlots(model).ToHashSet();
        live.UnionWith(Enumerable.Range(0, labels.Capacity).Where(i => before.IsPlaceholder(i) && !labels.IsPlaceholder(i)));
        model.Proto.Graph.ReplaceInitializer(OnnxTensors.FromStrings(LabelsInitializer, labels.Names));
        model.SetSpec(model.Spec with { Labels = labels });
        SetLiveSlots(model, live);
    }

    private static string SingleOutput(GraphProto graph, string path) => graph.Output.Count == 1
        ? graph.Output[0].Name
        : throw new TailorException($"'{path}' has {graph.Output.Count} outputs ({string.Join(", ", graph.Output.Select(o => o.Name))}); choose the features with PrepareOptions.FeatureOutput.");

    private static void RequireTensor(GraphProto graph, string name, string path)
    {
        if (graph.Producer(name) is not null) return;
        var outputs = graph.Output.Select(o => o.Name).ToList();
        var late = graph.Node.Reverse().Take(8).Select(n => n.Output[0]).Reverse();
        throw new TailorException($"'{path}' has no tensor named '{name}'. Its outputs: {string.Join(", ", outputs)}; the last node outputs: {string.Join(", ", late)}.");
    }

    /// <summary>Puts the package's ResNetPreprocess.onnx graph (RGB → BGR, minus the mean image) in front
    /// of the backbone, so the model takes RGB 0..255 and the normalization is read from the package's
    /// own file rather than typed in by hand.</summary>
    private static void PrependResNetPreprocessing(ModelProto model)
    {
        var graph = model.Graph;
        var prep = OnnxModelFile.Read(EmbeddedModels.ResNetPreprocessPath).Graph;
        string prepIn = prep.RealInputs().Single().Name, prepOut = prep.Output.Single().Name;
        // The copied nodes read the graph input; the backbone now reads the normalized tensor.
        var (nodes, initializers) = OnnxGraph.CopyRenamed(prep, t => t == prepIn ? ImageInput : t == prepOut ? "image_normalized" : "preprocess/" + t, "preprocess/");
        graph.Initializer.AddRange(initializers);
        graph.RenameTensor(ImageInput, "image_normalized");
        graph.Input.Single(v => v.Name == "image_normalized").Name = ImageInput;
        graph.Prepend(nodes);
    }

    private static void PrependNormalization(GraphProto graph, IReadOnlyList<float>? mean, IReadOnlyList<float>? std, int channels)
    {
        foreach (var (name, v) in new[] { ("mean", mean), ("std", std) })
            if (v is not null && v.Count != channels && v.Count != 1)
                throw new TailorException($"--{name} has {v.Count} values; the model's input has {channels} channels (give {channels} values or 1).");
        string current = ImageInput;
        var steps = new List<NodeProto>();
        graph.RenameTensor(ImageInput, "image_normalized");
        var input = graph.Input.Single(v => v.Name == "image_normalized");
        input.Name = ImageInput;
        if (mean is not null)
        {
            graph.Initializer.Add(OnnxTensors.FromFloats("preprocess/mean", [1, mean.Count, 1, 1], mean.ToArray()));
            string next = std is null ? "image_normalized" : "preprocess/centered";
            steps.Add(OnnxGraph.Node("Sub", "preprocess/subtract_mean", [current, "preprocess/mean"], [next]));
            current = next;
        }
        if (std is not null)
        {
            if (std.Any(s => !(s > 0)))
                throw new TailorException($"PrepareOptions.Std values must be positive; got {string.Join(", ", std)}.");
            graph.Initializer.Add(OnnxTensors.FromFloats("preprocess/std", [1, std.Count, 1, 1], std.ToArray()));
            steps.Add(OnnxGraph.Node("Div", "preprocess/divide_std", [current, "preprocess/std"], ["image_normalized"]));
        }
        graph.Prepend(steps);
    }

    /// <summary>C·H·W of the feature tensor when the base model declares its shape (as a graph output or in
    /// value_info) with every dimension after the batch known; null otherwise.</summary>
    private static int? DeclaredFeatureDimension(GraphProto graph, string featureName)
    {
        var dims = graph.Output.Concat(graph.ValueInfo).FirstOrDefault(v => v.Name == featureName)?.Dims() ?? [];
        if (dims.Length < 2 || dims.Skip(1).Any(d => d <= 0)) return null;
        long size = dims.Skip(1).Aggregate(1L, (a, d) => a * d);
        return size <= int.MaxValue ? (int)size : null;
    }

    /// <summary>The number of features per example (C·H·W of the feature tensor) when the model does not declare
    /// it: the backbone runs once on a blank image. (Running it costs a copy of the weights in ONNX Runtime.)</summary>
    private static int FeatureDimension(ModelProto model, string featureName, ImagePreprocessing pre, string path)
    {
        var probe = model.Clone();
        probe.Graph.Output.Clear();
        probe.Graph.Output.Add(new ValueInfoProto { Name = featureName });
        probe.FinishGraph();
        using var options = new SessionOptions { LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR };
        try
        {
            using var session = new InferenceSession(Google.Protobuf.MessageExtensions.ToByteArray(probe), options);
            int channels = pre.Channels == ChannelOrder.Gray ? 1 : 3;
            var shape = pre.Layout == TensorLayout.Nchw ? new long[] { 1, channels, pre.Height, pre.Width } : [1, pre.Height, pre.Width, channels];
            using var input = OrtValue.CreateTensorValueFromMemory(new float[channels * pre.Height * pre.Width], shape);
            using var results = session.Run(new RunOptions(), [ImageInput], [input], [featureName]);
            var dims = results[0].GetTensorTypeAndShape().Shape;
            return (int)dims.Skip(1).Aggregate(1L, (a, d) => a * d);
        }
        catch (OnnxRuntimeException e)
        {
            throw new TailorException($"ONNX Runtime cannot run '{path}' up to '{featureName}' on a {pre.Width}×{pre.Height} image: {e.Message}", e);
        }
    }
}
