using Onnx;
using static Tailor.Tests.Engine.OnnxTestGraph;

namespace Tailor.Tests.Engine;

/// <summary>
/// Each op, as a one-node ONNX graph whose float inputs are all trainable initializers: the engine's forward
/// must match ONNX Runtime, and every input's gradient must match central finite differences.
/// </summary>
public partial class OpTests
{
    record In(string Name, int[] Shape, float[] Values, bool Trainable = true);

    static float[] R(int seed, int count, float scale = 1f, float avoidNearZero = 0f) =>
        Random(new Random(seed), count, scale, avoidNearZero);

    static int Count(int[] shape) => shape.Aggregate(1, (a, b) => a * b);

    static In X(params int[] shape) => new("x", shape, R(11, Count(shape)));

    static In W(string name, int seed, params int[] shape) => new(name, shape, R(seed, Count(shape), 0.5f));

    /// <summary>Checks the op against ONNX Runtime (forward) and finite differences (backward).</summary>
    static void Check(string opType, In[] inputs, AttributeProto[] attributes, int opset = 13,
        Action<OnnxTestGraph>? extraInitializers = null, string[]? inputNames = null, float step = 1e-2f)
    {
        var g = new OnnxTestGraph { Opset = opset };
        for (int i = 0; i < inputs.Length; i++)
            g.Initializer(inputs[i].Name, inputs[i].Shape, inputs[i].Values, raw: i % 2 == 1);
        extraInitializers?.Invoke(g);
        g.Node(opType, inputNames ?? [.. inputs.Select(i => i.Name)], "y", attributes).Output("y");
        var expected = g.RunOnnxRuntime()["y"];
        var graph = g.Build(inputs.Where(i => i.Trainable).Select(i => i.Name));
        graph.Forward(false);
        GradientCheck.AssertClose(expected, graph.Output("y"));
        GradientCheck.AssertMatchesFiniteDifferences(graph, "y", step: step);
    }

    [Fact] public void Gemm_Plain() => Check("Gemm", [X(3, 5), W("w", 2, 5, 4), W("c", 3, 4)], []);
    [Fact] public void Gemm_TransposedA_AlphaBeta_ColumnBias() =>
        Check("Gemm", [X(5, 3), W("w", 2, 5, 4), W("c", 3, 3, 1)], [Attr("transA", 1L), Attr("alpha", 0.7f), Attr("beta", 1.5f)]);
    [Fact] public void Gemm_TransposedB_ScalarBias() => Check("Gemm", [X(3, 5), W("w", 2, 4, 5), W("c", 3, 1)], [Attr("transB", 1L)]);
    [Fact] public void Gemm_BothTransposed_FullBias() =>
        Check("Gemm", [X(5, 3), W("w", 2, 4, 5), W("c", 3, 3, 4)], [Attr("transA", 1L), Attr("transB", 1L)]);
    [Fact] public void Gemm_NoBias() => Check("Gemm", [X(2, 7), W("w", 2, 7, 3)], [Attr("transB", 0L)]);

    [Fact] public void MatMul_2D() => Check("MatMul", [X(4, 6), W("w", 2, 6, 3)], []);
    [Fact] public void MatMul_3DTimes2D() => Check("MatMul", [X(2, 3, 6), W("w", 2, 6, 5)], []);
    [Fact] public void MatMul_Batched() => Check("MatMul", [X(2, 3, 4), W("w", 2, 2, 4, 5)], []);

    [Fact] public void Add_SameShape() => Check("Add", [X(2, 3, 4), W("b", 2, 2, 3, 4)], []);
    [Fact] public void Add_Scalar() => Check("Add", [X(2, 3), W("b", 2, 1)], []);
    [Fact] public void Add_BroadcastPerChannel() => Check("Add", [X(2, 3, 4, 5), W("b", 2, 3, 1, 1)], []);
    [Fact] public void Add_BroadcastPerChannel4D() => Check("Add", [X(2, 3, 4, 5), W("b", 2, 1, 3, 1, 1)], []);
    [Fact] public void Add_BiasRow() => Check("Add", [X(4, 6), W("b", 2, 6)], []);
    [Fact] public void Add_BothBroadcast() => Check("Add", [X(3, 1), W("b", 2, 1, 4)], []);
    [Fact] public void Sub_BroadcastPerChannel() => Check("Sub", [X(2, 3, 2, 2), W("b", 2, 3, 1, 1)], []);
    [Fact] public void Sub_ScalarMinusTensor() => Check("Sub", [new In("a", [1], [0.3f]), W("b", 2, 2, 5)], []);
    [Fact] public void Mul_SameShape() => Check("Mul", [X(3, 4), W("b", 2, 3, 4)], []);
    [Fact] public void Mul_BroadcastPerChannel() => Check("Mul", [X(2, 3, 4, 4), W("b", 2, 1, 3, 1, 1)], []);
    [Fact] public void Mul_BiasRowAndScalar() => Check("Mul", [W("s", 4, 1), X(3, 5)], []);

    static In Image(int n, int c, int h, int w) => new("x", [n, c, h, w], R(11, n * c * h * w));

    [Fact] public void Conv_3x3() => Check("Conv", [Image(2, 3, 5, 5), W("w", 2, 4, 3, 3, 3), W("b", 3, 4)], []);
    [Fact] public void Conv_Pointwise1x1() => Check("Conv", [Image(2, 5, 3, 4), W("w", 2, 6, 5, 1, 1), W("b", 3, 6)], []);
    [Fact] public void Conv_SymmetricPads() => Check("Conv", [Image(1, 2, 5, 4), W("w", 2, 3, 2, 3, 3)], [Attr("pads", 1L, 1, 1, 1)]);
    [Fact] public void Conv_AsymmetricPads() =>
        Check("Conv", [Image(1, 2, 6, 6), W("w", 2, 3, 2, 3, 3), W("b", 3, 3)], [Attr("pads", 1L, 1, 0, 0), Attr("strides", 2L, 2)]);
    [Fact] public void Conv_AsymmetricPadsEveryEdge() => Check("Conv", [Image(1, 2, 5, 6), W("w", 2, 2, 2, 2, 3)], [Attr("pads", 0L, 2, 1, 0)]);
    [Fact] public void Conv_Stride2() => Check("Conv", [Image(2, 2, 7, 7), W("w", 2, 3, 2, 3, 3)], [Attr("strides", 2L, 2), Attr("pads", 1L, 1, 1, 1)]);
    [Fact] public void Conv_Dilation() => Check("Conv", [Image(1, 2, 7, 7), W("w", 2, 2, 2, 3, 3)], [Attr("dilations", 2L, 2), Attr("pads", 1L, 2, 1, 0)]);
    [Fact] public void Conv_Depthwise() => Check("Conv", [Image(2, 4, 5, 5), W("w", 2, 4, 1, 3, 3), W("b", 3, 4)], [Attr("group", 4L), Attr("pads", 1L, 1, 1, 1)]);
    [Fact] public void Conv_DepthwiseMultiplier2() => Check("Conv", [Image(1, 3, 4, 4), W("w", 2, 6, 1, 3, 3)], [Attr("group", 3L)]);
    [Fact] public void Conv_Groups2() => Check("Conv", [Image(1, 4, 4, 5), W("w", 2, 6, 2, 2, 2), W("b", 3, 6)], [Attr("group", 2L)]);
    [Fact] public void Conv_AutoPadSameUpper() => Check("Conv", [Image(1, 2, 6, 5), W("w", 2, 3, 2, 4, 4)], [Attr("auto_pad", "SAME_UPPER"), Attr("strides", 2L, 2)]);
    [Fact] public void Conv_AutoPadSameLower() => Check("Conv", [Image(1, 2, 6, 5), W("w", 2, 3, 2, 4, 4)], [Attr("auto_pad", "SAME_LOWER"), Attr("strides", 2L, 2)]);
    [Fact] public void Conv_AutoPadValid() => Check("Conv", [Image(1, 2, 6, 5), W("w", 2, 3, 2, 3, 2)], [Attr("auto_pad", "VALID")]);
    // 4×4 output planes: a chunk takes 32 images (512 columns), so 40 images run as two chunks of 20, side by side in one GEMM each.
    [Fact] public void Conv_3x3_TwoChunksOfImages() =>
        Check("Conv", [Image(40, 2, 4, 4), W("w", 2, 3, 2, 3, 3), W("b", 3, 3)], [Attr("pads", 1L, 1, 1, 1)]);
    // Planes of 144 pixels: the pointwise path that reads X directly, images shared among the cores; 100 output channels
    // make the weight gradient two blocks of rows (96 and 4), each adding the three images' products.
    [Fact] public void Conv_Pointwise1x1_StraightFromX_TwoBlocksOfWeightRows() =>
        Check("Conv", [Image(3, 8, 12, 12), W("w", 2, 100, 8, 1, 1), W("b", 3, 100)], []);
    [Fact] public void Conv_Pointwise1x1_StraightFromX_Groups2() =>
        Check("Conv", [Image(2, 8, 12, 12), W("w", 2, 100, 4, 1, 1), W("b", 3, 100)], [Attr("group", 2L)]);
    [Fact] public void Conv_Pointwise1x1_TwoChunksOfImages() => Check("Conv", [Image(40, 3, 4, 4), W("w", 2, 4, 3, 1, 1)], []);
    [Fact] public void Conv_Groups2_TwoChunksOfImages() =>
        Check("Conv", [Image(36, 4, 4, 4), W("w", 2, 4, 2, 2, 2), W("b", 3, 4)], [Attr("group", 2L)]);
    // Output rows as wide as the input's ("same" padding, stride 1): im2col copies whole blocks, then zeroes the padding columns.
    [Fact] public void Conv_SamePlane_Dilated() => Check("Conv", [Image(2, 2, 6, 5), W("w", 2, 3, 2, 3, 3)], [Attr("dilations", 2L, 2), Attr("pads", 2L, 2, 2, 2)]);
    [Fact] public void Conv_SamePlane_LopsidedPads() => Check("Conv", [Image(2, 2, 4, 6), W("w", 2, 3, 2, 2, 5)], [Attr("pads", 0L, 4, 1, 0)]);
    // Padding wider than the kernel reaches: whole output columns and rows see only zeros.
    [Fact] public void Conv_PaddingBeyondTheInput() => Check("Conv", [Image(2, 2, 3, 3), W("w", 2, 3, 2, 2, 2)], [Attr("pads", 3L, 4, 2, 3)]);
    [Fact] public void Conv_Pointwise1x1Stride2() => Check("Conv", [Image(1, 3, 5, 5), W("w", 2, 4, 3, 1, 1)], [Attr("strides", 2L, 2)]);

    [Fact] public void Relu_AwayFromKink() => Check("Relu", [new In("x", [3, 7], R(5, 21, 1, avoidNearZero: 0.05f))], []);
    [Fact] public void LeakyRelu_Alpha() => Check("LeakyRelu", [new In("x", [3, 7], R(5, 21, 1, avoidNearZero: 0.05f))], [Attr("alpha", 0.2f)]);
    [Fact] public void Sigmoid_Any() => Check("Sigmoid", [new In("x", [4, 5], R(5, 20, 3))], []);
    [Fact] public void Tanh_Any() => Check("Tanh", [new In("x", [4, 5], R(5, 20, 2))], []);
    [Fact] public void Identity_Copies() => Check("Identity", [X(2, 3)], []);

    static float[] AwayFrom(float[] values, params float[] kinks) =>
        [.. values.Select(v => kinks.Any(k => MathF.Abs(v - k) < 0.05f) ? v + 0.12f : v)];

    [Fact] public void Clip_Relu6AsInputs() => Check("Clip", [new In("x", [4, 6], AwayFrom(R(5, 24, 9), 0, 6))], [],
        extraInitializers: g => g.Initializer("lo", [], [0f]).Initializer("hi", [], [6f]), inputNames: ["x", "lo", "hi"]);
    [Fact] public void Clip_OnlyMinAsInput() => Check("Clip", [new In("x", [4, 6], AwayFrom(R(5, 24, 2), -0.5f))], [],
        extraInitializers: g => g.Initializer("lo", [], [-0.5f]), inputNames: ["x", "lo"]);
    [Fact] public void Clip_AttributesBeforeOpset11() =>
        Check("Clip", [new In("x", [4, 6], AwayFrom(R(5, 24, 2), -0.3f, 0.4f))], [Attr("min", -0.3f), Attr("max", 0.4f)], opset: 6);

    /// <summary>Distinct values at least 0.05 apart, shuffled: the maximum of a window never changes under a ±0.01 step.</summary>
    static float[] Spread(int count, int seed)
    {
        var v = Enumerable.Range(0, count).Select(i => (i - count / 2) * 0.05f).ToArray();
        new Random(seed).Shuffle(v);
        return v;
    }

    [Fact] public void MaxPool_2x2Stride2() => Check("MaxPool", [new In("x", [2, 2, 4, 4], Spread(64, 1))], [Attr("kernel_shape", 2L, 2), Attr("strides", 2L, 2)]);
    [Fact] public void MaxPool_AsymmetricPads() =>
        Check("MaxPool", [new In("x", [1, 2, 6, 6], Spread(72, 2))], [Attr("kernel_shape", 3L, 3), Attr("strides", 2L, 2), Attr("pads", 1L, 1, 0, 0)]);
    [Fact] public void MaxPool_CeilMode() =>
        Check("MaxPool", [new In("x", [1, 2, 5, 5], Spread(50, 3))], [Attr("kernel_shape", 2L, 2), Attr("strides", 2L, 2), Attr("ceil_mode", 1L)]);
    [Fact] public void MaxPool_Dilation() =>
        Check("MaxPool", [new In("x", [1, 1, 6, 6], Spread(36, 4))], [Attr("kernel_shape", 2L, 2), Attr("dilations", 2L, 2)]);
    [Fact] public void MaxPool_AutoPadSameUpper() =>
        Check("MaxPool", [new In("x", [1, 2, 5, 5], Spread(50, 5))], [Attr("kernel_shape", 3L, 3), Attr("strides", 2L, 2), Attr("auto_pad", "SAME_UPPER")]);

    [Fact] public void AveragePool_ExcludePad() =>
        Check("AveragePool", [Image(2, 2, 5, 5)], [Attr("kernel_shape", 3L, 3), Attr("pads", 1L, 1, 1, 1), Attr("strides", 2L, 2)]);
    [Fact] public void AveragePool_CountIncludePad() =>
        Check("AveragePool", [Image(1, 2, 5, 5)], [Attr("kernel_shape", 3L, 3), Attr("pads", 1L, 1, 1, 1), Attr("count_include_pad", 1L)]);
    [Fact] public void AveragePool_AsymmetricPads() =>
        Check("AveragePool", [Image(1, 2, 6, 6)], [Attr("kernel_shape", 3L, 3), Attr("pads", 1L, 1, 0, 0), Attr("strides", 2L, 2)]);
    [Fact] public void AveragePool_CeilModeIncludePad() =>
        Check("AveragePool", [Image(1, 1, 6, 6)], [Attr("kernel_shape", 3L, 3), Attr("strides", 2L, 2), Attr("pads", 1L, 1, 1, 1), Attr("ceil_mode", 1L), Attr("count_include_pad", 1L)]);
    [Fact] public void AveragePool_SqueezeNet13x13() => Check("AveragePool", [Image(2, 3, 13, 13)], [Attr("kernel_shape", 13L, 13)]);
    [Fact] public void GlobalAveragePool_Planes() => Check("GlobalAveragePool", [Image(2, 3, 4, 5)], []);

    [Fact] public void Concat_ChannelAxis() => Check("Concat", [X(2, 3, 2, 2), W("b", 2, 2, 1, 2, 2), W("c", 3, 2, 2, 2, 2)], [Attr("axis", 1L)]);
    [Fact] public void Concat_Axis0() => Check("Concat", [X(2, 3), W("b", 2, 1, 3)], [Attr("axis", 0L)]);
    [Fact] public void Concat_LastAxisNegative() => Check("Concat", [X(2, 3), W("b", 2, 2, 4)], [Attr("axis", -1L)]);
    [Fact] public void Concat_FrozenMiddleInput() =>
        Check("Concat", [X(2, 3), new In("frozen", [2, 2], R(3, 4), Trainable: false), W("c", 4, 2, 1)], [Attr("axis", 1L)]);

    [Fact] public void Flatten_Axis1() => Check("Flatten", [Image(2, 3, 2, 2)], []);
    [Fact] public void Flatten_Axis0() => Check("Flatten", [Image(2, 3, 2, 2)], [Attr("axis", 0L)]);
    [Fact] public void Flatten_NegativeAxis() => Check("Flatten", [Image(2, 3, 2, 2)], [Attr("axis", -2L)]);
    [Fact] public void Reshape_ZeroAndMinusOne() => Check("Reshape", [Image(2, 3, 2, 2)], [],
        extraInitializers: g => g.Int64Initializer("shape", [0, -1]), inputNames: ["x", "shape"]);
    [Fact] public void Reshape_RawInt64Shape() => Check("Reshape", [X(4, 6)], [],
        extraInitializers: g => g.Int64Initializer("shape", [2, 3, -1], raw: true), inputNames: ["x", "shape"]);
    [Fact] public void Transpose_Nchw_To_Nhwc() => Check("Transpose", [Image(2, 3, 2, 4)], [Attr("perm", 0L, 2, 3, 1)]);
    [Fact] public void Transpose_DefaultReverses() => Check("Transpose", [X(2, 3, 4)], []);

    [Fact] public void LpNormalization_L2OverRows() => Check("LpNormalization", [new In("x", [3, 6], R(7, 18, 2))], [Attr("axis", 1L), Attr("p", 2L)], opset: 8);
    [Fact] public void LpNormalization_P1_IsRejected()
    {
        var e = Assert.Throws<TailorException>(() => Check("LpNormalization", [new In("x", [3, 6], R(7, 18, 2))], [Attr("axis", 1L), Attr("p", 1L)], opset: 8));
        Assert.Contains("p = 1 is not supported", e.Message);
    }
    [Fact] public void Softmax_Opset13LastAxis() => Check("Softmax", [new In("x", [3, 5], R(5, 15, 3))], []);
    [Fact] public void Softmax_Opset13MiddleAxis() => Check("Softmax", [new In("x", [2, 3, 4], R(5, 24, 3))], [Attr("axis", 1L)]);
    [Fact] public void Softmax_Opset11CoercesTo2D() => Check("Softmax", [new In("x", [2, 3, 4], R(5, 24, 3))], [Attr("axis", 1L)], opset: 11);
    [Fact] public void LogSoftmax_Opset13() => Check("LogSoftmax", [new In("x", [3, 5], R(5, 15, 3))], []);
    [Fact] public void LogSoftmax_Opset11CoercesTo2D() => Check("LogSoftmax", [new In("x", [2, 3, 2], R(5, 12, 3))], [], opset: 11);

    [Fact] public void BatchNormalization_InferenceStatistics() => Check("BatchNormalization",
        [Image(2, 3, 2, 3), W("scale", 2, 3), W("bias", 3, 3),
         new In("mean", [3], R(4, 3), Trainable: false), new In("var", [3], [0.5f, 1.3f, 2.0f], Trainable: false)],
        [Attr("epsilon", 1e-3f)]);

    [Fact] public void Dropout_InferenceIsIdentity() => Check("Dropout", [X(3, 4)], [],
        extraInitializers: g => g.Initializer("ratio", [], [0.3f]), inputNames: ["x", "ratio"]);
}

public class ReluVectorTailTests
{
    /// <summary>Every length 0…40 hits the Vector256 body and each scalar tail length of the backward pass.</summary>
    [Fact]
    public void Backward_EveryLengthUpTo40_MatchesTheDefinition()
    {
        for (int n = 1; n <= 40; n++)
        {
            var x = OnnxTestGraph.Random(new Random(n), n, 1, avoidNearZero: 0.01f);
            var graph = new OnnxTestGraph().Initializer("x", [n], x).Node("Relu", ["x"], "y").Output("y").Build(["x"]);
            var dy = OnnxTestGraph.Random(new Random(100 + n), n);
            graph.Forward(false);
            graph.ZeroGradients();
            graph.SeedGradient("y", dy);
            graph.Backward();
            var dx = graph.Parameters["x"].Gradient.ToArray();
            for (int i = 0; i < n; i++)
                Assert.Equal(x[i] > 0 ? dy[i] : 0f, dx[i]);
        }
    }
}
