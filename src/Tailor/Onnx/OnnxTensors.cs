using System.Runtime.InteropServices;
using Google.Protobuf;
using Onnx;

namespace Tailor.Onnx;

/// <summary>Conversions between ONNX <see cref="TensorProto"/> initializers and managed arrays.</summary>
internal static class OnnxTensors
{
    /// <summary>The number of values <paramref name="t"/>'s shape holds (1 for a scalar).</summary>
    public static long ElementCount(TensorProto t)
    {
        long count = 1;
        foreach (long d in t.Dims) count = checked(count * d);
        return count;
    }

    /// <summary>The float values of a tensor, whether stored as <c>float_data</c> or little-endian <c>raw_data</c> (both
    /// occur: CNTK writes float_data, PyTorch writes raw_data).</summary>
    /// <param name="t">The tensor (an initializer, or a Constant node's value).</param>
    /// <param name="name">The name for messages; default the tensor's own (a Constant node's value has none).</param>
    /// <exception cref="TailorException">The tensor is not float, is stored in external data, or holds a number of values
    /// other than its shape needs.</exception>
    public static float[] ToFloats(TensorProto t, string? name = null) =>
        Read(t, name, TensorProto.Types.DataType.Float, t.FloatData, "floats");

    /// <summary>The int64 values of a tensor (shapes for Reshape, axes…), from <c>int64_data</c> or <c>raw_data</c>.</summary>
    /// <exception cref="TailorException">The tensor is not int64, is stored in external data, or holds a number of values
    /// other than its shape needs.</exception>
    public static long[] ToInt64s(TensorProto t, string? name = null) =>
        Read(t, name, TensorProto.Types.DataType.Int64, t.Int64Data, "int64 values");

    private static T[] Read<T>(TensorProto t, string? name, TensorProto.Types.DataType type, Google.Protobuf.Collections.RepeatedField<T> typed, string what)
        where T : unmanaged
    {
        name ??= t.Name;
        if (t.DataLocation == TensorProto.Types.DataLocation.External)
            throw new TailorException($"Initializer '{name}' is stored in external data; load the model with its data inlined.");
        if (t.DataType != (int)type)
            throw new TailorException($"Initializer '{name}' holds {(TensorProto.Types.DataType)t.DataType}, not {type.ToString().ToLowerInvariant()}.");
        T[] values = !t.RawData.IsEmpty ? MemoryMarshal.Cast<byte, T>(t.RawData.Span).ToArray() : [.. typed];
        long count = ElementCount(t);
        if (values.Length != count)
            throw new TailorException($"Initializer '{name}' holds {values.Length} {what}, but its shape [{string.Join(", ", t.Dims)}] needs {count}.");
        return values;
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
