using Onnx;
using Tailor.Onnx;
using Tailor.Spec;

namespace Tailor;

/// <summary>
/// An updatable model: a standard ONNX model plus its <see cref="UpdateSpec"/> (stored as JSON in the
/// model's metadata_props). Plain ONNX Runtime can run the file; Tailor can also train it.
/// </summary>
public sealed class UpdatableModel
{
    internal UpdatableModel(ModelProto proto, UpdateSpec spec, string? path)
    {
        Proto = proto;
        Spec = spec;
        Path = path;
    }

    /// <summary>The ONNX model. Edits go through Tailor's builder and trainers.</summary>
    internal ModelProto Proto { get; private set; }

    /// <summary>Replaces the ONNX graph (a head written as new nodes); the spec is kept and stored again.</summary>
    internal void ReplaceProto(ModelProto proto)
    {
        Proto = proto;
        Proto.SetMetadata(UpdateSpec.MetadataKey, Spec.ToJson());
    }

    /// <summary>The update specification.</summary>
    public UpdateSpec Spec { get; private set; }

    /// <summary>Where the model was read from or last written, if anywhere.</summary>
    public string? Path { get; private set; }

    /// <summary>Reads an updatable model.</summary>
    /// <exception cref="TailorException">Missing, truncated or non-ONNX file, an ONNX model without an update spec, or an
    /// update spec that is malformed, inconsistent or does not describe the graph (the message names the file and the
    /// spec's field).</exception>
    public static UpdatableModel Load(string path)
    {
        var proto = OnnxModelFile.Read(path);
        string? json = proto.GetMetadata(UpdateSpec.MetadataKey);
        if (json is null)
            throw new TailorException(
                $"'{path}' is an ONNX model but not an updatable one: it has no update spec ({UpdateSpec.MetadataKey} in metadata_props). " +
                $"Make one with ModelBuilder.Prepare (PrepareOptions.BaseModelPath \"{path}\" and its FeatureOutput), or ModelBuilder.Expand for a classifier.");
        var model = FromStoredSpec(proto, json, path);
        // A model written before free slots were masked gets its mask now, so it never predicts a placeholder.
        Building.ModelBuilder.EnsureSlotMask(model);
        return model;
    }

    /// <summary>
    /// The one step every read of a model file goes through: the spec stored in it is parsed and validated
    /// (<see cref="UpdateSpec.FromJson"/>), then checked against the graph it describes, so a model that loads is one
    /// every command can use.
    /// </summary>
    internal static UpdatableModel FromStoredSpec(ModelProto proto, string json, string path)
    {
        var spec = UpdateSpec.FromJson(json, path);
        SpecGraphCheck.Check(spec, proto.Graph, path);
        return new UpdatableModel(proto, spec, path);
    }

    /// <summary>Replaces the spec (validated) and stores it in the ONNX metadata.</summary>
    internal void SetSpec(UpdateSpec spec)
    {
        spec.Validate(Path ?? "");
        Spec = spec;
        Proto.SetMetadata(UpdateSpec.MetadataKey, spec.ToJson());
    }

    /// <summary>Writes the model atomically (temporary file, then move).</summary>
    public void Save(string path)
    {
        Proto.SetMetadata(UpdateSpec.MetadataKey, Spec.ToJson());
        OnnxModelFile.Write(Proto, path);
        Path = path;
    }

    /// <summary>The serialized ONNX bytes (for an in-memory ONNX Runtime session).</summary>
    public byte[] ToBytes()
    {
        Proto.SetMetadata(UpdateSpec.MetadataKey, Spec.ToJson());
        return Google.Protobuf.MessageExtensions.ToByteArray(Proto);
    }

    /// <summary>The values of a float initializer (a copy).</summary>
    public float[] GetParameter(string name) => OnnxTensors.ToFloats(Proto.Graph.GetInitializer(name));

    /// <summary>The shape of an initializer.</summary>
    public long[] GetParameterShape(string name) => Proto.Graph.GetInitializer(name).Dims.ToArray();

    /// <summary>Replaces the values of a float initializer, keeping its shape.</summary>
    public void SetParameter(string name, ReadOnlySpan<float> values)
    {
        var old = Proto.Graph.GetInitializer(name);
        Proto.Graph.ReplaceInitializer(OnnxTensors.FromFloats(name, old.Dims, values));
    }

    /// <summary>A deep copy (for a live model during training, or a what-if edit).</summary>
    public UpdatableModel Clone() => new(Proto.Clone(), Spec, Path);
}
