using Onnx;
using Tailor.Engine;
using Tailor.Onnx;
using Tailor.Spec;

namespace Tailor.Building;

/// <summary>One layer that can be made updatable (what <c>tailor layers</c> prints).</summary>
/// <param name="Name">The node name, as <see cref="PrepareOptions.UpdatableLayers"/> takes it.</param>
/// <param name="Op">The op type (Conv, Gemm, MatMul, BatchNormalization).</param>
/// <param name="ParameterCount">The values it would train (a BatchNormalization's scale and bias; weights and bias otherwise).</param>
/// <param name="OutputShape">Its output's shape for one image, batch shown as N; "?" when ONNX Runtime could not run the model.</param>
/// <param name="Blocker">The first op between it and the loss that the engine cannot train through ("OpType node 'name'"), or
/// null when backprop reaches it from the loss.</param>
/// <param name="InLastBlock">Whether <c>last-block</c> selects it.</param>
internal sealed record LayerRow(string Name, string Op, long ParameterCount, string OutputShape, string? Blocker, bool InLastBlock)
{
    /// <summary>Whether backprop reaches the layer from the loss (every op between them is one the engine can train through).</summary>
    public bool Reachable => Blocker is null;
}

/// <summary>
/// Which layers of a model can be updatable, whether the loss's gradient reaches them, and where the last block starts
/// (the <c>last-block</c> shorthand of <see cref="PrepareOptions.UpdatableLayers"/>).
/// </summary>
/// <remarks>
/// The last block: the candidate layers after the second-to-last join on the path to the output, a join being an Add or
/// Concat of two or more computed tensors (a residual Add, a fire module's or dense layer's Concat, a ShuffleNet unit's
/// Concat). That is the last residual unit (ResNet's last BasicBlock, MobileNet's last inverted-residual block with a skip
/// and the layers after it), the last fire module, dense layer or stage unit, and everything after it up to the classifier.
/// With one join, the layers after it; with none, the last two layers.
/// </remarks>
internal static class LayerCatalog
{
    /// <summary>The shorthand for the last block in <see cref="PrepareOptions.UpdatableLayers"/>.</summary>
    public const string LastBlock = "last-block";

    /// <summary>The layers of the model at <paramref name="path"/> (an updatable model, or any ONNX image model) that can be
    /// made updatable, in graph order, after the import passes.</summary>
    /// <exception cref="TailorException">The file is not an ONNX model.</exception>
    public static IReadOnlyList<LayerRow> Describe(string path)
    {
        var proto = OnnxModelFile.Read(path);
        proto.Graph.EnsureNodeNames();
        string? json = proto.GetMetadata(UpdateSpec.MetadataKey);
        var spec = json is null ? null : UpdateSpec.FromJson(json, path);
        if (proto.Graph.Output.Count == 0) throw new TailorException($"'{path}' has no outputs.");
        string output = spec?.ProbabilitiesOutput ?? proto.Graph.Output[0].Name;
        (int, int)? size = spec is null ? null : (spec.Preprocessing.Height, spec.Preprocessing.Width);
        proto.Import(size);
        return Describe(proto, output, size);
    }

    /// <summary>The rows for an imported model whose loss reads <paramref name="output"/>.</summary>
    public static IReadOnlyList<LayerRow> Describe(ModelProto proto, string output, (int Height, int Width)? size)
    {
        var graph = proto.Graph;
        var candidates = ModelBuilder.CandidateLayers(graph).Select(n => graph.FindNode(n)!).ToList();
        var block = FindLastBlock(graph, output).ToHashSet();
        var shapes = OnnxGraph.ProbeShapes(proto, [.. candidates.Select(n => n.Output[0]).Distinct()], size);
        var initializers = graph.Initializer.ToDictionary(t => t.Name);
        return [.. candidates.Select(n => new LayerRow(
            n.Name, n.OpType,
            ModelBuilder.ParameterInputs(graph, n).Sum(i => initializers.TryGetValue(n.Input[i], out var t) ? OnnxTensors.ElementCount(t) : 0),
            shapes is not null && shapes.TryGetValue(n.Output[0], out var s) ? "[" + string.Join(", ", s.Select((d, i) => i == 0 ? "N" : d.ToString())) + "]" : "?",
            BlockerAfter(graph, n, output),
            block.Contains(n.Name)))];
    }

    /// <summary>The first node on the way from <paramref name="layer"/> to <paramref name="output"/> that the engine cannot
    /// train through ("OpType node 'name'"), or null when there is none.</summary>
    public static string? BlockerAfter(GraphProto graph, NodeProto layer, string output)
    {
        var (downstream, reached) = OnnxGraph.Downstream(graph.Node, [], n => n == layer);
        if (!reached.Contains(output)) return $"its output does not reach '{output}'";
        var (path, _) = OnnxGraph.Upstream(downstream, [output]);
        foreach (var n in path)
            if (!OpRegistry.CanTrainThrough(n.OpType))
                return $"{n.OpType} node '{n.Name}'";
        return null;
    }

    /// <summary>The candidate layer nearest after <paramref name="node"/> (downstream of it, first in graph order) from which
    /// backprop reaches <paramref name="output"/>: where the updatable layers can start instead. Null when there is none.</summary>
    public static NodeProto? FirstTrainableAfter(GraphProto graph, NodeProto node, string output)
    {
        var (downstream, _) = OnnxGraph.Downstream(graph.Node, [], n => n == node);
        return downstream.FirstOrDefault(n => n != node && ModelBuilder.CandidateLayers(graph).Contains(n.Name) && BlockerAfter(graph, n, output) is null);
    }

    /// <summary>The layers of the last block (see the class remarks), in graph order.</summary>
    public static IReadOnlyList<string> FindLastBlock(GraphProto graph, string output)
    {
        var (path, _) = OnnxGraph.Upstream(graph.Node, [output]);
        var initializers = graph.InitializerNames();
        var joins = path.Select((n, i) => (n, i))
            .Where(p => p.n.OpType is "Add" or "Concat" or "Sum" && p.n.Input.Count(x => x.Length > 0 && !initializers.Contains(x)) >= 2)
            .Select(p => p.i).ToList();
        var candidates = ModelBuilder.CandidateLayers(graph).ToHashSet();
        var layers = path.Select((n, i) => (n, i)).Where(p => candidates.Contains(p.n.Name)).ToList();
        if (joins.Count == 0) return [.. layers.TakeLast(2).Select(p => p.n.Name)];
        int start = joins.Count >= 2 ? joins[^2] : joins[^1];
        return [.. layers.Where(p => p.i > start).Select(p => p.n.Name)];
    }
}
