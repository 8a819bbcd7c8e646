using System.Diagnostics;
using Tailor.Engine;
using Tailor.Engine.Losses;
using Tailor.Engine.Ops;
using Tailor.Tests.Training;
using Xunit.Abstractions;
using static Tailor.Tests.Engine.OnnxTestGraph;

namespace Tailor.Tests.Engine;

[Collection("Serial")]
public class SuffixGraphTests
{
    static OnnxTestGraph Linear(int inputs, int classes, bool softmax = true)
    {
        var rng = new Random(1);
        var g = new OnnxTestGraph()
            .Input("features", -1, inputs)
            .Initializer("fc.w", [classes, inputs], Random(rng, classes * inputs, 0.05f))
            .Initializer("fc.b", [classes], Random(rng, classes, 0.05f))
            .Node("Gemm", ["features", "fc.w", "fc.b"], "logits", Attr("transB", 1L));
        if (softmax)
            g.Node("Softmax", ["logits"], "prob").Output("prob");
        else
            g.Output("logits");
        return g;
    }

    static void SgdStep(SuffixGraph graph, Loss loss, ReadOnlySpan<float> x, int[] labels, int batch)
    {
        graph.SetInput(graph.InputNames[0], x, batch);
        graph.Forward(training: true);
        graph.ZeroGradients();
        loss.Evaluate(graph, LossTarget.Classes(labels.AsMemory(0, batch)));
        graph.Backward();
        // Indexing a cached array: enumerating the IReadOnlyDictionary would box its enumerator on every step.
        var parameters = ParameterArrays.GetValue(graph, g => [.. g.Parameters.Values]);
        for (int i = 0; i < parameters.Length; i++)
            System.Numerics.Tensors.TensorPrimitives.MultiplyAdd(parameters[i].Gradient, -0.01f, parameters[i].Value, parameters[i].Value);
    }

    static readonly System.Runtime.CompilerServices.ConditionalWeakTable<SuffixGraph, Tailor.Training.ITrainableParameter[]> ParameterArrays = [];

    [Fact]
    public void TrainingStep_AllocatesNothing_OnceWarm_EvenWhenTheBatchSizeAlternates()
    {
        var graph = Linear(512, 10).Build(["fc.w", "fc.b"], cutInputs: "features");
        var fire = SqueezeNetFireTests.FireGraph().Build(["squeeze.w", "expand3.w", "conv10.w"], cutInputs: "x");
        // Big enough (64×1024×64 multiply-adds per image) that its GEMMs are split across the cores.
        var wide = new OnnxTestGraph()
            .Input("x", -1, 64, 32, 32)
            .Initializer("conv.w", [64, 64, 1, 1], Random(new Random(5), 64 * 64, 0.1f))
            .Initializer("fc.w", [3, 64], Random(new Random(6), 3 * 64, 0.1f))
            .Node("Conv", ["x", "conv.w"], "c")
            .Node("GlobalAveragePool", ["c"], "g")
            .Node("Flatten", ["g"], "f")
            .Node("Gemm", ["f", "fc.w"], "logits", Attr("transB", 1L))
            .Node("Softmax", ["logits"], "prob").Output("prob")
            .Build(["conv.w", "fc.w"], cutInputs: "x");
        var wx = Random(new Random(7), 2 * 64 * 1024);
        int[] wideLabels = [0, 2];
        var x = Random(new Random(2), 8 * 512);
        var (fx, fl) = SqueezeNetFireTests.Data(8, 3);
        int[] labels = [1, 2, 3, 4, 5, 6, 7, 8];
        var loss = new CrossEntropyLoss("prob");
        for (int i = 0; i < 10; i++)
        {
            SgdStep(graph, loss, x, labels, 8);
            SgdStep(graph, loss, x.AsSpan(0, 5 * 512), labels, 5);
            SgdStep(fire, loss, fx, fl, 8);
            SgdStep(fire, loss, fx.AsSpan(0, fx.Length / 8 * 3), fl, 3);
            SgdStep(wide, loss, wx, wideLabels, 2);
        }
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 20; i++)
        {
            SgdStep(graph, loss, x, labels, 8);
            SgdStep(graph, loss, x.AsSpan(0, 5 * 512), labels, 5);
            SgdStep(fire, loss, fx, fl, 8);
            SgdStep(fire, loss, fx.AsSpan(0, fx.Length / 8 * 3), fl, 3);
            SgdStep(wide, loss, wx, wideLabels, 2);
        }
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public void FusedCrossEntropy_SeedsSoftmaxInput_WithProbabilitiesMinusOneHot()
    {
        var graph = Linear(4, 3).Build(["fc.w"], cutInputs: "features");
        var x = Random(new Random(3), 2 * 4, 3);
        graph.SetInput("features", x, 2);
        graph.Forward(false);
        graph.ZeroGradients();
        var result = new CrossEntropyLoss("prob").Evaluate(graph, LossTarget.Classes(new[] { 2, 0 }));
        var p = graph.Output("prob").ToArray();
        var seeded = graph.GradientOf("logits").ToArray();
        for (int b = 0; b < 2; b++)
            for (int k = 0; k < 3; k++)
                Assert.Equal((p[b * 3 + k] - (k == (b == 0 ? 2 : 0) ? 1 : 0)) / 2, seeded[b * 3 + k], 6);
        Assert.Equal(-(Math.Log(p[2]) + Math.Log(p[3])) / 2, result.Value, 5);
        Assert.Equal((p[0..3].AsSpan().IndexOf(p[0..3].Max()) == 2 ? 1 : 0) + (p[3..6].AsSpan().IndexOf(p[3..6].Max()) == 0 ? 1 : 0), result.Correct);
    }

    [Fact]
    public void CrossEntropy_OnAFlattenedSoftmax_IsSeededAtTheSoftmaxInput_EvenWhenTheTrueClassUnderflows()
    {
        // An adopted classifier ends Softmax → Flatten (tailor_flatten_probabilities). With the true class's probability
        // underflowing (confidently wrong, as a random or pretrained network often is), the exact gradient at the logits
        // is still p − onehot; seeding −1/max(p, ε) at the Flatten and going back through the Softmax gives about 0.
        var g = Linear(4, 3);
        g.Graph.Output.Clear();
        g.Node("Flatten", ["prob"], "flat", Attr("axis", 1L)).Output("flat");
        var graph = g.Build(["fc.w"], cutInputs: "features");
        var x = Random(new Random(3), 2 * 4, 3);
        for (int i = 0; i < x.Length; i++) x[i] *= 2000f;   // logits in the hundreds: p of the wrong classes underflow
        graph.SetInput("features", x, 2);
        graph.Forward(false);
        var p = graph.Output("flat").ToArray();
        int[] labels = [Array.IndexOf(p[0..3], p[0..3].Min()), Array.IndexOf(p[3..6], p[3..6].Min())];
        Assert.True(p[labels[0]] < 1e-7f, $"the test needs an underflowing true class; p = {p[labels[0]]}");

        graph.ZeroGradients();
        new CrossEntropyLoss("flat").Evaluate(graph, LossTarget.Classes(labels));
        graph.Backward();

        var atLogits = graph.GradientOf("logits").ToArray();
        for (int b = 0; b < 2; b++)
            for (int k = 0; k < 3; k++)
                Assert.Equal((p[b * 3 + k] - (k == labels[b] ? 1 : 0)) / 2, atLogits[b * 3 + k], 5);
    }

    [Fact]
    public void UnfusedCrossEntropy_OnSigmoidProbabilities_MatchesFiniteDifferences()
    {
        var g = Linear(5, 3, softmax: false);
        g.Graph.Output.Clear();
        g.Node("Sigmoid", ["logits"], "p").Output("p");
        var graph = g.Build(["fc.w", "fc.b"], cutInputs: "features");
        var x = Random(new Random(6), 4 * 5, 4);
        graph.SetInput("features", x, 4);
        var loss = new CrossEntropyLoss("p");
        var target = LossTarget.Classes(new[] { 0, 2, 1, 2 });
        graph.ZeroGradients();
        graph.Forward(false);
        loss.Evaluate(graph, target);
        graph.Backward();
        AssertGradientMatchesFiniteDifferences(graph, "fc.w", () => loss.Evaluate(graph, target, seedGradient: false).Value, precision: 2);
    }

    /// <summary>Central differences (step 0.01) of <paramref name="loss"/> against the gradient the last Backward
    /// left on <paramref name="parameter"/>, element by element.</summary>
    static void AssertGradientMatchesFiniteDifferences(SuffixGraph graph, string parameter, Func<double> loss, int precision)
    {
        var p = graph.Parameters[parameter];
        var analytic = p.Gradient.ToArray();
        for (int i = 0; i < analytic.Length; i++)
        {
            float original = p.Value[i];
            p.Value[i] = original + 1e-2f;
            graph.Forward(false);
            double plus = loss();
            p.Value[i] = original - 1e-2f;
            graph.Forward(false);
            double minus = loss();
            p.Value[i] = original;
            Assert.Equal((plus - minus) / 2e-2, analytic[i], precision);
        }
    }

    [Fact]
    public void MeanSquaredError_AndWeightedSum_OnTwoOutputs()
    {
        var g = Linear(3, 2);
        g.Output("logits");
        var graph = g.Build(["fc.w", "fc.b"], cutInputs: "features");
        graph.SetInput("features", [1f, 2f, 3f, -1f, 0.5f, 2f], 2);
        graph.Forward(false);
        float[] target = [0.5f, -0.5f, 1f, 0f];
        var logits = graph.Output("logits").ToArray();
        var mse = new MeanSquaredErrorLoss("logits");
        double expected = logits.Zip(target, (y, t) => (y - t) * (y - t)).Average();
        graph.ZeroGradients();
        var sum = new WeightedLossSum([(new CrossEntropyLoss("prob"), 1f), (mse, 0.5f)]);
        var ce = new CrossEntropyLoss("prob").Evaluate(graph, LossTarget.Classes(new[] { 1, 0 }), seedGradient: false);
        var r = sum.Evaluate(graph, [LossTarget.Classes(new[] { 1, 0 }), LossTarget.Tensor(target)]);
        Assert.Equal(ce.Value + 0.5 * expected, r.Value, 5);
        Assert.Equal(ce.Correct, r.Correct);
        // The logits' gradient is the sum of both seeds: (p − onehot)/B + 0.5 · 2 (y − t)/n.
        var p = graph.Output("prob").ToArray();
        int[] labels = [1, 0];
        var grad = graph.GradientOf("logits").ToArray();
        for (int i = 0; i < 4; i++)
            Assert.Equal((p[i] - (i % 2 == labels[i / 2] ? 1 : 0)) / 2 + 0.5 * 2 * (logits[i] - target[i]) / 4, grad[i], 5);
        Assert.Null(mse.Evaluate(graph, LossTarget.Tensor(target), seedGradient: false).Correct);
    }

    [Fact]
    public void WeightedCrossEntropyAndMse_OnTheSameSoftmaxOutput_MatchFiniteDifferences()
    {
        // Cross-entropy seeds the Softmax's input (fused), the MSE term its output: both must reach the weights.
        var graph = Linear(5, 3).Build(["fc.w", "fc.b"], cutInputs: "features");
        graph.SetInput("features", Random(new Random(8), 4 * 5, 2), 4);
        float[] oneHot = [1, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 1];
        var sum = new WeightedLossSum([(new CrossEntropyLoss("prob"), 0.7f), (new MeanSquaredErrorLoss("prob"), 2.5f)]);
        LossTarget[] targets = [LossTarget.Classes(new[] { 0, 2, 1, 2 }), LossTarget.Tensor(oneHot)];
        graph.ZeroGradients();
        graph.Forward(false);
        sum.Evaluate(graph, targets);
        graph.Backward();
        foreach (var name in new[] { "fc.w", "fc.b" })
            AssertGradientMatchesFiniteDifferences(graph, name, () => sum.Evaluate(graph, targets, seedGradient: false).Value, precision: 3);
    }

    [Fact]
    public void DropoutTraining_KeepsAboutOneMinusRatio_ScalesKept_AndRoutesGradientThroughMask()
    {
        var g = new OnnxTestGraph()
            .Initializer("x", [50, 40], Enumerable.Repeat(1f, 2000).ToArray())
            .Initializer("ratio", [], [0.3f])
            .Node("Dropout", ["x", "ratio"], "y").Output("y");
        var graph = g.Build(["x"], seed: 7);
        graph.Forward(training: true);
        var y = graph.Output("y").ToArray();
        Assert.All(y, v => Assert.True(v == 0 || MathF.Abs(v - 1 / 0.7f) < 1e-6f));
        double kept = y.Count(v => v != 0) / 2000.0;
        Assert.InRange(kept, 0.65, 0.75);
        graph.ZeroGradients();
        graph.SeedGradient("y", Enumerable.Repeat(1f, 2000).ToArray());
        graph.Backward();
        Assert.Equal(y, graph.Parameters["x"].Gradient.ToArray()); // dX = dY ⊙ mask, and here X = 1
        graph.Forward(training: true);
        Assert.NotEqual(y, graph.Output("y").ToArray()); // a fresh mask each training step
        graph.Forward(training: false);
        Assert.All(graph.Output("y").ToArray(), v => Assert.Equal(1f, v));
    }

    [Fact]
    public void UnsupportedOp_NamesOpTypeAndNode()
    {
        var g = Linear(4, 3, softmax: false);
        g.Graph.Output.Clear();
        g.Node("Erf", ["logits"], "e").Output("e");
        var e = Assert.Throws<TailorException>(() => g.Build(["fc.w"], cutInputs: "features"));
        Assert.Contains("Erf node 'e_node'", e.Message);
        Assert.Contains("not supported", e.Message);
    }

    [Fact]
    public void TrainableRunningMean_IsRejected_NamingTheNode()
    {
        var g = new OnnxTestGraph()
            .Input("x", -1, 2, 2, 2)
            .Initializer("s", [2], [1f, 1f]).Initializer("b", [2], [0f, 0f])
            .Initializer("m", [2], [0f, 0f]).Initializer("v", [2], [1f, 1f])
            .Node("BatchNormalization", ["x", "s", "b", "m", "v"], "bn").Output("bn");
        var e = Assert.Throws<TailorException>(() => g.Build(["m"], cutInputs: "x"));
        Assert.Contains("BatchNormalization node 'bn_node'", e.Message);
        Assert.Contains("input 3 ('m')", e.Message);
    }

    [Fact]
    public void InvalidAttribute_IsRejectedAtBuild_NamingTheNode()
    {
        var g = new OnnxTestGraph().Input("x", -1, 1, 4, 4)
            .Node("MaxPool", ["x"], "p", Attr("kernel_shape", 2L, 2), Attr("auto_pad", "SAME")).Output("p");
        var e = Assert.Throws<TailorException>(() => g.Build([], cutInputs: "x"));
        Assert.Contains("MaxPool node 'p_node': auto_pad 'SAME'", e.Message);
    }

    [Fact]
    public void TrainableInitializerNotAfterTheCut_IsRejected()
    {
        var g = Linear(4, 3).Initializer("unused", [1], [0f]);
        var e = Assert.Throws<TailorException>(() => g.Build(["fc.w", "unused"], cutInputs: "features"));
        Assert.Contains("'unused' is not used", e.Message);
    }

    [Fact]
    public void WrongInputLength_AndOutOfRangeLabel_GiveClearErrors()
    {
        var graph = Linear(4, 3).Build(["fc.w"], cutInputs: "features");
        Assert.Contains("expects 2 × 4 = 8 values, got 7", Assert.Throws<TailorException>(() => graph.SetInput("features", new float[7], 2)).Message);
        graph.SetInput("features", new float[8], 2);
        graph.Forward(true);
        Assert.Contains("Label 3 of example 1", Assert.Throws<TailorException>(() =>
            new CrossEntropyLoss("prob").Evaluate(graph, LossTarget.Classes(new[] { 0, 3 }))).Message);
    }

    [Fact]
    public void BatchSizeChange_GivesTheSameRowsAsOneBigBatch()
    {
        var graph = SqueezeNetFireTests.FireGraph().Build(["conv10.w"], cutInputs: "x");
        var (x, _) = SqueezeNetFireTests.Data(5, 9);
        graph.SetInput("x", x, 5);
        graph.Forward(false);
        var all = graph.Output("prob").ToArray();
        graph.SetInput("x", x.AsSpan(x.Length / 5 * 3), 2);
        graph.Forward(false);
        Assert.Equal(all[6..], graph.Output("prob").ToArray());
        graph.SetInput("x", x, 5);
        graph.Forward(false);
        Assert.Equal(all, graph.Output("prob").ToArray());
    }

    [Fact]
    public void Conv_ImagesRunInChunks_GiveTheBitsEachImageGivesAlone()
    {
        // 7×7 outputs: 10 images fill a chunk (490 columns), so 23 images run as chunks of 8, 8 and 7.
        var rng = new Random(12);
        var graph = new OnnxTestGraph()
            .Input("x", -1, 16, 7, 7)
            .Initializer("w", [24, 16, 3, 3], Random(rng, 24 * 16 * 9, 0.2f))
            .Node("Conv", ["x", "w"], "y", Attr("pads", 1L, 1, 1, 1)).Output("y")
            .Build(["w"], cutInputs: "x");
        var x = Random(rng, 23 * 16 * 49);
        graph.SetInput("x", x, 23);
        graph.Forward(false);
        var all = graph.Output("y").ToArray();
        int per = 24 * 49;
        foreach (int i in new[] { 0, 7, 8, 15, 22 })
        {
            graph.SetInput("x", x.AsSpan(i * 16 * 49, 16 * 49), 1);
            graph.Forward(false);
            Assert.Equal(all[(i * per)..((i + 1) * per)], graph.Output("y").ToArray());
        }
    }

    [Fact]
    public void Parameters_AreKeyedByInitializerName_WithShapes_AndGradientsAccumulateUntilZeroed()
    {
        var graph = Linear(4, 3).Build(["fc.w", "fc.b"], cutInputs: "features");
        Assert.Equal(["fc.b", "fc.w"], graph.Parameters.Keys.Order());
        Assert.Equal([3, 4], graph.Parameters["fc.w"].Shape);
        graph.SetInput("features", [1f, 2f, 3f, 4f], 1);
        var loss = new CrossEntropyLoss("prob");
        graph.ZeroGradients();
        graph.Forward(false);
        loss.Evaluate(graph, LossTarget.Classes(new[] { 1 }));
        graph.Backward();
        var once = graph.Parameters["fc.b"].Gradient.ToArray();
        graph.Forward(false);
        loss.Evaluate(graph, LossTarget.Classes(new[] { 1 }));
        graph.Backward();
        Assert.Equal(once.Select(v => 2 * v), graph.Parameters["fc.b"].Gradient.ToArray());
        graph.ZeroGradients();
        Assert.All(graph.Parameters["fc.b"].Gradient.ToArray(), v => Assert.Equal(0f, v));
    }

    [Theory]
    [InlineData(1, 16, 16, "pointwise")]  // 1×1 on a 16×16 plane: the path read straight from X, dW written in row blocks
    [InlineData(3, 8, 8, "Winograd")]     // 3×3 on 8×8: the Winograd path, dW folded from dU
    public void ConvWeightGradient_OverwritesAfterZeroGradients_AndAccumulatesWithout(int kernel, int h, int w, string path)
    {
        // ZeroGradients leaves a parameter's gradient to be cleared or overwritten by its first writer. Poison dW with NaN
        // before it: an element the overwrite misses stays NaN. Without ZeroGradients, a second pass must add (2×).
        const int n = 2, c = 16, m = 24;
        var rng = new Random(kernel);
        var g = new OnnxTestGraph()
            .Initializer("x", [n, c, h, w], Random(rng, n * c * h * w))
            .Initializer("w", [m, c, kernel, kernel], Random(rng, m * c * kernel * kernel, 0.5f), raw: true)
            .Initializer("b", [m], Random(rng, m, 0.5f));
        g.Node("Conv", ["x", "w", "b"], "y", Attr("pads", kernel / 2, kernel / 2, kernel / 2, kernel / 2)).Output("y");
        var graph = g.Build(["w", "b"]);
        var seed = Random(new Random(5), n * m * h * w);
        float[] Pass()
        {
            graph.Forward(true);
            graph.SeedGradient("y", seed);
            graph.Backward();
            return graph.Parameters["w"].Gradient.ToArray();
        }
        var previous = Conv.Forced;
        Conv.Forced = path == "Winograd" ? ConvAlgorithm.Winograd : ConvAlgorithm.Auto;
        try
        {
            graph.ZeroGradients();
            var clean = Pass();
            Assert.Equal(path == "Winograd", ((Conv)graph.NodeNamed("y").Op!).RanWinograd);
            graph.Parameters["w"].Gradient.Fill(float.NaN);
            graph.Parameters["b"].Gradient.Fill(float.NaN);
            graph.ZeroGradients();
            Assert.All(graph.GradientOf("b").ToArray(), v => Assert.Equal(0f, v)); // read before any pass: zero
            graph.Parameters["b"].Gradient.Fill(float.NaN);
            graph.ZeroGradients();
            Assert.Equal(clean, Pass());
            Assert.DoesNotContain(graph.Parameters["b"].Gradient.ToArray(), float.IsNaN);
            Assert.Equal(clean.Select(v => 2 * v), Pass(), new FloatComparer(1e-5f));
        }
        finally
        {
            Conv.Forced = previous;
        }
    }

    [Theory]
    [InlineData(3, 5)]      // serial
    [InlineData(300, 21)]   // 2·300·21·21 = 264,600 elements: the planes shared among the cores
    public void GlobalAveragePool_TwoReadersOfOneTensor_MeansAndGradientsMatchTheDefinition(int channels, int side)
    {
        // Two pools read x: the first backward writes dx (fresh), the second adds to it.
        const int n = 2;
        int area = side * side, planes = n * channels;
        var rng = new Random(channels);
        var x = Random(rng, planes * area);
        var g = new OnnxTestGraph().Initializer("x", [n, channels, side, side], x);
        g.Node("GlobalAveragePool", ["x"], "p1").Node("GlobalAveragePool", ["x"], "p2").Output("p1").Output("p2");
        var graph = g.Build(["x"]);
        graph.ZeroGradients();
        graph.Forward(true);
        float[] s1 = Random(rng, planes), s2 = Random(rng, planes);
        graph.SeedGradient("p1", s1);
        graph.SeedGradient("p2", s2);
        graph.Backward();
        var mean = Enumerable.Range(0, planes).Select(p => (float)x.Skip(p * area).Take(area).Select(v => (double)v).Average()).ToArray();
        Assert.Equal(mean, graph.Output("p1").ToArray(), new FloatComparer(1e-5f));
        Assert.Equal(mean, graph.Output("p2").ToArray(), new FloatComparer(1e-5f));
        var expected = Enumerable.Range(0, planes * area).Select(i => (s1[i / area] + s2[i / area]) / area).ToArray();
        Assert.Equal(expected, graph.GradientOf("x").ToArray(), new FloatComparer(1e-6f));
    }

    [Fact]
    public void EveryOpNamedInTheIssue_IsRegistered()
    {
        string[] expected = ["Gemm", "MatMul", "Add", "Mul", "Sub", "Conv", "Relu", "LeakyRelu", "Clip", "Sigmoid", "Tanh",
            "MaxPool", "AveragePool", "GlobalAveragePool", "Concat", "Flatten", "Reshape", "Transpose", "Softmax",
            "LogSoftmax", "BatchNormalization", "Dropout", "Identity",
            "LpNormalization", // beyond the issue: the L2 feature normalization of Tailor's own head
            // issue 13: what modern classifiers use after a cut
            "HardSwish", "HardSigmoid", "Div", "Pad", "Split", "Slice", "ReduceMean", "Squeeze", "Unsqueeze"];
        Assert.Equal(expected.Order(), OpRegistry.SupportedOpTypes);
    }
}
