using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Onnx;
using Tailor.Engine;

namespace Tailor.Tests.Engine;

/// <summary>Builds small ONNX graphs in code, runs them on the engine and on ONNX Runtime, and checks gradients.</summary>
internal sealed class OnnxTestGraph
{
    public GraphProto Graph { get; } = new() { Name = "test" };
    public int Opset { get; init; } = 13;
    readonly Dictionary<string, (int[] Shape, float[] Values)> floatTensors = [];

    public OnnxTestGraph Input(string name, params int[] shape)
    {
        Graph.Input.Add(ValueInfo(name, shape));
        return this;
    }

    /// <summary>Adds a float initializer; every other one is stored as little-endian raw_data (both encodings get exercised).</summary>
    public OnnxTestGraph Initializer(string name, int[] shape, float[] values, bool raw = false)
    {
        var t = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Float };
        t.Dims.AddRange(shape.Select(d => (long)d));
        if (raw)
        {
            var bytes = new byte[values.Length * 4];
            for (int i = 0; i < values.Length; i++)
                System.Buffers.Binary.BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(4 * i), values[i]);
            t.RawData = ByteString.CopyFrom(bytes);
        }
        else
            t.FloatData.AddRange(values);
        Graph.Initializer.Add(t);
        floatTensors[name] = (shape, values);
        return this;
    }

    public OnnxTestGraph Int64Initializer(string name, long[] values, bool raw = false)
    {
        var t = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Int64 };
        t.Dims.Add(values.Length);
        if (raw)
        {
            var bytes = new byte[values.Length * 8];
            for (int i = 0; i < values.Length; i++)
                System.Buffers.Binary.BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan(8 * i), values[i]);
            t.RawData = ByteString.CopyFrom(bytes);
        }
        else
            t.Int64Data.AddRange(values);
        Graph.Initializer.Add(t);
        return this;
    }

    public OnnxTestGraph Node(string opType, string[] inputs, string output, params AttributeProto[] attributes)
    {
        var n = new NodeProto { OpType = opType, Name = output + "_node" };
        n.Input.AddRange(inputs);
        n.Output.Add(output);
        n.Attribute.AddRange(attributes);
        Graph.Node.Add(n);
        return this;
    }

    public OnnxTestGraph Output(string name)
    {
        Graph.Output.Add(new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float } } });
        return this;
    }

    public static AttributeProto Attr(string name, long value) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };
    public static AttributeProto Attr(string name, float value) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Float, F = value };
    public static AttributeProto Attr(string name, string value) => new() { Name = name, Type = AttributeProto.Types.AttributeType.String, S = ByteString.CopyFromUtf8(value) };
    public static AttributeProto Attr(string name, params long[] values)
    {
        var a = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        a.Ints.AddRange(values);
        return a;
    }

    static ValueInfoProto ValueInfo(string name, int[] shape)
    {
        var tensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float, Shape = new TensorShapeProto() };
        foreach (int d in shape)
            tensorType.Shape.Dim.Add(d < 0 ? new TensorShapeProto.Types.Dimension { DimParam = "N" } : new TensorShapeProto.Types.Dimension { DimValue = d });
        return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = tensorType } };
    }

    public SuffixGraph Build(IEnumerable<string> trainable, int seed = 0, params string[] cutInputs) =>
        SuffixGraph.Build(Graph, cutInputs, [.. Graph.Output.Select(o => o.Name)], trainable.ToHashSet(), Opset, seed: seed);

    /// <summary>Runs the graph on ONNX Runtime (no graph optimizations) and returns each output's values.</summary>
    public Dictionary<string, float[]> RunOnnxRuntime(IReadOnlyDictionary<string, (float[] Values, int[] Shape)>? feeds = null)
    {
        var model = new ModelProto { IrVersion = 8, Graph = Graph, ProducerName = "Tailor.Tests" };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = Opset });
        using var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_DISABLE_ALL };
        using var session = new InferenceSession(model.ToByteArray(), options);
        var inputs = (feeds ?? new Dictionary<string, (float[], int[])>())
            .Select(f => NamedOnnxValue.CreateFromTensor(f.Key, new DenseTensor<float>(f.Value.Values, f.Value.Shape)))
            .ToList();
        using var results = session.Run(inputs);
        return results.ToDictionary(r => r.Name, r => r.AsEnumerable<float>().ToArray());
    }

    public static float[] Random(Random rng, int count, float scale = 1f, float avoidNearZero = 0f)
    {
        var v = new float[count];
        for (int i = 0; i < count; i++)
        {
            float x;
            do x = (float)(rng.NextDouble() * 2 - 1) * scale;
            while (MathF.Abs(x) < avoidNearZero);
            v[i] = x;
        }
        return v;
    }
}

/// <summary>Compares the engine's gradients with central finite differences of a random linear function of the output.</summary>
internal static class GradientCheck
{
    // L = Σ w·y over the output with random w; samplesPerParameter elements of each parameter are perturbed.
    public static void AssertMatchesFiniteDifferences(SuffixGraph graph, string output, int seed = 1, float step = 1e-2f,
        int samplesPerParameter = 40, float relativeTolerance = 2e-2f, Action? feed = null)
    {
        var rng = new Random(seed);
        feed?.Invoke();
        graph.Forward(false);
        var weights = OnnxTestGraph.Random(rng, graph.Output(output).Length);
        double Loss()
        {
            feed?.Invoke();
            graph.Forward(false);
            var y = graph.Output(output);
            double sum = 0;
            for (int i = 0; i < y.Length; i++) sum += (double)weights[i] * y[i];
            return sum;
        }
        graph.ZeroGradients();
        Loss();
        graph.SeedGradient(output, weights);
        graph.Backward();
        Assert.NotEmpty(graph.Parameters);
        foreach (var p in graph.Parameters.Values)
        {
            var analytic = p.Gradient.ToArray();
            float maxAbs = analytic.Length == 0 ? 0 : analytic.Max(MathF.Abs);
            Assert.True(maxAbs > 0, $"gradient of {p.Name} is all zero: the check would prove nothing");
            int count = Math.Min(samplesPerParameter, analytic.Length);
            for (int s = 0; s < count; s++)
            {
                int i = analytic.Length <= samplesPerParameter ? s : rng.Next(analytic.Length);
                float original = p.Value[i];
                p.Value[i] = original + step;
                double plus = Loss();
                p.Value[i] = original - step;
                double minus = Loss();
                p.Value[i] = original;
                double numeric = (plus - minus) / (2 * step);
                double tolerance = relativeTolerance * Math.Max(Math.Abs(numeric), Math.Abs(analytic[i])) + 1e-3 * Math.Max(1, maxAbs);
                Assert.True(Math.Abs(numeric - analytic[i]) <= tolerance,
                    $"{p.Name}[{i}]: analytic {analytic[i]}, finite difference {numeric} (tolerance {tolerance})");
            }
        }
    }

    public static void AssertClose(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, float tolerance = 1e-4f)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(MathF.Abs(expected[i] - actual[i]) <= tolerance * Math.Max(1, MathF.Abs(expected[i])),
                $"element {i}: expected {expected[i]}, got {actual[i]}");
    }
}
