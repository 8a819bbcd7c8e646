using System.Runtime.InteropServices;
using Google.Protobuf;
using Onnx;

namespace Tailor.Onnx;

/// <summary>Conversions between ONNX <see cref="TensorProto"/> initializers and managed arrays.</summary>
internal static class OnnxTensors
{
    /// <summary>The float values of an initializer, whether stored as <c>float_data</c> or little-endian
    /// <c>raw_data</c> (both occur: CNTK writes float_data, PyTorch writes raw_data).</summary>
    public static float[] ToFloats(TensorProto t)
    {
        if (t.DataType != (int)TensorProto.Types.DataType.Float)
            throw new TailorException($"Initializer '{t.Name}' holds {(TensorProto.Types.DataType)t.DataType}, not float.");
        if (!t.RawData.IsEmpty)
            return MemoryMarshal.Cast<byte, float>(t.RawData.Span).ToArray();
        return t.FloatData.ToArray();
    }

    /// <summary>The int64 values of an initializer (shapes for Reshape, axes…).</summary>
    public static long[] ToInt64s(TensorProto t)
    {
        if (!t.RawData.IsEmpty)
            return MemoryMarshal.Cast<byte, long>(t.RawData.Span).ToArray();
        return t.Int64Data.ToArray();
    }

    /// <summary>A float initializer stored as raw_data (compact, and what ONNX Runtime reads fastest).</summary>
    public static TensorProto FromFloats(string name, IReadOnlyList<long> dims, ReadOnlySpan<float> values)
    {
        long count = dims.Aggregate(1L, (a, d) => a * d);
        if (count != values.Length)
            throw new ArgumentException($"Initializer '{name}': shape [{string.Join(",", dims)}] needs {count} values; got {values.Length}.");
        var t = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Float };
        t.Dims.AddRange(dims);
        t.RawData = ByteString.CopyFrom(MemoryMarshal.AsBytes(values));
        return t;
    }

    public static TensorProto FromInt64s(string name, IReadOnlyList<long> dims, ReadOnlySpan<long> values)
    {
        var t = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Int64 };
        t.Dims.AddRange(dims);
        t.RawData = ByteString.CopyFrom(MemoryMarshal.AsBytes(values));
        return t;
    }

    public static TensorProto FromStrings(string name, IReadOnlyList<string> values)
    {
        var t = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.String };
        t.Dims.Add(values.Count);
        foreach (var v in values) t.StringData.Add(ByteString.CopyFromUtf8(v));
        return t;
    }
}
