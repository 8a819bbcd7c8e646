using Tailor.Engine;
using Tailor.Engine.Ops;
using static Tailor.Tests.Engine.OnnxTestGraph;

namespace Tailor.Tests.Engine;

/// <summary>
/// The Winograd F(4×4, 3×3) path of Conv against the direct (im2col + GEMM) path on the same graph: forward, dX, dW
/// and dB within <see cref="Tolerance"/> of the largest magnitude of each, on batch sizes, channel counts, plane sizes and
/// pads the tiles do and do not divide; finite differences and ONNX Runtime on the Winograd path itself; and which shapes
/// choose it.
/// </summary>
public class WinogradConvTests
{
    /// <summary>Largest difference allowed between the two paths, relative to the largest absolute value of the tensor
    /// compared. Winograd's transforms (constants up to 8 and 1/24) add a few float roundings per output, far below
    /// this; a wrong tap, tile, pad or transform constant is off by the order of the values themselves (a constant
    /// changed by 0.025% fails seven of the eight shapes below; the eighth has one output, which it does not reach).</summary>
    const float Tolerance = 2e-5f;

    sealed record Run(float[] Y, float[] DX, float[] DW, float[] DB, bool Winograd);

    static Run Evaluate(ConvAlgorithm algorithm, int n, int c, int m, int h, int w, long[] pads, bool bias = true, bool training = false)
    {
        var rng = new Random(n * 1000 + c * 100 + m * 10 + h + w);
        var g = new OnnxTestGraph()
            .Initializer("x", [n, c, h, w], Random(rng, n * c * h * w))
            .Initializer("w", [m, c, 3, 3], Random(rng, m * c * 9, 0.5f), raw: true);
        string[] inputs = bias ? ["x", "w", "b"] : ["x", "w"];
        if (bias)
            g.Initializer("b", [m], Random(rng, m, 0.5f));
        g.Node("Conv", inputs, "y", Attr("pads", pads)).Output("y");
        var graph = g.Build(inputs);
        var previous = Conv.Forced;
        Conv.Forced = algorithm;
        try
        {
            graph.ZeroGradients();
            graph.Forward(training);
            var y = graph.Output("y").ToArray();
            graph.SeedGradient("y", Random(new Random(5), y.Length));
            graph.Backward();
            var conv = (Conv)graph.NodeNamed("y").Op!;
            return new Run(y, graph.Parameters["x"].Gradient.ToArray(), graph.Parameters["w"].Gradient.ToArray(),
                bias ? graph.Parameters["b"].Gradient.ToArray() : [], conv.RanWinograd);
        }
        finally
        {
            Conv.Forced = previous;
        }
    }

    static void AssertClose(float[] expected, float[] actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        float scale = expected.Length == 0 ? 1 : Math.Max(expected.Max(MathF.Abs), 1e-6f);
        float worst = 0;
        int at = 0;
        for (int i = 0; i < expected.Length; i++)
            if (MathF.Abs(expected[i] - actual[i]) > worst)
                (worst, at) = (MathF.Abs(expected[i] - actual[i]), i);
        Assert.True(worst <= Tolerance * scale,
            $"{what}[{at}]: direct {expected[at]}, Winograd {actual[at]} (difference {worst / scale:E2} of the largest magnitude {scale})");
    }

    public static TheoryData<int, int, int, int, int, long[]> Shapes => new()
    {
        { 2, 16, 24, 7, 7, [1, 1, 1, 1] },     // ResNet18's last block in miniature: 2×2 tiles, the last row and column of tiles half outside
        { 3, 20, 17, 14, 14, [1, 1, 1, 1] },   // 4×4 tiles; channel counts that are not multiples of eight
        { 40, 9, 11, 14, 14, [1, 1, 1, 1] },   // 16 tiles an image: 40 images run as two chunks
        { 1, 8, 8, 5, 6, [1, 1, 1, 1] },       // odd plane, 2×2 tiles
        { 2, 8, 5, 9, 7, [0, 0, 0, 0] },       // no padding: 7×5 outputs
        { 2, 12, 8, 6, 5, [1, 0, 0, 2] },      // asymmetric pads
        { 1, 3, 4, 4, 4, [2, 2, 2, 2] },       // padding wider than the kernel reaches: 6×6 outputs
        { 1, 1, 1, 3, 3, [0, 0, 0, 0] },       // one output, one channel
    };

    [Theory, MemberData(nameof(Shapes))]
    public void Winograd_MatchesDirect_ForwardAndEveryGradient(int n, int c, int m, int h, int w, long[] pads)
    {
        var direct = Evaluate(ConvAlgorithm.Direct, n, c, m, h, w, pads);
        var winograd = Evaluate(ConvAlgorithm.Winograd, n, c, m, h, w, pads);
        Assert.False(direct.Winograd);
        Assert.True(winograd.Winograd);
        AssertClose(direct.Y, winograd.Y, "Y");
        AssertClose(direct.DX, winograd.DX, "dX");
        AssertClose(direct.DW, winograd.DW, "dW");
        AssertClose(direct.DB, winograd.DB, "dB");
    }

    [Fact]
    public void Winograd_MatchesDirect_WhenTheInputChannelsSpanTwoGemmKBlocks()
    {
        // 260 input channels: the forward's packed Uᵀ holds two K blocks (256 + 4 channels), and 40 output channels
        // two whole 16-wide strips and a partial one.
        var direct = Evaluate(ConvAlgorithm.Direct, 2, 260, 40, 6, 6, [1, 1, 1, 1]);
        var winograd = Evaluate(ConvAlgorithm.Winograd, 2, 260, 40, 6, 6, [1, 1, 1, 1]);
        Assert.True(winograd.Winograd);
        AssertClose(direct.Y, winograd.Y, "Y");
        AssertClose(direct.DX, winograd.DX, "dX");
        AssertClose(direct.DW, winograd.DW, "dW");
    }

    [Fact]
    public void Winograd_KeepsTheTransformedInputInTraining_AndGivesTheSameGradientsAsRecomputingIt()
    {
        // Forward(true) keeps V for the weight gradient; Forward(false) makes the backward pass transform X again.
        var kept = Evaluate(ConvAlgorithm.Winograd, 3, 16, 16, 7, 7, [1, 1, 1, 1], training: true);
        var again = Evaluate(ConvAlgorithm.Winograd, 3, 16, 16, 7, 7, [1, 1, 1, 1], training: false);
        Assert.Equal(again.Y, kept.Y);
        Assert.Equal(again.DW, kept.DW);
        Assert.Equal(again.DX, kept.DX);
    }

    [Fact]
    public void Winograd_SecondBackwardPass_GivesTheSameGradients_AsTheFirst()
    {
        // The weight-gradient buffer is cleared by the pass that folds it, not before the next: a second pass must not see the first's sums.
        var rng = new Random(9);
        var g = new OnnxTestGraph()
            .Initializer("x", [3, 16, 7, 7], Random(rng, 3 * 16 * 49))
            .Initializer("w", [16, 16, 3, 3], Random(rng, 16 * 16 * 9, 0.5f))
            .Node("Conv", ["x", "w"], "y", Attr("pads", 1L, 1, 1, 1)).Output("y");
        var graph = g.Build(["x", "w"]);
        var dy = Random(new Random(5), 3 * 16 * 49);
        float[] Pass()
        {
            graph.ZeroGradients();
            graph.Forward(true);
            graph.SeedGradient("y", dy);
            graph.Backward();
            Assert.True(((Conv)graph.NodeNamed("y").Op!).RanWinograd);
            return graph.Parameters["w"].Gradient.ToArray();
        }
        var first = Pass();
        Assert.Equal(first, Pass());
        Assert.Equal(first, Pass());
    }

    [Fact]
    public void Winograd_SameInputsGiveTheSameBits()
    {
        var a = Evaluate(ConvAlgorithm.Winograd, 40, 9, 11, 14, 14, [1, 1, 1, 1]);
        var b = Evaluate(ConvAlgorithm.Winograd, 40, 9, 11, 14, 14, [1, 1, 1, 1]);
        Assert.Equal(a.Y, b.Y);
        Assert.Equal(a.DX, b.DX);
        Assert.Equal(a.DW, b.DW);
    }

    static bool ChoosesWinograd(int c, int m, int h, params AttributeProtoList[] attributes)
    {
        var rng = new Random(3);
        int perGroup = c / attributes.Select(a => a.Group).DefaultIfEmpty(1).Max();
        var g = new OnnxTestGraph()
            .Input("x", -1, c, h, h)
            .Initializer("w", [m, perGroup, 3, 3], Random(rng, m * perGroup * 9, 0.1f))
            .Node("Conv", ["x", "w"], "y", [.. attributes.Select(a => a.Attribute)]).Output("y");
        var graph = g.Build(["w"], cutInputs: "x");
        graph.SetInput("x", Random(rng, 2 * c * h * h), 2);
        graph.Forward(true);
        return ((Conv)graph.NodeNamed("y").Op!).RanWinograd;
    }

    internal sealed record AttributeProtoList(global::Onnx.AttributeProto Attribute, int Group = 1);

    static AttributeProtoList Pads1 => new(Attr("pads", 1L, 1, 1, 1));

    [Fact]
    public void Auto_ChoosesWinograd_ForResNetsLastBlock_AndDirect_WhereItDoesNotApplyOrPay()
    {
        Assert.True(ChoosesWinograd(512, 512, 7, Pads1));    // the default fine-tuning: Convolution387
        Assert.True(ChoosesWinograd(64, 64, 14, Pads1));
        Assert.True(ChoosesWinograd(16, 16, 9));             // no padding
        Assert.False(ChoosesWinograd(3, 64, 14, Pads1));     // too few input channels to repay the transforms
        Assert.False(ChoosesWinograd(64, 8, 14, Pads1));     // too few output channels
        Assert.False(ChoosesWinograd(64, 64, 14, Pads1, new(Attr("strides", 2L, 2))));
        Assert.False(ChoosesWinograd(64, 64, 14, new(Attr("pads", 2L, 2, 2, 2)), new(Attr("dilations", 2L, 2))));
        Assert.False(ChoosesWinograd(64, 64, 14, Pads1, new(Attr("group", 2L), 2)));
        var previous = Conv.Forced;
        Conv.Forced = ConvAlgorithm.Direct;
        try
        {
            Assert.False(ChoosesWinograd(512, 512, 7, Pads1));
        }
        finally
        {
            Conv.Forced = previous;
        }
    }
}
