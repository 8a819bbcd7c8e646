using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using Onnx;
using Tailor.Building;
using Tailor.Engine;
using Tailor.Onnx;
using Tailor.Tests.Engine;
using DataType = Onnx.TensorProto.Types.DataType;

namespace Tailor.Tests.Onnx;

/// <summary>The import passes (OnnxGraph.Import): Constant nodes, Identity-tied initializers, shape subgraphs folded with
/// the batch left free, untying a trained reader from its frozen ones; and the error that names where the cut can move.</summary>
public sealed class ImportPassTests
{
    private static TensorProto Ints(params long[] v) => OnnxTensors.FromInt64s("", [v.Length], v);

    private static NodeProto Constant(string output, TensorProto value)
    {
        var n = OnnxGraph.Node("Constant", output + "_node", [], [output]);
        n.Attribute.Add(new AttributeProto { Name = "value", Type = AttributeProto.Types.AttributeType.Tensor, T = value });
        return n;
    }

    /// <summary>ShuffleNet's channel shuffle as PyTorch exports it: the reshape targets computed from Shape → Gather →
    /// Unsqueeze → Concat (with a Div and Casts on the way), every constant a Constant node; then a 1×1 convolution.</summary>
    private static ModelProto ChannelShuffle()
    {
        var g = new GraphProto { Name = "shuffle" };
        g.Input.Add(OnnxGraph.TensorInfo("x", DataType.Float, null, 4, 3, 3));
        var rng = new Random(5);
        g.Initializer.Add(OnnxTensors.FromFloats("weight", [4, 4, 1, 1], Enumerable.Range(0, 16).Select(_ => (float)(rng.NextDouble() - 0.5)).ToArray()));
        string[] dims = ["n", "c", "h", "w"];
        for (int i = 0; i < 4; i++)
        {
            g.Node.Add(OnnxGraph.Node("Shape", $"shape{i}", ["x"], [$"s{i}"]));
            g.Node.Add(Constant($"i{i}", OnnxTensors.FromInt64s("", [], [i])));
            g.Node.Add(OnnxGraph.Node("Gather", $"gather{i}", [$"s{i}", $"i{i}"], [dims[i]], OnnxGraph.IntAttr("axis", 0)));
        }
        g.Node.Add(Constant("two", OnnxTensors.FromInt64s("", [], [2])));
        g.Node.Add(OnnxGraph.Node("Div", "half", ["c", "two"], ["c2"]));
        g.Node.Add(OnnxGraph.Node("Cast", "cast", ["c2"], ["c2i"], OnnxGraph.IntAttr("to", 7)));
        g.Node.Add(Constant("axes", Ints(0)));
        foreach (var t in new[] { "n", "c2i", "h", "w" })
            g.Node.Add(OnnxGraph.Node("Unsqueeze", "u_" + t, [t, "axes"], ["u" + t]));
        g.Node.Add(Constant("twoV", Ints(2)));
        g.Node.Add(Constant("minusOne", Ints(-1)));
        g.Node.Add(OnnxGraph.Node("Concat", "target1", ["un", "twoV", "uc2i", "uh", "uw"], ["t1"], OnnxGraph.IntAttr("axis", 0)));
        g.Node.Add(OnnxGraph.Node("Reshape", "split_groups", ["x", "t1"], ["r1"]));
        g.Node.Add(OnnxGraph.Node("Transpose", "shuffle", ["r1"], ["tr"], OnnxGraph.IntsAttr("perm", 0, 2, 1, 3, 4)));
        g.Node.Add(OnnxGraph.Node("Concat", "target2", ["un", "minusOne", "uh", "uw"], ["t2"], OnnxGraph.IntAttr("axis", 0)));
        g.Node.Add(OnnxGraph.Node("Reshape", "join_groups", ["tr", "t2"], ["r2"]));
        g.Node.Add(OnnxGraph.Node("Conv", "conv", ["r2", "weight"], ["y"]));
        g.Output.Add(new ValueInfoProto { Name = "y" });
        var m = new ModelProto { IrVersion = 8, Graph = g };
        m.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 13 });
        return m;
    }

    private static float[] RunOrt(ModelProto m, float[] x, int batch)
    {
        using var session = new InferenceSession(m.ToByteArray());
        using var input = OrtValue.CreateTensorValueFromMemory(x, [batch, 4, 3, 3]);
        using var outputs = session.Run(new RunOptions(), ["x"], [input], ["y"]);
        return outputs[0].GetTensorDataAsSpan<float>().ToArray();
    }

    [Fact]
    public void ShapeSubgraph_FoldsToConstants_WithTheBatchLeftFree_AndTrainsAtEveryBatchSize()
    {
        var original = ChannelShuffle();
        var folded = original.Clone();
        folded.Import();

        Assert.DoesNotContain(folded.Graph.Node, n => n.OpType is "Shape" or "Gather" or "Constant" or "Concat" or "Unsqueeze" or "Cast" or "Div");
        // The batch is copied from the input (0), never the probe's batch; every other dimension is a number.
        var t1 = OnnxTensors.ToInt64s(folded.Graph.GetInitializer(folded.Graph.FindNode("split_groups")!.Input[1]));
        var t2 = OnnxTensors.ToInt64s(folded.Graph.GetInitializer(folded.Graph.FindNode("join_groups")!.Input[1]));
        Assert.Equal([0L, 2, 2, 3, 3], t1);
        Assert.Equal([0L, -1, 3, 3], t2);
        Assert.DoesNotContain(folded.Graph.Initializer, t => folded.Graph.Consumers(t.Name).Count() == 0);

        // The folded model computes what the exported one does, at any batch size (the last batch of an epoch is smaller).
        var rng = new Random(2);
        foreach (int batch in new[] { 3, 1, 2 })
        {
            float[] x = [.. Enumerable.Range(0, batch * 36).Select(_ => (float)rng.NextDouble())];
            float[] expected = RunOrt(original, x, batch);
            GradientCheck.AssertClose(expected, RunOrt(folded, x, batch), 1e-6f);
            // The engine builds the folded suffix and computes the same.
            var suffix = SuffixGraph.Build(folded.Graph, ["x"], ["y"], new HashSet<string> { "weight" }, 13, new Dictionary<string, int[]> { ["x"] = [4, 3, 3] });
            suffix.SetInput("x", x, batch);
            suffix.Forward(training: false);
            GradientCheck.AssertClose(expected, suffix.Output("y"), 1e-5f);
        }
    }

    [Fact]
    public void WithoutFolding_TheEngineRefusesTheShapeOp()
    {
        // What the fold replaces: the exported graph as it was.
        var e = Assert.Throws<TailorException>(() => SuffixGraph.Build(ChannelShuffle().Graph, ["x"], ["y"], new HashSet<string> { "weight" }, 13,
            new Dictionary<string, int[]> { ["x"] = [4, 3, 3] }));
        Assert.Contains("Shape", e.Message);
    }

    [Fact]
    public void ConstantNodes_BecomeInitializers_AndIdentityTies_GetTheirOwnCopy()
    {
        var g = new GraphProto();
        g.Input.Add(OnnxGraph.TensorInfo("x", DataType.Float, null, 2));
        g.Initializer.Add(OnnxTensors.FromFloats("zero", [2], [0f, 0f]));
        g.Node.Add(OnnxGraph.Node("Identity", "tie", ["zero"], ["b2"]));
        g.Node.Add(Constant("lo", OnnxTensors.FromFloats("", [], [0f])));
        g.Node.Add(OnnxGraph.Node("Clip", "clip", ["x", "lo"], ["c"]));
        g.Node.Add(OnnxGraph.Node("Add", "add1", ["c", "zero"], ["a1"]));
        g.Node.Add(OnnxGraph.Node("Add", "add2", ["a1", "b2"], ["y"]));
        g.Output.Add(new ValueInfoProto { Name = "y" });
        var m = new ModelProto { IrVersion = 8, Graph = g };
        m.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 13 });
        m.Import();
        Assert.Equal(["clip", "add1", "add2"], g.Node.Select(n => n.Name));
        Assert.Equal([0f], OnnxTensors.ToFloats(g.GetInitializer("lo")));
        Assert.Equal([0f, 0f], OnnxTensors.ToFloats(g.GetInitializer("b2")));
        Assert.NotSame(g.GetInitializer("zero"), g.GetInitializer("b2"));
    }

    [Fact]
    public void Untie_GivesTheTrainedReaderItsOwnCopy_AndLeavesTheOthersOnTheOriginal()
    {
        var g = new GraphProto();
        g.Initializer.Add(OnnxTensors.FromFloats("b", [2], [1f, 2f]));
        var first = OnnxGraph.Node("Add", "first", ["x", "b"], ["y1"]);
        var second = OnnxGraph.Node("Add", "second", ["y1", "b"], ["y2"]);
        g.Node.Add(first);
        g.Node.Add(second);
        string own = g.Untie(second, 1);
        Assert.NotEqual("b", own);
        Assert.Equal("b", first.Input[1]);
        Assert.Equal(own, second.Input[1]);
        Assert.Equal([1f, 2f], OnnxTensors.ToFloats(g.GetInitializer(own)));
        // A parameter nothing else reads keeps its name.
        Assert.Equal(own, g.Untie(second, 1));
    }

    [Fact]
    public void AnOpTheEngineLacks_NamesItsNode_AndTheNearestLayerAfterItThatCanBeFirst()
    {
        var rng = new Random(1);
        var graph = new OnnxTestGraph()
            .Input("x", -1, 2, 3, 3)
            .Initializer("w1", [2, 2, 1, 1], OnnxTestGraph.Random(rng, 4))
            .Initializer("w2", [2, 2, 1, 1], OnnxTestGraph.Random(rng, 4))
            .Initializer("fc.w", [3, 2], OnnxTestGraph.Random(rng, 6))
            .Node("Conv", ["x", "w1"], "c1")
            .Node("Softsign", ["c1"], "s")
            .Node("Conv", ["s", "w2"], "c2")
            .Node("GlobalAveragePool", ["c2"], "p")
            .Node("Flatten", ["p"], "f")
            .Node("Gemm", ["f", "fc.w"], "y", OnnxTestGraph.Attr("transB", 1L))
            .Output("y");
        var e = Assert.Throws<TailorException>(() => SuffixGraph.Build(graph.Graph, ["x"], ["y"], new HashSet<string> { "w1", "fc.w" }, 13,
            new Dictionary<string, int[]> { ["x"] = [2, 3, 3] }));
        Assert.Contains("Softsign node 's_node'", e.Message);
        Assert.Contains("nearest layer after it that can be the first updatable one is 'c2_node' (Conv)", e.Message);
        Assert.Equal("Softsign node 's_node'", LayerCatalog.BlockerAfter(graph.Graph, graph.Graph.FindNode("c1_node")!, "y"));
        Assert.Null(LayerCatalog.BlockerAfter(graph.Graph, graph.Graph.FindNode("c2_node")!, "y"));
    }
}
