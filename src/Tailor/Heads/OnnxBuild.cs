using System.Runtime.InteropServices;
using Google.Protobuf;
using Onnx;

namespace Tailor.Heads;

/// <summary>Small helpers for appending nodes and initializers to an ONNX graph.</summary>
internal static class OnnxBuild
{
    public static int DefaultOpset(ModelProto model)
    {
        foreach (var op in model.OpsetImport)
            if (op.Domain is "" or "ai.onnx")
                return checked((int)op.Version);
        throw new TailorException("The model declares no opset for the default ONNX domain (ai.onnx); it cannot be extended.");
    }

    public static NodeProto Node(string op, string name, string[] inputs, string[] outputs, params AttributeProto[] attributes)
    {
        var node = new NodeProto { OpType = op, Name = name };
        node.Input.AddRange(inputs);
        node.Output.AddRange(outputs);
        node.Attribute.AddRange(attributes);
        return node;
    }

    public static AttributeProto Int(string name, long value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };

    public static AttributeProto Ints(string name, params long[] values)
    {
        var a = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        a.Ints.AddRange(values);
        return a;
    }

    public static TensorProto Floats(string name, ReadOnlySpan<float> values, params long[] dims)
    {
        var t = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Float };
        t.Dims.AddRange(dims);
        // raw_data is little-endian by the ONNX spec; .NET runs little-endian on every supported platform.
        t.RawData = ByteString.CopyFrom(MemoryMarshal.AsBytes(values));
        return t;
    }

    public static TensorProto Int64s(string name, ReadOnlySpan<long> values, params long[] dims)
    {
        var t = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Int64 };
        t.Dims.AddRange(dims);
        t.RawData = ByteString.CopyFrom(MemoryMarshal.AsBytes(values));
        return t;
    }

    public static TensorProto Strings(string name, IReadOnlyList<string> values)
    {
        var t = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.String };
        t.Dims.Add(values.Count);
        foreach (string v in values)
            t.StringData.Add(ByteString.CopyFromUtf8(v));
        return t;
    }

    public static float[] ReadFloats(TensorProto t)
    {
        if (t.DataType != (int)TensorProto.Types.DataType.Float)
            throw new TailorException($"The initializer '{t.Name}' has data type {t.DataType}; float (1) is expected.");
        if (t.RawData.Length > 0)
            return MemoryMarshal.Cast<byte, float>(t.RawData.Span).ToArray();
        return [.. t.FloatData];
    }

    public static ValueInfoProto TensorValue(string name, TensorProto.Types.DataType type, params TensorShapeProto.Types.Dimension[] dims)
    {
        var shape = new TensorShapeProto();
        shape.Dim.AddRange(dims);
        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)type, Shape = shape } },
        };
    }

    public static TensorShapeProto.Types.Dimension Dim(long value) => new() { DimValue = value };

    public static TensorShapeProto.Types.Dimension Dim(string param) => new() { DimParam = param };

    /// <summary>Every tensor name used in the graph (inputs, outputs, initializers, node outputs).</summary>
    public static HashSet<string> TensorNames(GraphProto graph)
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
}
