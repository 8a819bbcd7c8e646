using Onnx;

namespace Tailor.Onnx;

/// <summary>The reachability walks: every pruning, cutting and subgraph extraction in Tailor goes through these.</summary>
internal static partial class OnnxGraph
{
    /// <summary>
    /// Backward walk: the nodes among <paramref name="nodes"/> that computing <paramref name="outputs"/> needs, in their
    /// order, and every tensor name those nodes read (with the outputs themselves).
    /// </summary>
    /// <param name="nodes">Nodes in topological order, as ONNX requires of a graph (or a slice of one).</param>
    /// <param name="outputs">The tensors wanted.</param>
    public static (List<NodeProto> Nodes, HashSet<string> Needed) Upstream(IReadOnlyList<NodeProto> nodes, IEnumerable<string> outputs)
    {
        var needed = new HashSet<string>(outputs);
        var keep = new bool[nodes.Count];
        for (int i = nodes.Count - 1; i >= 0; i--)
        {
            var n = nodes[i];
            if (!n.Output.Any(needed.Contains)) continue;
            keep[i] = true;
            foreach (var input in n.Input) needed.Add(input);
        }
        return ([.. nodes.Where((_, i) => keep[i])], needed);
    }

    /// <summary>
    /// Forward walk: the nodes among <paramref name="nodes"/> that <paramref name="start"/> selects or that read, directly or
    /// through other such nodes, a tensor in <paramref name="from"/>; in their order, and every tensor they produce.
    /// </summary>
    /// <param name="nodes">Nodes in topological order, as ONNX requires of a graph.</param>
    /// <param name="from">Tensors whose readers are reached (may be empty).</param>
    /// <param name="start">Nodes reached by themselves (null: none).</param>
    public static (List<NodeProto> Nodes, HashSet<string> Reached) Downstream(IReadOnlyList<NodeProto> nodes, IEnumerable<string> from,
        Func<NodeProto, bool>? start = null)
    {
        var seeds = new HashSet<string>(from);
        var reached = new HashSet<string>();
        var result = new List<NodeProto>();
        foreach (var node in nodes)
        {
            if (start?.Invoke(node) == true || node.Input.Any(i => reached.Contains(i) || seeds.Contains(i)))
            {
                result.Add(node);
                foreach (var o in node.Output) reached.Add(o);
            }
        }
        return (result, reached);
    }

    /// <summary>Removes every node, initializer and graph input not needed to compute <paramref name="outputs"/> (the graph
    /// outputs are the caller's to set).</summary>
    public static void PruneTo(this GraphProto graph, IEnumerable<string> outputs)
    {
        var (nodes, needed) = Upstream(graph.Node, outputs);
        graph.Node.Clear();
        graph.Node.AddRange(nodes);
        var inits = graph.Initializer.Where(t => needed.Contains(t.Name)).ToList();
        graph.Initializer.Clear();
        graph.Initializer.AddRange(inits);
        var ins = graph.Input.Where(v => needed.Contains(v.Name)).ToList();
        graph.Input.Clear();
        graph.Input.AddRange(ins);
    }

    /// <summary>
    /// A model computing only <paramref name="outputs"/> of <paramref name="model"/> (no metadata), for ONNX Runtime.
    /// It shares the source's node and initializer messages instead of copying them (Google.Protobuf's C# messages
    /// have no parent link, so one message can sit in two graphs): a deep clone of a ResNet18 model would allocate
    /// about 60 MB only to be serialized once. Neither model may be changed while the other is in use.
    /// </summary>
    public static ModelProto Subgraph(ModelProto model, IReadOnlyCollection<string> outputs)
    {
        var source = model.Graph;
        var (nodes, needed) = Upstream(source.Node, outputs);
        var graph = new GraphProto { Name = source.Name, DocString = source.DocString };
        graph.Node.AddRange(nodes);
        graph.Initializer.AddRange(source.Initializer.Where(t => needed.Contains(t.Name)));
        graph.SparseInitializer.AddRange(source.SparseInitializer.Where(t => needed.Contains(t.Values?.Name ?? "")));
        graph.Input.AddRange(source.Input.Where(v => needed.Contains(v.Name)));
        graph.ValueInfo.AddRange(source.ValueInfo.Where(v => needed.Contains(v.Name)));
        foreach (var t in outputs) graph.Output.Add(new ValueInfoProto { Name = t });
        var prefix = new ModelProto
        {
            IrVersion = model.IrVersion, ProducerName = model.ProducerName, ProducerVersion = model.ProducerVersion,
            Domain = model.Domain, ModelVersion = model.ModelVersion, Graph = graph,
        };
        prefix.OpsetImport.AddRange(model.OpsetImport);
        prefix.Functions.AddRange(model.Functions);
        return prefix;
    }

    /// <summary>
    /// The chain of producers back from <paramref name="tensor"/> through each node's first input, nearest first: what a
    /// search for the layer behind an output (a classifier, a Softmax) walks. It ends at a tensor no node produces (a graph
    /// input or an initializer) or after <paramref name="maxSteps"/> nodes.
    /// </summary>
    public static IEnumerable<NodeProto> ProducerChain(this GraphProto graph, string tensor, int maxSteps)
    {
        for (int step = 0; step < maxSteps; step++)
        {
            if (graph.Producer(tensor) is not { } node) yield break;
            yield return node;
            if (node.Input.Count == 0) yield break;
            tensor = node.Input[0];
        }
    }

    /// <summary>The node producing each tensor (by output name; empty optional outputs are left out).</summary>
    public static Dictionary<string, NodeProto> Producers(this GraphProto graph)
    {
        var producers = new Dictionary<string, NodeProto>();
        foreach (var n in graph.Node)
            foreach (var o in n.Output)
                if (o.Length > 0)
                    producers[o] = n;
        return producers;
    }
}
