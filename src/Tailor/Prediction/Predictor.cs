using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Tailor.Spec;

namespace Tailor.Prediction;

/// <summary>The model's answer for one image.</summary>
/// <param name="Label">The top label (the slot with the highest probability).</param>
/// <param name="Slot">Its slot index.</param>
/// <param name="Probability">Its probability.</param>
/// <param name="Probabilities">One probability per slot, in slot order (see the model's labels).</param>
public sealed record Classification(string Label, int Slot, float Probability, float[] Probabilities)
{
    /// <summary>The <paramref name="k"/> most probable (label, probability) pairs, best first; ties keep slot order. Free
    /// placeholder slots (probability 0: the model cannot predict them) are left out, unless no label is in use at all.</summary>
    public IReadOnlyList<(string Label, float Probability)> Top(int k, ClassLabels labels) =>
        Probabilities.Select((p, i) => (labels.Names[i], p, i))
            .Where(t => !labels.IsPlaceholder(t.i) || labels.Placeholders.Count == labels.Capacity)
            .OrderByDescending(t => t.p).ThenBy(t => t.i).Take(k).Select(t => (t.Item1, t.p)).ToList();
}

/// <summary>Options of a <see cref="Predictor"/>.</summary>
public sealed record PredictorOptions
{
    /// <summary>The ONNX Runtime execution provider the model runs on: <c>cpu</c> (default), <c>cuda</c>,
    /// <c>directml</c>… (see <see cref="Tailor.Onnx.ExecutionProviders"/>, which also says which package brings each).</summary>
    public string ExecutionProvider { get; init; } = Tailor.Onnx.ExecutionProviders.Cpu;
}

/// <summary>
/// Runs an updatable model on ONNX Runtime: the whole graph (backbone, normalization and head), exactly
/// as plain ONNX Runtime would, on batches of input tensors.
/// </summary>
public sealed unsafe class Predictor : IDisposable
{
    private readonly InferenceSession _session;
    private readonly RunOptions _runOptions = new();
    private readonly int _inputLength;
    private readonly long _nativeBytes;
    private bool _disposed;

    /// <summary>Creates a predictor for <paramref name="model"/> with its current weights.</summary>
    /// <exception cref="TailorException">ONNX Runtime cannot load the model, or the installed ONNX Runtime lacks
    /// <see cref="PredictorOptions.ExecutionProvider"/> (the message names those it has) or cannot start it.</exception>
    public Predictor(UpdatableModel model, PredictorOptions? options = null)
    {
        Model = model;
        try
        {
            _session = Tailor.Onnx.OnnxSessions.Create(model.ToBytes(), options?.ExecutionProvider, out _nativeBytes);
        }
        catch (OnnxRuntimeException e)
        {
            throw new TailorException($"ONNX Runtime cannot load the model '{ModelName}': {e.Message}", e);
        }
        var p = model.Spec.Preprocessing;
        _inputLength = (p.Channels == ChannelOrder.Gray ? 1 : 3) * p.Width * p.Height;
    }

    /// <summary>The model this predictor runs.</summary>
    public UpdatableModel Model { get; }

    /// <summary>Floats per image in the input tensor (C·H·W).</summary>
    public int InputLength => _inputLength;

    /// <summary>Predicts a batch of preprocessed images laid out one after another in <paramref name="batch"/>.</summary>
    /// <param name="batch">The images' tensors, <see cref="InputLength"/> floats each.</param>
    /// <param name="count">How many images the batch holds.</param>
    /// <param name="paths">The images' files (or other names), for messages; null names them by position.</param>
    /// <exception cref="TailorException">ONNX Runtime rejects the input, or the model's probabilities are NaN or
    /// infinite (weights damaged or overflowing): no label can be predicted from them.</exception>
    public Classification[] Predict(ReadOnlySpan<float> batch, int count, IReadOnlyList<string>? paths = null)
    {
        if (count == 0) return [];
        if (batch.Length < count * _inputLength)
            throw new ArgumentException($"The batch holds {batch.Length} floats; {count} images need {count * _inputLength}.");
        var spec = Model.Spec;
        var p = spec.Preprocessing;
        int channels = p.Channels == ChannelOrder.Gray ? 1 : 3;
        long[] shape = p.Layout == TensorLayout.Nchw ? [count, channels, p.Height, p.Width] : [count, p.Height, p.Width, channels];
        // ONNX Runtime reads the caller's floats in place, pinned for the run, instead of a copy of the batch.
        fixed (float* data = batch)
        {
            using var input = OrtValue.CreateTensorValueWithData(OrtMemoryInfo.DefaultInstance, TensorElementType.Float, shape,
                (nint)data, (long)count * _inputLength * sizeof(float));
            IDisposableReadOnlyCollection<OrtValue> results;
            try
            {
                results = _session.Run(_runOptions, [spec.Input], [input], [spec.ProbabilitiesOutput]);
            }
            catch (OnnxRuntimeException e)
            {
                throw new TailorException($"ONNX Runtime cannot run the model '{ModelName}' on {count} image{(count == 1 ? "" : "s")} " +
                    $"of shape [{string.Join("×", shape)}]: {e.Message}", e);
            }
            using (results)
                return ToPredictions(results[0].GetTensorDataAsSpan<float>(), count, paths);
        }
    }

    private string ModelName => Model.Path ?? "(in memory)";

    private Classification[] ToPredictions(ReadOnlySpan<float> probs, int count, IReadOnlyList<string>? paths)
    {
        var spec = Model.Spec;
        int slots = probs.Length / count;
        var predictions = new Classification[count];
        for (int n = 0; n < count; n++)
        {
            float[] row = probs.Slice(n * slots, slots).ToArray();
            // A damaged or overflowing weight gives NaN (or infinite) probabilities, from which no label can be predicted
            // (every comparison with NaN is false, so the "top" label would be slot 0 whatever the image).
            if (Array.FindIndex(row, v => !float.IsFinite(v)) is int bad and >= 0)
            {
                string image = paths is not null && n < paths.Count ? $"'{paths[n]}'" : $"image {n + 1} of the batch";
                throw new TailorException($"The model '{ModelName}' gives {(float.IsNaN(row[bad]) ? "NaN" : "infinite")} probabilities for {image}: its weights are damaged or overflow. Retrain it, or reset its updatable layers.");
            }
            int best = 0;
            for (int i = 1; i < slots; i++) if (row[i] > row[best]) best = i;
            predictions[n] = new Classification(spec.Labels.Names[best], best, row[best], row);
        }
        return predictions;
    }

    /// <summary>Decodes, preprocesses and predicts the image files at <paramref name="paths"/> (decoding on all
    /// cores, one ONNX Runtime batch).</summary>
    /// <exception cref="TailorException">A file that is missing or not a readable image, named with the reason.</exception>
    public Classification[] Predict(IReadOnlyList<string> paths)
    {
        ArgumentNullException.ThrowIfNull(paths);
        var (batch, results) = Images.ImageLoader.LoadBatch(paths, Model.Spec.Preprocessing);
        if (results.FirstOrDefault(r => r.Error is not null) is { } bad)
            throw new TailorException(bad.Error!);
        return Predict(batch, paths.Count, paths);
    }

    /// <summary>Decodes, preprocesses and predicts one image held in memory (an upload, a webcam frame): the same answer
    /// as <see cref="Predict(string)"/> on a file with these bytes, with nothing written to disk.</summary>
    /// <param name="content">The encoded image: the whole file's bytes.</param>
    /// <param name="name">How messages name the image.</param>
    /// <exception cref="TailorException">The bytes are not a readable image (the message names <paramref name="name"/>
    /// and says why).</exception>
    public Classification Predict(ReadOnlySpan<byte> content, string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        float[] input = System.Buffers.ArrayPool<float>.Shared.Rent(_inputLength);
        try
        {
            var tensor = input.AsSpan(0, _inputLength);
            Images.ImageLoader.LoadInto(content, name, Model.Spec.Preprocessing, tensor);
            return Predict(tensor, 1, [name])[0];
        }
        finally
        {
            System.Buffers.ArrayPool<float>.Shared.Return(input);
        }
    }

    /// <summary>Decodes, preprocesses and predicts one image file.</summary>
    /// <exception cref="TailorException">The file is missing or not a readable image.</exception>
    public Classification Predict(string path) => Predict([path])[0];

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        Tailor.Onnx.OnnxSessions.Release(_session, _nativeBytes);
        _runOptions.Dispose();
    }
}
