using Onnx;

namespace Tailor.Onnx;

/// <summary>Small helpers for reading and editing an ONNX graph.</summary>
internal static class OnnxGraph
{
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

    public static NodeProto? FindNode(this GraphProto g, string name) => g.Node.FirstOrDefault(n => n.Name == name);

    /// <summary>The node producing <paramref name="tensor"/>, or null for graph inputs and initializers.</summary>
    public static NodeProto? Producer(this GraphProto g, string tensor) => g.Node.FirstOrDefault(n => n.Output.Contains(tensor));

    public static IEnumerable<NodeProto> Consumers(this GraphProto g, string tensor) => g.Node.Where(n => n.Input.Contains(tensor));

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

    /// <summary>A float tensor value-info with the given dims; a null dim is the symbolic batch "N".</summary>
    public static ValueInfoProto TensorInfo(string name, TensorProto.Types.DataType type, params long?[] dims)
    {
        var shape = new TensorShapeProto();
        foreach (var d in dims)
            shape.Dim.Add(d is long v ? new TensorShapeProto.Types.Dimension { DimValue = v } : new TensorShapeProto.Types.Dimension { DimParam = "N" });
        return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)type, Shape = shape } } };
    }

    /// <summary>Dims of a value-info as numbers; symbolic or unknown dims are −1.</summary>
    public static long[] Dims(this ValueInfoProto v) =>
        v.Type?.TensorType?.Shape?.Dim.Select(d => d.ValueCase == TensorShapeProto.Types.Dimension.ValueOneofCase.DimValue ? d.DimValue : -1).ToArray() ?? [];

    public static string ShapeText(this ValueInfoProto v) =>
        "[" + string.Join(", ", v.Type?.TensorType?.Shape?.Dim.Select(d => d.ValueCase == TensorShapeProto.Types.Dimension.ValueOneofCase.DimValue ? d.DimValue.ToString() : (d.DimParam is { Length: > 0 } p ? p : "?")) ?? []) + "]";

    /// <summary>The default-domain opset the model imports.</summary>
    public static long Opset(this ModelProto m) =>
        m.OpsetImport.FirstOrDefault(o => o.Domain is "" or "ai.onnx")?.Version ?? 1;

    /// <summary>Tensor names that are graph inputs fed by the user (graph inputs that are not initializers).</summary>
    public static IEnumerable<ValueInfoProto> RealInputs(this GraphProto g)
    {
        var inits = g.Initializer.Select(i => i.Name).ToHashSet();
        return g.Input.Where(i => !inits.Contains(i.Name));
    }
}
