using Onnx;
using Tailor.Onnx;

namespace Tailor.Engine;

public sealed partial class SuffixGraph
{
    /// <summary>
    /// Compiles the part of an ONNX graph that computes <paramref name="outputs"/> from the cut tensors
    /// <paramref name="cutInputs"/> (what the frozen prefix produces, fed later from the feature cache) and
    /// the graph's initializers. Initializers named in <paramref name="trainableInitializers"/> become
    /// <see cref="Parameters"/> (their values are copied); all others are frozen constants.
    /// </summary>
    /// <param name="graph">The whole ONNX graph; only the nodes between the cut and the outputs are taken.</param>
    /// <param name="cutInputs">Tensor names where the suffix starts. Their first dimension is the batch.</param>
    /// <param name="outputs">Tensor names the suffix must compute (e.g. the logits or probabilities).</param>
    /// <param name="trainableInitializers">Initializer names to train; each must be used by the suffix.</param>
    /// <param name="opset">The model's default-domain opset version; it decides e.g. Softmax's axis rule.</param>
    /// <param name="cutInputExampleShapes">Shape of one example of each cut tensor (no batch dimension). When
    /// null or missing a name, the shape is read from the graph's value_info / inputs / outputs.</param>
    /// <param name="seed">Seed for random ops (Dropout): same seed and same calls ⇒ bit-identical results.</param>
    /// <exception cref="TailorException">An unsupported op or one without a gradient rule on a trainable path (the
    /// message names the op type and node), an attribute outside what the op allows, an unknown tensor, an
    /// initializer stored in a type other than float/int64 or in external data, a trainable initializer not used
    /// by the suffix, or a cut tensor whose shape is unknown.</exception>
    internal static SuffixGraph Build(
        GraphProto graph,
        IReadOnlyList<string> cutInputs,
        IReadOnlyList<string> outputs,
        ISet<string> trainableInitializers,
        int opset,
        IReadOnlyDictionary<string, int[]>? cutInputExampleShapes = null,
        int seed = 0)
    {
        ArgumentNullException.ThrowIfNull(graph);
        var initializers = new Dictionary<string, TensorProto>();
        foreach (var t in graph.Initializer)
            initializers[t.Name] = t;
        var producers = graph.Producers();
        foreach (var name in trainableInitializers)
            if (!initializers.ContainsKey(name))
                throw new TailorException($"Trainable initializer '{name}' does not exist in the graph.");

        var nodes = new Dictionary<string, Node>();
        var order = new List<Node>();
        var cutNodes = new Node[cutInputs.Count];
        var exampleShapes = new int[cutInputs.Count][];
        for (int i = 0; i < cutInputs.Count; i++)
        {
            exampleShapes[i] = cutInputExampleShapes is not null && cutInputExampleShapes.TryGetValue(cutInputs[i], out var s)
                ? [.. s]
                : ExampleShapeFromValueInfo(graph, cutInputs[i]);
            cutNodes[i] = new Node(cutInputs[i], NodeKind.CutInput, null, []);
            nodes.Add(cutInputs[i], cutNodes[i]);
            order.Add(cutNodes[i]);
        }

        // Post-order depth-first walk from the outputs: every node lands after its inputs.
        var visiting = new HashSet<string>();
        Node Resolve(string tensor, string neededBy)
        {
            if (nodes.TryGetValue(tensor, out var existing))
                return existing;
            if (producers.TryGetValue(tensor, out var proto))
            {
                if (!visiting.Add(tensor))
                    throw new TailorException($"The graph has a cycle through tensor '{tensor}'.");
                var node = proto.OpType == "Constant" ? ConstantNode(proto, tensor) : OpNode(proto, tensor);
                visiting.Remove(tensor);
                nodes.Add(tensor, node);
                order.Add(node);
                return node;
            }
            if (initializers.TryGetValue(tensor, out var init))
            {
                bool trainable = trainableInitializers.Contains(tensor);
                var node = new Node(tensor, trainable ? NodeKind.Parameter : NodeKind.Constant, null, []);
                LoadTensor(init, node);
                if (trainable)
                {
                    if (node.Int64Value.Length > 0)
                        throw new TailorException($"Trainable initializer '{tensor}' holds integers; only float tensors can be trained.");
                    node.RequiresGradient = true;
                    node.GradientBuffer = new float[node.Length];
                }
                nodes.Add(tensor, node);
                order.Add(node);
                return node;
            }
            throw new TailorException($"Tensor '{tensor}' (needed by {neededBy}) is not a cut input, an initializer, or the output of any node.");
        }

        Node OpNode(NodeProto proto, string tensor)
        {
            string nodeName = proto.Name.Length > 0 ? proto.Name : tensor;
            if (proto.Domain.Length > 0 && proto.Domain != "ai.onnx")
                throw OpContext.Error(proto.OpType, nodeName, $"domain '{proto.Domain}' is not supported; only standard ONNX ops can be after the cut.");
            var inputNodes = new Node?[proto.Input.Count];
            for (int i = 0; i < inputNodes.Length; i++)
                inputNodes[i] = proto.Input[i].Length == 0 ? null : Resolve(proto.Input[i], $"{proto.OpType} node '{nodeName}'");
            var context = new OpContext(proto, opset, inputNodes, seed, outputIndex: proto.Output.IndexOf(tensor)); // one engine node per used output
            Op op;
            try
            {
                op = OpRegistry.Create(context);
            }
            catch (TailorException e)
            {
                throw WithCutHint(e, graph, proto, outputs);
            }
            var node = new Node(tensor, NodeKind.Computed, op, inputNodes);
            for (int i = 0; i < inputNodes.Length; i++)
            {
                if (inputNodes[i] is not { RequiresGradient: true } input)
                    continue;
                if (!op.CanDifferentiate(i))
                    throw WithCutHint(context.Fail($"cannot pass a gradient to input {i} ('{input.Name}'), which depends on a trainable parameter."), graph, proto, outputs);
                node.RequiresGradient = true;
            }
            return node;
        }

        var outputNodes = new Node[outputs.Count];
        for (int i = 0; i < outputs.Count; i++)
            outputNodes[i] = Resolve(outputs[i], "the outputs");
        foreach (var name in trainableInitializers)
            if (!nodes.ContainsKey(name))
                throw new TailorException($"Trainable initializer '{name}' is not used between the cut ({string.Join(", ", cutInputs)}) and the outputs.");
        // An op with no gradient rule on a trainable path must fail now, not in the middle of training.
        foreach (var node in order)
            if (node.Op is { } op && node.RequiresGradient)
            {
                var declared = op.GetType().GetMethod(nameof(Op.Backward))!.DeclaringType;
                if (declared == typeof(Op))
                {
                    try
                    {
                        op.Backward(node); // throws the op's "no gradient rule" error naming it
                    }
                    catch (TailorException e) when (graph.FindNode(op.NodeName) is { } proto)
                    {
                        throw WithCutHint(e, graph, proto, outputs);
                    }
                }
            }
        return new SuffixGraph(cutNodes, exampleShapes, outputNodes, [.. order]);
    }

    /// <summary><paramref name="error"/> (an op the engine cannot run or train through) with the nearest layer after the op
    /// that can be the first updatable one, so the cut can move past it.</summary>
    static TailorException WithCutHint(TailorException error, GraphProto graph, NodeProto proto, IReadOnlyList<string> outputs)
    {
        if (outputs.Count == 0) return error;
        var next = Building.LayerCatalog.FirstTrainableAfter(graph, proto, outputs[0]);
        string hint = next is null
            ? " No layer after it can be the first updatable one: train the head only (a classifier on the features before it)."
            : $" The nearest layer after it that can be the first updatable one is '{next.Name}' ({next.OpType}): make the updatable layers (PrepareOptions.UpdatableLayers) start there.";
        return new TailorException(error.Message + hint, error);
    }

    static Node ConstantNode(NodeProto proto, string tensor)
    {
        if (proto.Attribute("value") is { T: { } t })
        {
            var node = new Node(tensor, NodeKind.Constant, null, []);
            LoadTensor(t, node, tensor);
            return node;
        }
        throw OpContext.Error("Constant", proto.Name.Length > 0 ? proto.Name : tensor, "only the 'value' attribute (a tensor) is supported.");
    }

    /// <summary>Copies an ONNX tensor into a leaf node: float or int64, from the typed field or little-endian raw_data.</summary>
    static void LoadTensor(TensorProto t, Node node, string? name = null)
    {
        name ??= t.Name;
        node.Shape = [.. t.Dims.Select(d => checked((int)d))];
        node.Length = checked((int)OnnxTensors.ElementCount(t));
        switch ((TensorProto.Types.DataType)t.DataType)
        {
            case TensorProto.Types.DataType.Float:
                node.ValueBuffer = OnnxTensors.ToFloats(t, name);
                break;
            case TensorProto.Types.DataType.Int64:
                node.Int64Value = OnnxTensors.ToInt64s(t, name);
                break;
            default:
                throw new TailorException($"Initializer '{name}' has data type {(TensorProto.Types.DataType)t.DataType}; the training engine reads float and int64 initializers only.");
        }
    }

    static int[] ExampleShapeFromValueInfo(GraphProto graph, string name)
    {
        foreach (var info in graph.ValueInfo.Concat(graph.Input).Concat(graph.Output))
        {
            if (info.Name != name || info.Type?.TensorType?.Shape is not { } shape || shape.Dim.Count == 0)
                continue;
            var dims = new int[shape.Dim.Count - 1];
            for (int i = 1; i < shape.Dim.Count; i++)
            {
                if (!shape.Dim[i].HasDimValue || shape.Dim[i].DimValue <= 0)
                    throw new TailorException($"Cut tensor '{name}' has an unknown dimension {i}; pass its example shape explicitly.");
                dims[i - 1] = checked((int)shape.Dim[i].DimValue);
            }
            return dims;
        }
        throw new TailorException($"The shape of cut tensor '{name}' is not in the graph's value_info; pass its example shape explicitly (run shape inference on the model, or give cutInputExampleShapes).");
    }
}
