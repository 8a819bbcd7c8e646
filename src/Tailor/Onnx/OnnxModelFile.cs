using Google.Protobuf;
using Onnx;

namespace Tailor.Onnx;

/// <summary>Reads and writes ONNX files with clear errors; writing is atomic.</summary>
internal static class OnnxModelFile
{
    /// <summary>Reads an ONNX model.</summary>
    /// <exception cref="TailorException">The file is missing, empty, truncated or not ONNX.</exception>
    public static ModelProto Read(string path)
    {
        if (Directory.Exists(path))
            throw new TailorException($"'{path}' is a folder, not an ONNX model file.");
        if (!File.Exists(path))
            throw new TailorException($"The model file '{path}' does not exist.");
        RegularFile.Check(path, "an ONNX model file");
        // Through a symbolic link, FileInfo measures the link itself (a few bytes), and the model read that long was
        // refused as truncated: the length is the final target's.
        var file = new FileInfo(path);
        long length = (file.LinkTarget is null ? file : File.ResolveLinkTarget(path, returnFinalTarget: true) ?? file) is FileInfo target
            ? target.Length : file.Length;
        if (length == 0)
            throw new TailorException($"'{path}' is empty; an ONNX model was expected.");
        if (length > int.MaxValue)
            throw new TailorException($"'{path}' is {length / (1 << 20)} MiB; protobuf ONNX files are limited to 2 GiB (models with external data are not supported).");
        // Parsed from a memory-mapped view, not from a stream: protobuf sizes a packed repeated field exactly only when
        // the whole field is in its buffer. From a 64 KiB stream buffer, CNTK's float_data arrays (ResNet18: 61 MB) grew
        // by doubling, and reading the embedded backbone allocated 215 MB. The mapping costs no managed array.
        return Parse(() =>
        {
            using var map = System.IO.MemoryMappedFiles.MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0,
                System.IO.MemoryMappedFiles.MemoryMappedFileAccess.Read);
            using var view = map.CreateViewAccessor(0, length, System.IO.MemoryMappedFiles.MemoryMappedFileAccess.Read);
            unsafe
            {
                byte* start = null;
                view.SafeMemoryMappedViewHandle.AcquirePointer(ref start);
                try
                {
                    return ModelProto.Parser.ParseFrom(new ReadOnlySpan<byte>(start + view.PointerOffset, (int)length));
                }
                finally
                {
                    view.SafeMemoryMappedViewHandle.ReleasePointer();
                }
            }
        }, path);
    }

    /// <summary>
    /// Stores float and int64 initializers as raw_data. A <see cref="ByteString"/> is immutable, so a cloned model
    /// shares its weights instead of copying them (the builder and the trainers clone models), and serializing it
    /// for ONNX Runtime copies each tensor once, at its exact size.
    /// </summary>
    internal static void PackRawData(GraphProto graph)
    {
        foreach (var t in graph.Initializer)
        {
            if (t.FloatData.Count > 0 && t.DataType == (int)TensorProto.Types.DataType.Float)
            {
                t.RawData = ToRaw(t.FloatData);
                t.FloatData.Clear();
                t.FloatData.Capacity = 0;
            }
            else if (t.Int64Data.Count > 0 && t.DataType == (int)TensorProto.Types.DataType.Int64)
            {
                t.RawData = ToRaw(t.Int64Data);
                t.Int64Data.Clear();
                t.Int64Data.Capacity = 0;
            }
        }
    }

    /// <summary>The values as little-endian bytes, written straight into the array the ByteString then owns (no
    /// intermediate copy: the repeated field exposes no span).</summary>
    private static ByteString ToRaw<T>(Google.Protobuf.Collections.RepeatedField<T> values) where T : unmanaged
    {
        var bytes = new byte[values.Count * System.Runtime.CompilerServices.Unsafe.SizeOf<T>()];
        var typed = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, T>(bytes.AsSpan());
        for (int i = 0; i < typed.Length; i++) typed[i] = values[i];
        return UnsafeByteOperations.UnsafeWrap(bytes);
    }

    internal static ModelProto Parse(byte[] bytes, string path)
    {
        if (bytes.Length == 0)
            throw new TailorException($"'{path}' is empty; an ONNX model was expected.");
        return Parse(() => ModelProto.Parser.ParseFrom(bytes), path);
    }

    private static ModelProto Parse(Func<ModelProto> parse, string path)
    {
        ModelProto model;
        try
        {
            model = parse();
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new TailorException($"'{path}' is not a readable ONNX model (truncated or not ONNX): {e.Message}", e);
        }
        // Protobuf is lenient: many non-ONNX byte strings parse into a message with a few unknown fields.
        // A real model has an IR version, a graph and at least one node or output.
        if (model.IrVersion <= 0 || model.Graph is null || (model.Graph.Node.Count == 0 && model.Graph.Output.Count == 0))
            throw new TailorException($"'{path}' is not an ONNX model: it has no IR version or no graph.");
        PackRawData(model.Graph);
        return model;
    }

    /// <summary>Writes the model through a temporary file and an atomic move.</summary>
    public static void Write(ModelProto model, string path) => AtomicFile.Write(path, s => model.WriteTo(s));

    /// <summary>Reads a metadata_props value, or null.</summary>
    public static string? GetMetadata(this ModelProto model, string key) =>
        model.MetadataProps.FirstOrDefault(p => p.Key == key)?.Value;

    /// <summary>Sets (or replaces) a metadata_props value.</summary>
    public static void SetMetadata(this ModelProto model, string key, string value)
    {
        var existing = model.MetadataProps.FirstOrDefault(p => p.Key == key);
        if (existing is not null) existing.Value = value;
        else model.MetadataProps.Add(new StringStringEntryProto { Key = key, Value = value });
    }
}
