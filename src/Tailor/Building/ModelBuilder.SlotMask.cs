using Onnx;
using Tailor.Onnx;
using Tailor.Spec;

namespace Tailor.Building;

public static partial class ModelBuilder
{
    /// <summary>The additive mask in front of the classifier's Softmax: 0 for a live slot, <see cref="MaskedLogit"/>
    /// for a slot that must not be predicted.</summary>
    internal const string SlotMaskInitializer = "slot_mask";

    internal const string SlotMaskNode = "mask_slots";

    /// <summary>What the mask adds to the logit of a masked slot. Finite on purpose: exp(−10⁹ − max) underflows to exactly 0 in
    /// float (ONNX Runtime's Softmax included), so the slot's probability and its gradient are exactly 0, while nothing in the
    /// forward or backward pass becomes infinite or NaN (−∞ would make ∞ − ∞ of any code that shifts by a masked value). Logits
    /// of a trained head are far smaller than 10⁹, so adding them to it leaves −10⁹ unchanged.</summary>
    internal const float MaskedLogit = -1e9f;

    /// <summary>
    /// Makes sure the classifier's Softmax reads its logits through the slot mask (a model written before masks existed has
    /// none) and returns whether the model has one. The mask of a new model leaves the labels in use live and masks the free
    /// placeholders. A k-NN head has no Softmax: its votes give a slot without examples probability 0 by themselves.
    /// </summary>
    /// <param name="model">The model; its graph gets the mask.</param>
    /// <param name="required">Throw when the Softmax or the rank of its input cannot be found (a model being adopted);
    /// otherwise such a model is left as it was.</param>
    internal static bool EnsureSlotMask(UpdatableModel model, bool required = false)
    {
        var spec = model.Spec;
        if (spec.Head == HeadKind.KNearestNeighbors) return false;
        var graph = model.Proto.Graph;
        if (graph.FindInitializer(SlotMaskInitializer) is not null) return true;
        var softmax = ProbabilitiesSoftmax(graph, spec.ProbabilitiesOutput);
        int? rank = softmax is null ? null : Rank(graph, softmax.Input[0], 0);
        if (softmax is null || rank is not >= 2)
        {
            if (!required) return false;
            throw new TailorException(softmax is null
                ? $"No Softmax computes the output '{spec.ProbabilitiesOutput}' (through Flatten/Reshape/Identity only), so free slots cannot be masked out of it."
                : $"The rank of the Softmax '{softmax.Name}' input '{softmax.Input[0]}' cannot be worked out from the graph, so free slots cannot be masked out of it.");
        }
        // [C, 1, …]: numpy broadcasting aligns the mask with the class axis 1 of an [N, C, …] input.
        long[] dims = [spec.Labels.Capacity, .. Enumerable.Repeat(1L, rank.Value - 2)];
        string masked = softmax.Input[0] + "_masked";
        var add = OnnxGraph.Node("Add", SlotMaskNode, [softmax.Input[0], SlotMaskInitializer], [masked]);
        softmax.Input[0] = masked;
        graph.InsertBefore(softmax, add);
        graph.Initializer.Add(OnnxTensors.FromFloats(SlotMaskInitializer, dims, MaskValues(spec.Labels.Capacity, InUseSlots(spec.Labels))));
        return true;
    }

    /// <summary>The slots the mask leaves live; the labels in use when the model has no mask or an all-zero one.</summary>
    internal static IReadOnlyList<int> LiveSlots(UpdatableModel model)
    {
        float[]? mask = model.Proto.Graph.FindInitializer(SlotMaskInitializer) is { } t ? OnnxTensors.ToFloats(t) : null;
        if (mask is null || mask.All(v => v == 0)) return InUseSlots(model.Spec.Labels).ToList();
        return mask.Select((v, i) => (v, i)).Where(p => p.v == 0).Select(p => p.i).ToList();
    }

    /// <summary>
    /// Rewrites the mask so that exactly <paramref name="live"/> slots can be predicted (a training sets them to the slots its
    /// examples have: a label without examples, like a free placeholder, then gets probability exactly 0). With no live slot
    /// at all the mask is all zeros — a model without a single label has nothing else to predict.
    /// </summary>
    internal static void SetLiveSlots(UpdatableModel model, IEnumerable<int> live)
    {
        if (!EnsureSlotMask(model)) return;
        var graph = model.Proto.Graph;
        var mask = graph.GetInitializer(SlotMaskInitializer);
        int capacity = model.Spec.Labels.Capacity;
        long[] dims = [.. mask.Dims];
        dims[0] = capacity;
        graph.ReplaceInitializer(OnnxTensors.FromFloats(SlotMaskInitializer, dims, MaskValues(capacity, live)));
    }

    private static IEnumerable<int> InUseSlots(ClassLabels labels) =>
        Enumerable.Range(0, labels.Capacity).Where(i => !labels.IsPlaceholder(i));

    private static float[] MaskValues(int capacity, IEnumerable<int> live)
    {
        var values = new float[capacity];
        var set = live.Where(i => i >= 0 && i < capacity).ToHashSet();
        if (set.Count > 0)
            for (int i = 0; i < capacity; i++)
                if (!set.Contains(i)) values[i] = MaskedLogit;
        return values;
    }

    /// <summary>The Softmax whose output reaches <paramref name="probabilities"/> through shape-only ops, or null.</summary>
    private static NodeProto? ProbabilitiesSoftmax(GraphProto graph, string probabilities)
    {
        var node = graph.ProducerChain(probabilities, 16).FirstOrDefault(n => n.OpType is not ("Flatten" or "Reshape" or "Identity" or "Squeeze"));
        return node is { OpType: "Softmax" } ? node : null;
    }

    /// <summary>The rank of <paramref name="tensor"/> from the ops that produce it (no shape inference in .NET), or null.</summary>
    private static int? Rank(GraphProto graph, string tensor, int depth)
    {
        if (depth > 64) return null;
        if (graph.FindInitializer(tensor) is { } init) return init.Dims.Count;
        if (graph.Input.FirstOrDefault(v => v.Name == tensor) is { } input) return input.Type?.TensorType?.Shape?.Dim.Count;
        var node = graph.Producer(tensor);
        if (node is null) return null;
        int? In(int i) => node.Input.Count > i && node.Input[i].Length > 0 ? Rank(graph, node.Input[i], depth + 1) : null;
        switch (node.OpType)
        {
            case "Gemm" or "Flatten":
                return 2;
            case "Reshape":
                return node.Input.Count > 1 && graph.FindInitializer(node.Input[1]) is { } shape ? (int)shape.Dims.Aggregate(1L, (a, d) => a * d) : null;
            case "Squeeze":
                var axes = node.Attribute("axes")?.Ints ?? (node.Input.Count > 1 ? graph.FindInitializer(node.Input[1]) is { } a ? new Google.Protobuf.Collections.RepeatedField<long> { OnnxTensors.ToInt64s(a) } : null : null);
                return axes is null ? null : In(0) - axes.Count;
            case "MatMul":
                return In(0) is int r0 && In(1) is int r1 ? Math.Max(r0, r1) : null;
            case "Add" or "Sub" or "Mul" or "Div":
                return In(0) is int x && In(1) is int y ? Math.Max(x, y) : null;
            case "Conv" or "Relu" or "LeakyRelu" or "Sigmoid" or "Tanh" or "Clip" or "Dropout" or "Identity" or "BatchNormalization"
                or "AveragePool" or "GlobalAveragePool" or "MaxPool" or "GlobalMaxPool" or "Softmax" or "LogSoftmax":
                return In(0);
            default:
                return null;
        }
    }
}
