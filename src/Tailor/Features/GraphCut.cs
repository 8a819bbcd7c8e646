using Onnx;
using Tailor.Onnx;
using Tailor.Spec;

namespace Tailor.Features;

/// <summary>
/// Where the graph is cut: every node that an updatable layer's output reaches (and the updatable layers
/// themselves) is the trainable <em>suffix</em>, run by Tailor's engine; everything else is the frozen
/// <em>prefix</em>, run by ONNX Runtime once per example. The cut tensors are the prefix outputs the
/// suffix reads — one tensor for a head (the features), several when a residual branch crosses the cut.
/// </summary>
public sealed class GraphCut
{
    private GraphCut(IReadOnlyList<NodeProto> suffix, IReadOnlyList<string> cutTensors, IReadOnlyList<string> suffixOutputs)
    {
        SuffixNodes = suffix;
        CutTensors = cutTensors;
        SuffixOutputs = suffixOutputs;
    }

    /// <summary>Suffix nodes in graph (topological) order.</summary>
    internal IReadOnlyList<NodeProto> SuffixNodes { get; }

    /// <summary>Tensors computed by the prefix (or the graph input) and read by the suffix, in first-use order.</summary>
    public IReadOnlyList<string> CutTensors { get; }

    /// <summary>The graph outputs the suffix computes (e.g. probabilities; not the label string, which
    /// only the exported model needs).</summary>
    public IReadOnlyList<string> SuffixOutputs { get; }

    /// <summary>Cuts <paramref name="model"/> before its first updatable layer.</summary>
    /// <exception cref="TailorException">The spec names no updatable layer, or one missing from the graph.</exception>
    public static GraphCut Compute(UpdatableModel model) => Compute(model.Proto.Graph, model.Spec);

    /// <summary>A cut with no suffix: the prefix ends at <paramref name="tensors"/> (a k-NN or logistic
    /// regression head reads the features directly, whatever follows them in the graph).</summary>
    internal static GraphCut AtTensors(IReadOnlyList<string> tensors) => new([], tensors, []);

    /// <summary>A cut with no suffix at the tensors <paramref name="layer"/> reads, its weights left out: where a head
    /// fitted in place of a classifier layer takes its features.</summary>
    /// <exception cref="TailorException">The layer is not in the graph.</exception>
    internal static GraphCut AtInputsOf(GraphProto graph, string layer)
    {
        var node = graph.FindNode(layer) ?? throw new TailorException($"The classifier '{layer}' is not in the graph.");
        var initializers = graph.InitializerNames();
        return AtTensors([.. node.Input.Where(i => i.Length > 0 && !initializers.Contains(i)).Distinct()]);
    }

    internal static GraphCut Compute(GraphProto graph, UpdateSpec spec)
    {
        if (spec.UpdatableLayers.Count == 0)
            throw new TailorException("The model has no updatable layers; mark some with PrepareOptions.UpdatableLayers.");
        var updatable = spec.UpdatableLayers.Select(l => l.Name).ToHashSet();
        foreach (var name in updatable)
            if (graph.FindNode(name) is null) throw new TailorException($"The updatable layer '{name}' is not in the graph.");
        // The suffix: the updatable layers and every node downstream of them (reached: the tensors they compute).
        var (suffix, reached) = OnnxGraph.Downstream(graph.Node, [], n => updatable.Contains(n.Name));
        var initializers = graph.InitializerNames();
        // The label string (ArgMax → Gather) is for the exported model; training needs only the
        // probabilities, so keep just the nodes those (and the loss input) need.
        foreach (var term in spec.LossTerms)
            if (!reached.Contains(term.Input))
            {
                throw new TailorException(graph.TensorNames().Contains(term.Input)
                    ? $"The loss term {term} reads '{term.Input}', which no updatable layer ({string.Join(", ", updatable)}) affects: it cannot train anything. " +
                      "Pick a tensor after them, such as the probabilities output."
                    : $"The loss term {term} reads '{term.Input}', which is not a tensor of the graph. Tensors after the updatable layers: " +
                      $"{string.Join(", ", suffix.SelectMany(n => n.Output).Where(o => o.Length > 0).Take(20))}.");
            }
        var wanted = new HashSet<string>(spec.LossTerms.Select(t => t.Input)) { spec.ProbabilitiesOutput };
        var (kept, _) = OnnxGraph.Upstream(suffix, wanted);
        var cut = new List<string>();
        foreach (var node in kept)
            foreach (var input in node.Input)
                if (input.Length > 0 && !reached.Contains(input) && !initializers.Contains(input) && !cut.Contains(input))
                    cut.Add(input);
        var outputs = wanted.Where(reached.Contains).ToList();
        return new GraphCut(kept, cut, outputs);
    }
}
