using Onnx;
using Tailor.Engine;
using static Tailor.Tests.Engine.OnnxTestGraph;

namespace Tailor.Tests.Engine;

/// <summary>
/// The ops modern classifiers use after a cut (MobileNetV3, ShuffleNetV2, EfficientNet exports): each against
/// ONNX Runtime and finite differences like the others, plus hand-computed values for the opset-dependent forms.
/// </summary>
public partial class OpTests
{
    /// <summary>Runs a one-node graph on the engine (inference forward) and returns output <paramref name="output"/>.</summary>
    static float[] Forward(string opType, (string Name, int[] Shape, float[] Values)[] inputs, AttributeProto[] attributes,
        int opset = 13, Action<OnnxTestGraph>? extraInitializers = null, string[]? inputNames = null, string[]? outputs = null,
        string output = "y", int[]? expectedShape = null)
    {
        var g = new OnnxTestGraph { Opset = opset };
        foreach (var (name, shape, values) in inputs)
            g.Initializer(name, shape, values);
        extraInitializers?.Invoke(g);
        var node = new NodeProto { OpType = opType, Name = "n" };
        node.Input.AddRange(inputNames ?? [.. inputs.Select(i => i.Name)]);
        node.Output.AddRange(outputs ?? ["y"]);
        node.Attribute.AddRange(attributes);
        g.Graph.Node.Add(node);
        g.Output(output);
        var graph = g.Build([]);
        graph.Forward(false);
        if (expectedShape is not null)
            Assert.Equal(expectedShape, graph.OutputShape(output).ToArray());
        return graph.Output(output).ToArray();
    }

    // ---- HardSigmoid, HardSwish ----

    [Fact] public void HardSigmoid_Defaults_HandComputed() =>
        GradientCheck.AssertClose([0f, 0.1f, 0.5f, 0.9f, 1f], Forward("HardSigmoid", [("x", [5], [-3f, -2f, 0f, 2f, 3f])], []));
    [Fact] public void HardSigmoid_AlphaBeta_HandComputed() =>
        GradientCheck.AssertClose([0f, 0.25f, 0.5f, 0.75f, 1f],
            Forward("HardSigmoid", [("x", [5], [-4f, -1.5f, 0f, 1.5f, 4f])], [Attr("alpha", 1f / 6), Attr("beta", 0.5f)]));
    [Fact] public void HardSigmoid_Defaults() => Check("HardSigmoid", [new In("x", [4, 6], AwayFrom(R(5, 24, 4), -2.5f, 2.5f))], []);
    [Fact] public void HardSigmoid_MobileNetV3Gate() =>
        Check("HardSigmoid", [new In("x", [4, 6], AwayFrom(R(5, 24, 5), -3f, 3f))], [Attr("alpha", 1f / 6), Attr("beta", 0.5f)], opset: 7);

    [Fact] public void HardSwish_HandComputed() =>
        GradientCheck.AssertClose([0f, 0f, -1f / 3, 0f, 5f / 3, 3f, 5f],
            Forward("HardSwish", [("x", [7], [-5f, -3f, -1f, 0f, 2f, 3f, 5f])], [], opset: 14));
    [Fact] public void HardSwish_AcrossAllThreeRegions() =>
        Check("HardSwish", [new In("x", [4, 6], AwayFrom(R(5, 24, 5), -3f, 3f))], [], opset: 14);

    // ---- Div ----

    [Fact] public void Div_HandComputed() =>
        GradientCheck.AssertClose([0.5f, 2f, -1.5f, 0.25f], Forward("Div", [("a", [2, 2], [1f, 4f, -6f, 1f]), ("b", [2, 1], [2f, 4f])], [], opset: 7));
    [Fact] public void Div_SameShape() => Check("Div", [X(3, 4), new In("b", [3, 4], R(2, 12, 2, avoidNearZero: 0.5f))], []);
    [Fact] public void Div_BroadcastPerChannel() => Check("Div", [X(2, 3, 2, 2), new In("b", [3, 1, 1], R(2, 3, 2, avoidNearZero: 0.5f))], [], opset: 7);
    [Fact] public void Div_TensorOverScalar() => Check("Div", [X(2, 5), new In("b", [], [1.7f])], [], opset: 14);
    [Fact] public void Div_ScalarOverTensor() => Check("Div", [new In("a", [1], [0.8f]), new In("b", [2, 3], R(2, 6, 2, avoidNearZero: 0.5f))], []);
    [Fact] public void Div_FrozenDivisor() => Check("Div", [X(2, 3), new In("b", [3], [2f, -3f, 4f], Trainable: false)], []);

    /// <summary>A built test graph checked like <see cref="Check"/>: forward against ONNX Runtime, then every trainable input by finite differences.</summary>
    static void CheckGraph(OnnxTestGraph g, string[] trainable, string output = "y")
    {
        var expected = g.RunOnnxRuntime()[output];
        var graph = g.Build(trainable);
        graph.Forward(false);
        GradientCheck.AssertClose(expected, graph.Output(output));
        GradientCheck.AssertMatchesFiniteDifferences(graph, output);
    }

    static NodeProto MultiOutputNode(string opType, string[] inputs, string[] outputs, params AttributeProto[] attributes)
    {
        var n = new NodeProto { OpType = opType, Name = opType + "_node" };
        n.Input.AddRange(inputs);
        n.Output.AddRange(outputs);
        n.Attribute.AddRange(attributes);
        return n;
    }

    static float[] Iota(int count) => [.. Enumerable.Range(0, count).Select(i => (float)i)];

    // ---- Squeeze, Unsqueeze ----

    [Fact] public void Squeeze_AxesAttributeBeforeOpset13() => Check("Squeeze", [X(2, 1, 3, 1)], [Attr("axes", 1L, 3)], opset: 11);
    [Fact] public void Squeeze_AxesInputFromOpset13() => Check("Squeeze", [X(2, 3, 1)], [],
        extraInitializers: g => g.Int64Initializer("axes", [-1]), inputNames: ["x", "axes"]);
    [Fact] public void Squeeze_Shapes() =>
        Assert.Equal([2f, 3f], Forward("Squeeze", [("x", [1, 2, 1, 1], [2f, 3f])], [Attr("axes", -2L, -1)], opset: 9, expectedShape: [1, 2]));
    [Fact] public void Squeeze_WithoutAxes_KeepsTheBatchDimension() =>
        Forward("Squeeze", [("x", [1, 3, 1, 1], [1f, 2f, 3f])], [], expectedShape: [1, 3]);
    [Fact] public void Squeeze_AxisNotOfSizeOne_IsRejected()
    {
        var e = Assert.Throws<TailorException>(() => Forward("Squeeze", [("x", [2, 3], R(1, 6))], [Attr("axes", [1L])], opset: 11));
        Assert.Contains("Squeeze node 'n'", e.Message);
        Assert.Contains("axis 1 has size 3, not 1", e.Message);
    }
    [Fact] public void Unsqueeze_AxesAttributeBeforeOpset13() => Check("Unsqueeze", [X(2, 3)], [Attr("axes", 1L, -1)], opset: 11);
    [Fact] public void Unsqueeze_AxesInputFromOpset13() => Check("Unsqueeze", [X(2, 3)], [],
        extraInitializers: g => g.Int64Initializer("axes", [0, 3]), inputNames: ["x", "axes"]);
    [Fact] public void Unsqueeze_Shapes() =>
        Forward("Unsqueeze", [("x", [2, 3], R(1, 6))], [Attr("axes", 1L, -1)], opset: 11, expectedShape: [2, 1, 3, 1]);

    // ---- Slice ----

    [Fact] public void Slice_AttributesBeforeOpset10() => Check("Slice", [X(2, 6, 3)], [Attr("starts", [1L]), Attr("ends", [4L]), Attr("axes", [1L])], opset: 9);
    [Fact] public void Slice_AttributesWithoutAxes() => Check("Slice", [X(3, 4)], [Attr("starts", 1L, -3), Attr("ends", 100L, -1)], opset: 7);
    [Fact] public void Slice_ChannelHalfToTheEnd() => Check("Slice", [X(2, 6, 2, 2)], [],
        extraInitializers: g => g.Int64Initializer("starts", [3]).Int64Initializer("ends", [long.MaxValue]).Int64Initializer("axes", [1]),
        inputNames: ["x", "starts", "ends", "axes"], opset: 11);
    [Fact] public void Slice_NegativeAxesStartsAndSteps() => Check("Slice", [X(2, 5, 6)], [],
        extraInitializers: g => g.Int64Initializer("starts", [-1, 1]).Int64Initializer("ends", [long.MinValue, 5]).Int64Initializer("axes", [-1, 1])
            .Int64Initializer("steps", [-2, 3]),
        inputNames: ["x", "starts", "ends", "axes", "steps"]);
    [Fact] public void Slice_StepsHandComputed() =>
        Assert.Equal([8f, 5f, 2f], Forward("Slice", [("x", [10], Iota(10))], [],
            extraInitializers: g => g.Int64Initializer("s", [8]).Int64Initializer("e", [1]).Int64Initializer("a", [0]).Int64Initializer("st", [-3]),
            inputNames: ["x", "s", "e", "a", "st"], expectedShape: [3]));
    [Fact] public void Slice_ZeroStep_IsRejected()
    {
        var e = Assert.Throws<TailorException>(() => Forward("Slice", [("x", [4], Iota(4))], [],
            extraInitializers: g => g.Int64Initializer("s", [0]).Int64Initializer("e", [4]).Int64Initializer("a", [0]).Int64Initializer("st", [0]),
            inputNames: ["x", "s", "e", "a", "st"]));
        Assert.Contains("Slice node 'n': steps [0] may not contain 0", e.Message);
    }

    // ---- Split (every used output is its own engine node) ----

    /// <summary>Split into <paramref name="parts"/>, then Concat them in reverse order: the gradient of every part flows back.</summary>
    static void CheckSplitReversed(int[] shape, int parts, int opset, long axis, long[]? sizes, bool sizesAsInput = false)
    {
        var g = new OnnxTestGraph { Opset = opset }.Initializer("x", shape, R(11, Count(shape)));
        string[] outputs = [.. Enumerable.Range(0, parts).Select(i => $"part{i}")];
        var attributes = new List<AttributeProto> { Attr("axis", axis) };
        var inputs = new List<string> { "x" };
        if (sizes is not null && sizesAsInput) { g.Int64Initializer("split", sizes); inputs.Add("split"); }
        else if (sizes is not null) attributes.Add(Attr("split", sizes));
        g.Graph.Node.Add(MultiOutputNode("Split", [.. inputs], outputs, [.. attributes]));
        g.Node("Concat", [.. outputs.Reverse()], "y", Attr("axis", axis)).Output("y");
        CheckGraph(g, ["x"]);
    }

    [Fact] public void Split_EqualHalvesOfChannels_Opset11() => CheckSplitReversed([2, 6, 2, 3], 2, opset: 11, axis: 1, sizes: null);
    [Fact] public void Split_SizesAttribute_LastAxis() => CheckSplitReversed([2, 3, 6], 3, opset: 11, axis: -1, sizes: [1, 2, 3]);
    [Fact] public void Split_SizesInputFromOpset13() => CheckSplitReversed([4, 5], 2, opset: 13, axis: 0, sizes: [3, 1], sizesAsInput: true);
    [Fact] public void Split_DefaultAxis0_Opset7() => CheckSplitReversed([4, 3], 2, opset: 7, axis: 0, sizes: null);
    [Fact] public void Split_OnlyTheSecondOutputUsed()
    {
        var g = new OnnxTestGraph { Opset = 11 }.Initializer("x", [2, 4], Iota(8));
        g.Graph.Node.Add(MultiOutputNode("Split", ["x"], ["first", "y"], Attr("axis", 1L), Attr("split", 1L, 3)));
        g.Output("y");
        var graph = g.Build(["x"]);
        graph.Forward(false);
        Assert.Equal([2, 3], graph.OutputShape("y").ToArray());
        Assert.Equal([1f, 2f, 3f, 5f, 6f, 7f], graph.Output("y").ToArray());
        GradientCheck.AssertMatchesFiniteDifferences(graph, "y");
        graph.ZeroGradients();
        graph.Forward(false);
        graph.SeedGradient("y", [1, 1, 1, 1, 1, 1]);
        graph.Backward();
        Assert.Equal([0f, 1f, 1f, 1f, 0f, 1f, 1f, 1f], graph.Parameters["x"].Gradient.ToArray());
    }
    [Fact] public void Split_UnevenWithoutSizes_IsRejected()
    {
        var g = new OnnxTestGraph { Opset = 11 }.Initializer("x", [2, 5], R(1, 10));
        g.Graph.Node.Add(MultiOutputNode("Split", ["x"], ["a", "y"], Attr("axis", 1L)));
        g.Output("y");
        var e = Assert.Throws<TailorException>(() => g.Build(["x"]).Forward(false));
        Assert.Contains("Split node 'Split_node': dimension 1 of size 5 does not divide into 2 equal parts", e.Message);
    }
    [Fact] public void SecondOutputOfASingleOutputOp_IsRejected()
    {
        var g = new OnnxTestGraph { Opset = 13 }.Initializer("x", [1, 1, 4, 4], R(1, 16));
        g.Graph.Node.Add(MultiOutputNode("MaxPool", ["x"], ["pooled", "y"], Attr("kernel_shape", 2L, 2)));
        g.Output("y");
        var e = Assert.Throws<TailorException>(() => g.Build(["x"]));
        Assert.Contains("MaxPool node 'MaxPool_node': its output 'y' (output 1) is used after the cut", e.Message);
    }

    // ---- ReduceMean ----

    [Fact] public void ReduceMean_SpatialKeepDims() => Check("ReduceMean", [Image(2, 3, 4, 5)], [Attr("axes", 2L, 3)]);
    [Fact] public void ReduceMean_SpatialDropDims_NegativeAxes() => Check("ReduceMean", [Image(2, 3, 2, 3)], [Attr("axes", -1L, -2), Attr("keepdims", 0L)], opset: 11);
    [Fact] public void ReduceMean_MiddleAxis() => Check("ReduceMean", [X(2, 3, 4)], [Attr("axes", [1L]), Attr("keepdims", 0L)], opset: 7);
    [Fact]
    public void ListAttribute_StoredAsOneInt_IsRefused_NamingIt()
    {
        // Read as an empty list, axes = 1 would mean "every axis": a mean over the whole tensor, silently.
        var e = Assert.Throws<TailorException>(() => Forward("ReduceMean", [("x", [2, 3], R(1, 6))], [Attr("axes", 1L)]));
        Assert.Contains("ReduceMean node 'n': attribute 'axes' is stored as one integer (INT)", e.Message);
        var f = Assert.Throws<TailorException>(() => Forward("Flatten", [("x", [2, 3], R(1, 6))], [Attr("axis", [1L])]));
        Assert.Contains("attribute 'axis' is stored as a list of integers (INTS)", f.Message);
    }
    [Fact] public void ReduceMean_NonAdjacentAxes() => Check("ReduceMean", [X(2, 3, 4, 2)], [Attr("axes", 0L, 2)]);
    [Fact] public void ReduceMean_AllAxesByDefault() => Check("ReduceMean", [X(2, 3, 4)], []);
    [Fact] public void ReduceMean_AxesInputFromOpset18() => Check("ReduceMean", [X(2, 3, 4)], [Attr("keepdims", 0L)],
        extraInitializers: g => g.Int64Initializer("axes", [-1]), inputNames: ["x", "axes"], opset: 18);
    [Fact] public void ReduceMean_HandComputed() =>
        Assert.Equal([2f, 5f], Forward("ReduceMean", [("x", [2, 3], [1f, 2f, 3f, 4f, 5f, 6f])], [Attr("axes", [1L]), Attr("keepdims", 0L)], expectedShape: [2]));

    // ---- Pad ----

    [Fact] public void Pad_ConstantAttributesBeforeOpset11() =>
        Check("Pad", [Image(1, 2, 3, 3)], [Attr("pads", 0L, 0, 1, 2, 0, 0, 2, 1), Attr("value", 0.5f)], opset: 9);
    [Fact] public void Pad_ConstantInputsFromOpset11() => Check("Pad", [Image(2, 2, 3, 2)], [],
        extraInitializers: g => g.Int64Initializer("pads", [0, 0, 0, 1, 0, 0, 1, 1]).Initializer("value", [], [-0.25f]),
        inputNames: ["x", "pads", "value"], opset: 11);
    [Fact] public void Pad_Reflect() => Check("Pad", [Image(1, 2, 4, 4)], [Attr("mode", "reflect")],
        extraInitializers: g => g.Int64Initializer("pads", [0, 0, 2, 1, 0, 0, 1, 3]), inputNames: ["x", "pads"]);
    [Fact] public void Pad_Edge() => Check("Pad", [Image(1, 2, 3, 4)], [Attr("mode", "edge")],
        extraInitializers: g => g.Int64Initializer("pads", [0, 1, 2, 1, 0, 0, 3, 2]), inputNames: ["x", "pads"]);
    [Fact] public void Pad_NegativePadsCrop() => Check("Pad", [Image(1, 2, 4, 4)], [],
        extraInitializers: g => g.Int64Initializer("pads", [0, 0, -1, 1, 0, 0, 1, -2]), inputNames: ["x", "pads"], opset: 11);
    [Theory]
    [InlineData("constant", new[] { 9f, 9f, 1f, 2f, 3f, 9f })]
    [InlineData("reflect", new[] { 3f, 2f, 1f, 2f, 3f, 2f })]
    [InlineData("edge", new[] { 1f, 1f, 1f, 2f, 3f, 3f })]
    public void Pad_Modes_HandComputed(string mode, float[] expected) =>
        Assert.Equal(expected, Forward("Pad", [("x", [3], [1f, 2f, 3f])], [Attr("mode", mode), Attr("pads", 2L, 1), Attr("value", 9f)], opset: 9));
    [Fact] public void Pad_WrapMode_IsRejected()
    {
        var e = Assert.Throws<TailorException>(() => Forward("Pad", [("x", [3], [1f, 2f, 3f])], [Attr("mode", "wrap")],
            extraInitializers: g => g.Int64Initializer("pads", [1, 1]), inputNames: ["x", "pads"]));
        Assert.Contains("Pad node 'n': mode 'wrap' is not supported; use constant, reflect or edge", e.Message);
    }

    // ---- Dropout's mask output ----

    static SuffixGraph DropoutWithMask(int opset, float ratio, params string[] outputs)
    {
        var g = new OnnxTestGraph { Opset = opset }.Initializer("x", [4, 50], R(11, 200, avoidNearZero: 0.01f));
        string[] inputs = opset < 12 ? ["x"] : ["x", "ratio"];
        if (opset >= 12) g.Initializer("ratio", [], [ratio]);
        g.Graph.Node.Add(MultiOutputNode("Dropout", inputs, ["y", "mask"], opset < 12 ? [Attr("ratio", ratio)] : []));
        foreach (var o in outputs) g.Output(o);
        return g.Build(["x"], seed: 7);
    }

    [Theory]
    [InlineData(7)]
    [InlineData(13)]
    public void Dropout_MaskOutput_AllTrueInInference(int opset)
    {
        var graph = DropoutWithMask(opset, 0.3f, "mask");
        graph.Forward(false);
        Assert.All(graph.Output("mask").ToArray(), m => Assert.Equal(1f, m));
    }

    [Fact]
    public void Dropout_MaskOutput_IsTheMaskApplied_InTraining()
    {
        var graph = DropoutWithMask(13, 0.3f, "y", "mask");
        for (int step = 0; step < 3; step++)
        {
            graph.Forward(true);
            var x = graph.Parameters["x"].Value.ToArray();
            var y = graph.Output("y").ToArray();
            var mask = graph.Output("mask").ToArray();
            Assert.Contains(0f, mask);
            Assert.Contains(1f, mask);
            Assert.All(mask, m => Assert.True(m is 0f or 1f));
            for (int i = 0; i < y.Length; i++)
                Assert.Equal(mask[i] * x[i] / 0.7f, y[i], 5);
        }
    }

    [Fact]
    public void Dropout_WithMaskOutput_GradientOfY()
    {
        var graph = DropoutWithMask(13, 0.3f, "y", "mask");
        GradientCheck.AssertMatchesFiniteDifferences(graph, "y");
    }

    // ---- Softmax / LogSoftmax axis rules, Gemm attributes at old opsets ----

    [Fact] public void Softmax_Opset9DefaultAxisRank4() => Check("Softmax", [new In("x", [2, 3, 2, 2], R(5, 24, 3))], [], opset: 9);
    [Fact] public void LogSoftmax_Opset11NegativeAxis() => Check("LogSoftmax", [new In("x", [2, 3, 4], R(5, 24, 3))], [Attr("axis", -2L)], opset: 11);
    [Fact] public void Softmax_AxisRuleByOpset_HandComputed()
    {
        float ln5 = MathF.Log(5);
        GradientCheck.AssertClose([1f / 8, 1f / 8, 1f / 8, 5f / 8], Forward("Softmax", [("x", [1, 2, 2], [0f, 0f, 0f, ln5])], [], opset: 11));
        GradientCheck.AssertClose([0.5f, 0.5f, 1f / 6, 5f / 6], Forward("Softmax", [("x", [1, 2, 2], [0f, 0f, 0f, ln5])], [], opset: 13));
        GradientCheck.AssertClose([MathF.Log(1f / 8), MathF.Log(1f / 8), MathF.Log(1f / 8), MathF.Log(5f / 8)],
            Forward("LogSoftmax", [("x", [1, 2, 2], [0f, 0f, 0f, ln5])], [], opset: 7));
    }
    [Fact] public void Gemm_Opset7_BothTransposedAlphaBeta() =>
        Check("Gemm", [X(5, 3), W("w", 2, 4, 5), W("c", 3, 4)], [Attr("transA", 1L), Attr("transB", 1L), Attr("alpha", 0.5f), Attr("beta", 2f)], opset: 7);
    [Fact] public void Gemm_TransBAlphaBeta_HandComputed() =>
        GradientCheck.AssertClose([2.5f, 4.5f, 6.5f], Forward("Gemm",
            [("a", [1, 2], [1f, 2f]), ("b", [3, 2], [1f, 0f, 0f, 1f, 1f, 1f]), ("c", [1], [1f])],
            [Attr("transB", 1L), Attr("alpha", 2f), Attr("beta", 0.5f)], opset: 9));

    /// <summary>
    /// Every new op in one graph, fed from a cut input: once each batch size has been seen, a training forward and
    /// backward allocate nothing (the shapes/axes are resolved on the stack, buffers were sized when planning).
    /// </summary>
    [Fact]
    public void NewOps_TrainingStep_AllocatesNothing_OnceWarm_EvenWhenTheBatchSizeAlternates()
    {
        var g = new OnnxTestGraph { Opset = 13 }
            .Input("x", -1, 4, 3, 3)
            .Initializer("s", [1, 4, 1, 1], R(3, 4, 1, avoidNearZero: 0.2f))
            .Initializer("two", [1], [2f])
            .Int64Initializer("pads", [0, 0, 1, 1, 0, 0, 1, 0])
            .Int64Initializer("split", [1, 3])
            .Int64Initializer("starts", [1]).Int64Initializer("ends", [long.MaxValue]).Int64Initializer("axes", [2])
            .Int64Initializer("squeeze", [2, 3]).Int64Initializer("unsqueeze", [2])
            .Initializer("ratio", [], [0.25f])
            .Node("Mul", ["x", "s"], "m")
            .Node("Pad", ["m", "pads"], "p")
            .Node("HardSwish", ["p"], "hs")
            .Node("HardSigmoid", ["hs"], "hg")
            .Node("Div", ["hg", "two"], "d");
        g.Graph.Node.Add(MultiOutputNode("Split", ["d", "split"], ["a", "b"], Attr("axis", 1L)));
        g.Node("Concat", ["b", "a"], "c", Attr("axis", 1L))
            .Node("Slice", ["c", "starts", "ends", "axes"], "sl")
            .Node("ReduceMean", ["sl"], "r", Attr("axes", 2L, 3))
            .Node("Squeeze", ["r", "squeeze"], "sq")
            .Node("Unsqueeze", ["sq", "unsqueeze"], "un")
            .Node("Flatten", ["un"], "f");
        g.Graph.Node.Add(MultiOutputNode("Dropout", ["f", "ratio"], ["y", "mask"]));
        g.Output("y").Output("mask");
        var graph = g.Build(["s"], seed: 3, "x");
        var x = R(4, 8 * 36);
        var dy = R(5, 8 * 4);
        void Step(int batch)
        {
            graph.SetInput("x", x.AsSpan(0, batch * 36), batch);
            graph.Forward(training: true);
            graph.ZeroGradients();
            graph.SeedGradient("y", dy.AsSpan(0, batch * 4));
            graph.Backward();
        }
        for (int i = 0; i < 3; i++) { Step(8); Step(3); }
        Assert.Equal([3, 4], graph.OutputShape("y").ToArray());
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 20; i++) { Step(8); Step(3); }
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Contains(graph.Parameters["s"].Gradient.ToArray(), v => v != 0);
    }
}
