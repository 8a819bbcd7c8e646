using Onnx;

namespace Tailor.Onnx;

/// <summary>
/// Tailor's one module for reading and editing ONNX graphs: lookups, node/attribute/value-info builders, the opset rule
/// (<see cref="Opset"/>) and the reachability walks (<see cref="Upstream"/>, <see cref="Downstream"/>, <see cref="PruneTo"/>,
/// <see cref="Subgraph"/>). Callers decide what to cut or build; the graph mechanics live here. Tensor values are read and
/// written by <see cref="OnnxTensors"/>, files by <see cref="OnnxModelFile"/>.
/// </summary>
/// <remarks>Rewrites that normalize an imported graph before it is analysed (folding shape subgraphs into constants,
/// resolving initializers tied through Identity, turning Constant nodes into initializers) belong here too, as passes over a
/// <see cref="GraphProto"/> that run before the walks.</remarks>
internal static partial class OnnxGraph
{
    /// <summary>The domain names of the default ONNX operator set: "" and its alias "ai.onnx".</summary>
    public static bool IsDefaultDomain(string domain) => domain is "" or "ai.onnx";

    /// <summary>
    /// The version of the default ONNX operator set (domain "" or "ai.onnx") that <paramref name="model"/> imports: the one
    /// opset rule of Tailor, used by the training engine (op semantics such as Softmax's axis), the heads written as ONNX
    /// and every check on a model's opset. Entries for other domains (ai.onnx.ml, com.microsoft…) are ignored. Several
    /// default-domain entries (both "" and "ai.onnx", or a repeat) are accepted when they agree.
    /// </summary>
    /// <exception cref="TailorException">The model imports no default-domain opset (the ONNX checker and ONNX Runtime
    /// refuse such a model too), or its default-domain entries name different versions.</exception>
    public static int Opset(this ModelProto model)
    {
        var versions = model.OpsetImport.Where(o => IsDefaultDomain(o.Domain)).Select(o => o.Version).Distinct().ToList();
        return versions.Count switch
        {
            1 => checked((int)versions[0]),
            0 => throw new TailorException("The model imports no opset for the default ONNX domain (ai.onnx); its opset_import must name one" +
                 (model.OpsetImport.Count > 0 ? $" (it names only {string.Join(", ", model.OpsetImport.Select(o => $"'{o.Domain}' {o.Version}"))})." : ".")),
            _ => throw new TailorException($"The model imports the default ONNX domain (ai.onnx) at several versions ({string.Join(", ", versions)}); it must name one."),
        };
    }

    public static TensorProto? FindInitializer(this GraphProto g, string name) =>
        g.Initializer.FirstOrDefault(t => t.Name == name);

    public static TensorProto GetInitializer(this GraphProto g, string name) =>
        g.FindInitializer(name) ?? throw new TailorException($"The model has no initializer '{name}'.");

    public static void ReplaceInitializer(this GraphProto g, TensorProto t)
    {
        for (int i = 0; i < g.Initializer.Count; i++)
            if (g.Initializer[i].Name == t.Name) { g.Initializer[i] = t; return; }
        g.Initializer.Add(t);
    }

    /// <summary>The names of the graph's initializers.</summary>
    public static HashSet<string> InitializerNames(this GraphProto g) => g.Initializer.Select(t => t.Name).ToHashSet();

    public static NodeProto? FindNode(this GraphProto g, string name) => g.Node.FirstOrDefault(n => n.Name == name);

    /// <summary>The node producing <paramref name="tensor"/>, or null for graph inputs and initializers.</summary>
    public static NodeProto? Producer(this GraphProto g, string tensor) => g.Node.FirstOrDefault(n => n.Output.Contains(tensor));

    public static IEnumerable<NodeProto> Consumers(this GraphProto g, string tensor) => g.Node.Where(n => n.Input.Contains(tensor));

    /// <summary>Every tensor name used in the graph (inputs, outputs, initializers, node outputs).</summary>
    public static HashSet<string> TensorNames(this GraphProto graph)
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var v in graph.Input) names.Add(v.Name);
        foreach (var v in graph.Output) names.Add(v.Name);
        foreach (var t in graph.Initializer) names.Add(t.Name);
        foreach (var n in graph.Node)
            foreach (string o in n.Output)
                names.Add(o);
        return names;
    }

    /// <summary>Renames a tensor wherever nodes, graph inputs and graph outputs name it.</summary>
    public static void RenameTensor(this GraphProto graph, string from, string to)
    {
        if (from == to) return;
        foreach (var n in graph.Node)
        {
            for (int i = 0; i < n.Input.Count; i++) if (n.Input[i] == from) n.Input[i] = to;
            for (int i = 0; i < n.Output.Count; i++) if (n.Output[i] == from) n.Output[i] = to;
        }
        foreach (var v in graph.Input.Concat(graph.Output)) if (v.Name == from) v.Name = to;
    }

    /// <summary>Renames a tensor wherever it appears: nodes, graph inputs and outputs, initializers and value_info.</summary>
    public static void RenameEverywhere(this GraphProto graph, string from, string to)
    {
        graph.RenameTensor(from, to);
        foreach (var t in graph.Initializer) if (t.Name == from) t.Name = to;
        foreach (var v in graph.ValueInfo) if (v.Name == from) v.Name = to;
    }

    /// <summary>Puts <paramref name="nodes"/> in front of the graph's nodes, in their order.</summary>
    public static void Prepend(this GraphProto graph, IEnumerable<NodeProto> nodes)
    {
        var all = nodes.Concat(graph.Node).ToList();
        graph.Node.Clear();
        graph.Node.AddRange(all);
    }

    /// <summary>Copies of <paramref name="source"/>'s nodes and initializers with every tensor renamed by
    /// <paramref name="rename"/> and every node named <paramref name="nodePrefix"/> + its name (or op type), to merge one graph
    /// into another.</summary>
    public static (List<NodeProto> Nodes, List<TensorProto> Initializers) CopyRenamed(GraphProto source, Func<string, string> rename, string nodePrefix)
    {
        var nodes = new List<NodeProto>();
        foreach (var n in source.Node)
        {
            var copy = n.Clone();
            copy.Name = nodePrefix + (n.Name.Length > 0 ? n.Name : n.OpType);
            for (int i = 0; i < copy.Input.Count; i++) copy.Input[i] = rename(copy.Input[i]);
            for (int i = 0; i < copy.Output.Count; i++) copy.Output[i] = rename(copy.Output[i]);
            nodes.Add(copy);
        }
        var initializers = new List<TensorProto>();
        foreach (var t in source.Initializer)
        {
            var copy = t.Clone();
            copy.Name = rename(t.Name);
            initializers.Add(copy);
        }
        return (nodes, initializers);
    }

    /// <summary>Removes the nodes and initializers whose name <paramref name="remove"/> selects.</summary>
    public static void RemoveWhere(this GraphProto graph, Func<string, bool> remove)
    {
        var nodes = graph.Node.Where(n => !remove(n.Name)).ToList();
        graph.Node.Clear();
        graph.Node.AddRange(nodes);
        var initializers = graph.Initializer.Where(t => !remove(t.Name)).ToList();
        graph.Initializer.Clear();
        graph.Initializer.AddRange(initializers);
    }

    /// <summary>ONNX node names are optional; Tailor names layers by them, so unnamed nodes get
    /// <c>{OpType}_{index}</c>.</summary>
    public static void EnsureNodeNames(this GraphProto graph)
    {
        var used = graph.Node.Select(n => n.Name).Where(n => n.Length > 0).ToHashSet();
        for (int i = 0; i < graph.Node.Count; i++)
        {
            if (graph.Node[i].Name.Length > 0) continue;
            string name = $"{graph.Node[i].OpType}_{i}";
            while (!used.Add(name)) name += "_";
            graph.Node[i].Name = name;
        }
    }

    /// <summary>Puts <paramref name="node"/> just before <paramref name="before"/> (which must be in the graph).</summary>
    public static void InsertBefore(this GraphProto graph, NodeProto before, NodeProto node) =>
        graph.Node.Insert(graph.Node.IndexOf(before), node);

    public static AttributeProto? Attribute(this NodeProto n, string name) => n.Attribute.FirstOrDefault(a => a.Name == name);

    public static long IntAttribute(this NodeProto n, string name, long fallback) => n.Attribute(name) is { } a ? a.I : fallback;

    public static AttributeProto IntAttr(string name, long value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };

    public static AttributeProto FloatAttr(string name, float value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Float, F = value };

    public static AttributeProto IntsAttr(string name, params long[] values)
    {
        var a = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        a.Ints.AddRange(values);
        return a;
    }

    public static NodeProto Node(string op, string name, string[] inputs, string[] outputs, params AttributeProto[] attributes)
    {
        var n = new NodeProto { OpType = op, Name = name };
        n.Input.AddRange(inputs);
        n.Output.AddRange(outputs);
        n.Attribute.AddRange(attributes);
        return n;
    }

    /// <summary>A tensor value-info with the given dims; a null dim is the symbolic batch "N".</summary>
    public static ValueInfoProto TensorInfo(string name, TensorProto.Types.DataType type, params long?[] dims) =>
        TensorInfo(name, type, [.. dims.Select(d => d is long v ? Dim(v) : Dim("N"))]);

    /// <summary>A tensor value-info with the given dims.</summary>
    public static ValueInfoProto TensorInfo(string name, TensorProto.Types.DataType type, params TensorShapeProto.Types.Dimension[] dims)
    {
        var shape = new TensorShapeProto();
        shape.Dim.AddRange(dims);
        return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)type, Shape = shape } } };
    }

    public static TensorShapeProto.Types.Dimension Dim(long value) => new() { DimValue = value };

    public static TensorShapeProto.Types.Dimension Dim(string param) => new() { DimParam = param };

    /// <summary>Dims of a value-info as numbers; symbolic or unknown dims are −1.</summary>
    public static long[] Dims(this ValueInfoProto v) =>
        v.Type?.TensorType?.Shape?.Dim.Select(d => d.ValueCase == TensorShapeProto.Types.Dimension.ValueOneofCase.DimValue ? d.DimValue : -1).ToArray() ?? [];

    public static string ShapeText(this ValueInfoProto v) =>
        "[" + string.Join(", ", v.Type?.TensorType?.Shape?.Dim.Select(d => d.ValueCase == TensorShapeProto.Types.Dimension.ValueOneofCase.DimValue ? d.DimValue.ToString() : (d.DimParam is { Length: > 0 } p ? p : "?")) ?? []) + "]";

    /// <summary>Tensor names that are graph inputs fed by the user (graph inputs that are not initializers).</summary>
    public static IEnumerable<ValueInfoProto> RealInputs(this GraphProto g)
    {
        var inits = g.InitializerNames();
        return g.Input.Where(i => !inits.Contains(i.Name));
    }
}
