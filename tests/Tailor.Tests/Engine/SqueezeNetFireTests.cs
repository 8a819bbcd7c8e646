using Tailor.Engine;
using Tailor.Engine.Losses;
using static Tailor.Tests.Engine.OnnxTestGraph;

namespace Tailor.Tests.Engine;

/// <summary>
/// A SqueezeNet-1.1-shaped suffix built as an ONNX graph: conv → relu → fire (squeeze 1×1 → relu → expand 1×1
/// and expand 3×3 pad 1 → relu each → Concat on channels) → MaxPool → Dropout → conv10 1×1 → relu →
/// AveragePool → Flatten → Softmax. Core ML stops training at conv10 because it cannot pass gradients back
/// through the Concat; the engine must.
/// </summary>
public class SqueezeNetFireTests
{
    const int Channels = 6, Size = 7, Classes = 2;
    static readonly string[] PreConcatWeights = ["squeeze.w", "squeeze.b", "expand1.w", "expand3.w", "expand3.b"];

    internal static OnnxTestGraph FireGraph(int seed = 3)
    {
        var rng = new Random(seed);
        float[] He(int fanIn, int count) => Random(rng, count, MathF.Sqrt(6f / fanIn));
        return new OnnxTestGraph { Opset = 13 }
            .Input("x", -1, Channels, Size, Size)
            .Initializer("conv1.w", [8, Channels, 3, 3], He(Channels * 9, 8 * Channels * 9))
            .Initializer("conv1.b", [8], Random(rng, 8, 0.1f), raw: true)
            .Initializer("squeeze.w", [4, 8, 1, 1], He(8, 32))
            .Initializer("squeeze.b", [4], Random(rng, 4, 0.1f))
            .Initializer("expand1.w", [5, 4, 1, 1], He(4, 20), raw: true)
            .Initializer("expand1.b", [5], Random(rng, 5, 0.1f))
            .Initializer("expand3.w", [5, 4, 3, 3], He(36, 180))
            .Initializer("expand3.b", [5], Random(rng, 5, 0.1f), raw: true)
            .Initializer("ratio", [], [0.25f])
            .Initializer("conv10.w", [Classes, 10, 1, 1], He(10, Classes * 10))
            .Initializer("conv10.b", [Classes], [0.3f, 0.3f])
            .Node("Conv", ["x", "conv1.w", "conv1.b"], "c1", Attr("pads", 1L, 1, 1, 1))
            .Node("Relu", ["c1"], "r1")
            .Node("Conv", ["r1", "squeeze.w", "squeeze.b"], "sq")
            .Node("Relu", ["sq"], "sqr")
            .Node("Conv", ["sqr", "expand1.w", "expand1.b"], "e1")
            .Node("Relu", ["e1"], "e1r")
            .Node("Conv", ["sqr", "expand3.w", "expand3.b"], "e3", Attr("pads", 1L, 1, 1, 1))
            .Node("Relu", ["e3"], "e3r")
            .Node("Concat", ["e1r", "e3r"], "fire", Attr("axis", 1L))
            .Node("MaxPool", ["fire"], "pool", Attr("kernel_shape", 3L, 3), Attr("strides", 2L, 2), Attr("ceil_mode", 1L))
            .Node("Dropout", ["pool", "ratio"], "drop")
            .Node("Conv", ["drop", "conv10.w", "conv10.b"], "c10")
            .Node("Relu", ["c10"], "c10r")
            .Node("AveragePool", ["c10r"], "gap", Attr("kernel_shape", 3L, 3))
            .Node("Flatten", ["gap"], "flat")
            .Node("Softmax", ["flat"], "prob")
            .Output("prob");
    }

    static readonly string[] AllWeights = ["conv1.w", "conv1.b", .. PreConcatWeights, "expand1.b", "conv10.w", "conv10.b"];

    /// <summary>Two classes that differ in which half of the channels is brighter, plus noise.</summary>
    internal static (float[] X, int[] Labels) Data(int count, int seed)
    {
        var rng = new Random(seed);
        int example = Channels * Size * Size;
        var x = new float[count * example];
        var labels = new int[count];
        for (int i = 0; i < count; i++)
        {
            labels[i] = i % 2;
            for (int j = 0; j < example; j++)
            {
                bool firstHalf = j / (Size * Size) < Channels / 2;
                x[i * example + j] = (float)(rng.NextDouble() - 0.5) + ((firstHalf ^ (labels[i] == 1)) ? 0.8f : 0f);
            }
        }
        return (x, labels);
    }

    [Fact]
    public void Forward_MatchesOnnxRuntime()
    {
        var g = FireGraph();
        var (x, _) = Data(3, 1);
        var expected = g.RunOnnxRuntime(new Dictionary<string, (float[], int[])> { ["x"] = (x, [3, Channels, Size, Size]) })["prob"];
        var graph = g.Build(AllWeights, cutInputs: "x");
        graph.SetInput("x", x, 3);
        graph.Forward(training: false);
        Assert.Equal([3, Classes], graph.OutputShape("prob").ToArray());
        GradientCheck.AssertClose(expected, graph.Output("prob"));
    }

    [Fact]
    public void CrossEntropyGradient_OfWeightsBeforeConcat_MatchesFiniteDifferences()
    {
        var graph = FireGraph().Build(AllWeights, cutInputs: "x");
        var (x, labels) = Data(4, 2);
        var loss = new CrossEntropyLoss("prob");
        var target = LossTarget.Classes(labels);
        double Loss()
        {
            graph.Forward(false);
            return loss.Evaluate(graph, target, seedGradient: false).Value;
        }
        graph.SetInput("x", x, 4);
        graph.ZeroGradients();
        graph.Forward(false);
        loss.Evaluate(graph, target);
        graph.Backward();
        const float step = 1e-3f;
        foreach (string name in PreConcatWeights)
        {
            var p = graph.Parameters[name];
            var analytic = p.Gradient.ToArray();
            Assert.Contains(analytic, g => MathF.Abs(g) > 1e-5f);
            for (int i = 0; i < analytic.Length; i += Math.Max(1, analytic.Length / 12))
            {
                float original = p.Value[i];
                p.Value[i] = original + step;
                double plus = Loss();
                p.Value[i] = original - step;
                double minus = Loss();
                p.Value[i] = original;
                double numeric = (plus - minus) / (2 * step);
                Assert.True(Math.Abs(numeric - analytic[i]) <= 0.03 * Math.Abs(analytic[i]) + 2e-4,
                    $"{name}[{i}]: analytic {analytic[i]}, finite difference {numeric}");
            }
        }
    }

    /// <summary>Plain SGD written here, a few dozen steps over batches of 6, 6 and 4 (the last one partial).</summary>
    internal static (float FirstEpochLoss, float LastEpochLoss, SuffixGraph Graph) Train(int epochs, int seed)
    {
        var graph = FireGraph().Build(AllWeights, seed, "x");
        var (x, labels) = Data(16, 7);
        var loss = new CrossEntropyLoss("prob");
        int example = Channels * Size * Size;
        float first = 0, last = 0;
        for (int epoch = 0; epoch < epochs; epoch++)
        {
            double epochLoss = 0;
            for (int start = 0; start < 16; start += 6)
            {
                int batch = Math.Min(6, 16 - start);
                graph.SetInput("x", x.AsSpan(start * example, batch * example), batch);
                graph.Forward(training: true);
                graph.ZeroGradients();
                epochLoss += loss.Evaluate(graph, LossTarget.Classes(labels.AsMemory(start, batch))).Value * batch;
                graph.Backward();
                foreach (var p in graph.Parameters.Values)
                    System.Numerics.Tensors.TensorPrimitives.MultiplyAdd(p.Gradient, -0.1f, p.Value, p.Value);
            }
            if (epoch == 0) first = (float)(epochLoss / 16);
            last = (float)(epochLoss / 16);
        }
        return (first, last, graph);
    }

    [Fact]
    public void Training_LowersTheLoss_AndChangesWeightsBeforeConcat()
    {
        var before = FireGraph().Build(AllWeights, cutInputs: "x");
        var (first, last, trained) = Train(epochs: 12, seed: 5);
        Assert.True(last < 0.6f * first, $"loss went from {first} to {last}");
        foreach (string name in PreConcatWeights)
        {
            var initial = before.Parameters[name].Value.ToArray();
            var now = trained.Parameters[name].Value.ToArray();
            double change = initial.Zip(now, (a, b) => Math.Abs(a - b)).Max();
            Assert.True(change > 1e-3, $"{name} barely moved ({change})");
        }
    }

    [Fact]
    public void SameSeed_GivesBitIdenticalWeights_IncludingDropout()
    {
        var (_, lossA, a) = Train(epochs: 3, seed: 42);
        var (_, lossB, b) = Train(epochs: 3, seed: 42);
        var (_, _, c) = Train(epochs: 3, seed: 43);
        Assert.Equal(lossA, lossB);
        foreach (var name in AllWeights)
            Assert.Equal(a.Parameters[name].Value.ToArray(), b.Parameters[name].Value.ToArray());
        // A different seed draws different dropout masks, so the weights must differ: the seed is really used.
        Assert.NotEqual(a.Parameters["conv10.w"].Value.ToArray(), c.Parameters["conv10.w"].Value.ToArray());
    }
}
