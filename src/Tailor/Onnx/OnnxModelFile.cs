using Google.Protobuf;
using Onnx;

namespace Tailor.Onnx;

/// <summary>Reads and writes ONNX files with clear errors; writing is atomic.</summary>
public static class OnnxModelFile
{
    /// <summary>Reads an ONNX model.</summary>
    /// <exception cref="TailorException">The file is missing, empty, truncated or not ONNX.</exception>
    public static ModelProto Read(string path)
    {
        if (Directory.Exists(path))
            throw new TailorException($"'{path}' is a folder, not an ONNX model file.");
        if (!File.Exists(path))
            throw new TailorException($"The model file '{path}' does not exist.");
        // Parsed from the stream, not from File.ReadAllBytes: the whole file as one array (47 MB for ResNet18) would
        // sit beside the parsed tensors, which copy their bytes anyway, and stay in the process's resident memory.
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        if (stream.Length == 0)
            throw new TailorException($"'{path}' is empty; an ONNX model was expected.");
        return Parse(() => ModelProto.Parser.ParseFrom(stream), path);
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
