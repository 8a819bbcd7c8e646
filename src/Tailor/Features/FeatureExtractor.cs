using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Onnx;
using Tailor.Building;
using Tailor.Images;
using Tailor.Onnx;

namespace Tailor.Features;

/// <summary>
/// Runs the frozen prefix of a model (everything before the cut) on ONNX Runtime and returns the cut
/// tensors per image — the features the trainable suffix starts from.
/// </summary>
public sealed unsafe class FeatureExtractor : IDisposable
{
    private readonly InferenceSession _session;
    private readonly RunOptions _runOptions = new();
    private readonly string _input;
    private readonly long[] _imageShape;
    private readonly string[] _outputNames;
    private readonly long _nativeBytes;
    private bool _disposed;

    /// <summary>Builds the prefix model for <paramref name="model"/>'s cut and an ONNX Runtime session for it on the
    /// execution provider <paramref name="executionProvider"/> (see <see cref="ExecutionProviders"/>; null: CPU).</summary>
    /// <exception cref="TailorException">ONNX Runtime cannot load the prefix, or the installed ONNX Runtime lacks the
    /// execution provider (the message names those it has) or cannot start it.</exception>
    public FeatureExtractor(UpdatableModel model, GraphCut cut, string? executionProvider = null)
    {
        Model = model;
        Cut = cut;
        var prefix = OnnxGraph.Subgraph(model.Proto, cut.CutTensors);
        try
        {
            _session = OnnxSessions.Create(prefix.ToByteArray(), executionProvider, out _nativeBytes);
        }
        catch (OnnxRuntimeException e)
        {
            throw new TailorException($"ONNX Runtime cannot load the model '{ModelName}' up to {string.Join(", ", cut.CutTensors.Select(t => $"'{t}'"))}: {e.Message}", e);
        }
        _outputNames = [.. cut.CutTensors];
        _input = model.Spec.Input;
        var p = model.Spec.Preprocessing;
        int c = ImageLoader.ChannelCount(p);
        _imageShape = p.Layout == Spec.TensorLayout.Nchw ? [1, c, p.Height, p.Width] : [1, p.Height, p.Width, c];
        ImageLength = ImageLoader.TensorLength(p);
        // Sizes of the cut tensors per example, from one blank run (shapes after the batch dimension).
        using var probe = OrtValue.CreateTensorValueFromMemory(new float[ImageLength], _imageShape);
        try
        {
            using var outputs = Run(probe, cut.CutTensors.ToArray(), 1);
            Shapes = outputs.Select(o => o.GetTensorTypeAndShape().Shape.Skip(1).Select(d => (int)d).ToArray()).ToArray();
        }
        catch (TailorException)
        {
            Dispose();
            throw;
        }
        Lengths = Shapes.Select(s => s.Aggregate(1, (a, d) => a * d)).ToArray();
        Fingerprint = ComputeFingerprint(prefix.Graph, model.Spec, cut.CutTensors);
    }

    /// <summary>What the features depend on, as a hex digest: the prefix graph with its weights, the image
    /// preprocessing and the cut tensors. Features kept with a model (<see cref="KeptExamples"/>) are replayed
    /// only into a cut with the same fingerprint: another backbone, a fine-tuned layer now in the prefix, or
    /// another cut would give other features for the same photo. It keys the rows of <see cref="FeatureCacheOptions.Store"/>
    /// (64 lowercase hex digits); computed once, when the extractor is made.</summary>
    public string Fingerprint { get; }

    /// <summary>The cut tensors and their per-example shapes, for messages: <c>'x' [256×14×14]</c>.</summary>
    internal string Description => string.Join(", ", Cut.CutTensors.Select((t, i) => $"'{t}' [{string.Join("×", Shapes[i])}]"));

    private static string ComputeFingerprint(GraphProto prefix, Spec.UpdateSpec spec, IReadOnlyList<string> cut)
    {
        // The graph alone (not the model's producer version or metadata, which change without changing a feature),
        // streamed through the hash rather than serialized to a second 45 MB array.
        using var sha = System.Security.Cryptography.SHA256.Create();
        using (var stream = new System.Security.Cryptography.CryptoStream(Stream.Null, sha, System.Security.Cryptography.CryptoStreamMode.Write, leaveOpen: true))
        {
            prefix.WriteTo(stream);
            stream.Write(System.Text.Encoding.UTF8.GetBytes(System.Text.Json.JsonSerializer.Serialize(spec.Preprocessing) + "\n" + spec.Input + "\n" + string.Join("\n", cut)));
            stream.FlushFinalBlock();
        }
        return Convert.ToHexStringLower(sha.Hash!);
    }

    public UpdatableModel Model { get; }

    public GraphCut Cut { get; }

    /// <summary>Floats per input image.</summary>
    public int ImageLength { get; }

    /// <summary>Per-example shape of each cut tensor (without the batch dimension).</summary>
    public IReadOnlyList<int[]> Shapes { get; }

    /// <summary>Floats per example of each cut tensor.</summary>
    public IReadOnlyList<int> Lengths { get; }

    /// <summary>Floats per example over all cut tensors, concatenated in <see cref="GraphCut.CutTensors"/> order.</summary>
    public int FeatureLength => Lengths.Sum();

    /// <summary>Runs the prefix on <paramref name="count"/> images and writes each example's cut tensors,
    /// concatenated, to <paramref name="features"/> (<see cref="FeatureLength"/> floats per example).</summary>
    /// <exception cref="TailorException">ONNX Runtime rejects the input or fails running the prefix.</exception>
    public void Extract(ReadOnlySpan<float> images, int count, Span<float> features)
    {
        if (count == 0) return;
        if (images.Length < (long)count * ImageLength)
            throw new ArgumentException($"The batch holds {images.Length} floats; {count} images need {(long)count * ImageLength}.", nameof(images));
        var shape = (long[])_imageShape.Clone();
        shape[0] = count;
        // ONNX Runtime reads the caller's floats in place (pinned for the run): a batch of 16 images is 9.6 MB,
        // which a copy would allocate on the large-object heap for every batch.
        fixed (float* data = images)
        {
            using var input = OrtValue.CreateTensorValueWithData(OrtMemoryInfo.DefaultInstance, TensorElementType.Float, shape,
                (nint)data, (long)count * ImageLength * sizeof(float));
            using var outputs = Run(input, _outputNames, count);
            CopyFeatures(outputs, count, features);
        }
    }

    private string ModelName => Model.Path ?? "(in memory)";

    /// <summary>One run of the prefix; ONNX Runtime's failures become a <see cref="TailorException"/> naming the model.</summary>
    private IDisposableReadOnlyCollection<OrtValue> Run(OrtValue input, string[] outputs, int count)
    {
        try
        {
            return _session.Run(_runOptions, [_input], [input], outputs);
        }
        catch (OnnxRuntimeException e)
        {
            throw new TailorException($"ONNX Runtime cannot run the model '{ModelName}' up to {string.Join(", ", outputs.Select(t => $"'{t}'"))} " +
                $"on {count} image{(count == 1 ? "" : "s")} of shape [{string.Join("×", _imageShape.Skip(1).Prepend(count))}]: {e.Message}", e);
        }
    }

    /// <summary>Interleaves the cut tensors of each example into its row of <paramref name="features"/>.</summary>
    private void CopyFeatures(IDisposableReadOnlyCollection<OrtValue> outputs, int count, Span<float> features)
    {
        int offset = 0;
        for (int t = 0; t < outputs.Count; t++)
        {
            var data = outputs[t].GetTensorDataAsSpan<float>();
            int len = Lengths[t];
            for (int n = 0; n < count; n++)
                data.Slice(n * len, len).CopyTo(features.Slice(n * FeatureLength + offset, len));
            offset += len;
        }
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        OnnxSessions.Release(_session, _nativeBytes);
        _runOptions.Dispose();
    }
}
