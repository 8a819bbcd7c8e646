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
    public void BatchNormalization_WhoseScaleTheExporterTied_CanBeUpdatable_AndTrainsItsOwnCopy()
    {
        // DenseNet121 exported with constant folding: the final BatchNormalization's scale (all ones) and bias (zeros) are
        // other layers' tensors handed on through Identity nodes; it was refused as "no trainable weights".
        var rng = new Random(4);
        float[] R(int n) => [.. Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() - 0.5))];
        var g = new GraphProto { Name = "densenet-like" };
        g.Input.Add(OnnxGraph.TensorInfo("data", DataType.Float, 1, 3, 8, 8));
        g.Initializer.Add(OnnxTensors.FromFloats("conv.w", [4, 3, 1, 1], R(12)));
        g.Initializer.Add(OnnxTensors.FromFloats("norm1.weight", [4], [1f, 1f, 1f, 1f]));
        g.Initializer.Add(OnnxTensors.FromFloats("norm1.bias", [4], [0f, 0f, 0f, 0f]));
        g.Initializer.Add(OnnxTensors.FromFloats("mean", [4], R(4)));
        g.Initializer.Add(OnnxTensors.FromFloats("var", [4], [1f, 1.5f, 0.5f, 1f]));
        g.Initializer.Add(OnnxTensors.FromFloats("fc.w", [3, 4], R(12)));
        g.Initializer.Add(OnnxTensors.FromFloats("fc.b", [3], R(3)));
        g.Node.Add(OnnxGraph.Node("Identity", "", ["norm1.weight"], ["norm5.weight"]));
        g.Node.Add(OnnxGraph.Node("Identity", "", ["norm1.bias"], ["norm5.bias"]));
        g.Node.Add(OnnxGraph.Node("Conv", "conv", ["data", "conv.w"], ["c"]));
        g.Node.Add(OnnxGraph.Node("BatchNormalization", "norm1", ["c", "norm1.weight", "norm1.bias", "mean", "var"], ["b1"]));
        g.Node.Add(OnnxGraph.Node("BatchNormalization", "norm5", ["b1", "norm5.weight", "norm5.bias", "mean", "var"], ["b5"]));
        g.Node.Add(OnnxGraph.Node("GlobalAveragePool", "", ["b5"], ["p"]));
        g.Node.Add(OnnxGraph.Node("Flatten", "", ["p"], ["f"]));
        g.Node.Add(OnnxGraph.Node("Gemm", "fc", ["f", "fc.w", "fc.b"], ["logits"], OnnxGraph.IntAttr("transB", 1)));
        g.Output.Add(OnnxGraph.TensorInfo("logits", DataType.Float, 1, 3));
        var m = new ModelProto { IrVersion = 7, Graph = g };
        m.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 13 });
        using var dir = new Tailor.Tests.Images.TempFolder();
        string path = dir.File("densenet-like.onnx");
        File.WriteAllBytes(path, m.ToByteArray());

        var model = ModelBuilder.Expand(path, new ExpandOptions { Capacity = 3, UpdatableLayers = ["norm5", "fc"] });
        var bn = model.Spec.UpdatableLayers[0];
        Assert.Equal(["norm5.weight", "norm5.bias"], bn.Parameters);
        // norm1 still reads its own tensors: training norm5 leaves them as they were.
        Assert.Equal(["c", "norm1.weight", "norm1.bias", "mean", "var"], model.Proto.Graph.FindNode("norm1")!.Input);
    }

    [Fact]
    [Trait("Category", "Slow")]
    public void ABiasTwoLayersShare_TrainsInTheUpdatableOne_AndTheFrozenOneKeepsItsValue_InTheWrittenModel()
    {
        var rng = new Random(6);
        float[] R(int n) => [.. Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() - 0.5))];
        var g = new GraphProto { Name = "shared-bias" };
        g.Input.Add(OnnxGraph.TensorInfo("data", DataType.Float, 1, 3, 8, 8));
        g.Initializer.Add(OnnxTensors.FromFloats("conv1.w", [4, 3, 1, 1], R(12)));
        g.Initializer.Add(OnnxTensors.FromFloats("conv2.w", [4, 4, 3, 3], R(144)));
        g.Initializer.Add(OnnxTensors.FromFloats("zero_bias", [4], [0f, 0f, 0f, 0f]));   // stored once, read by both
        g.Initializer.Add(OnnxTensors.FromFloats("fc.w", [3, 4], R(12)));
        g.Initializer.Add(OnnxTensors.FromFloats("fc.b", [3], R(3)));
        g.Node.Add(OnnxGraph.Node("Conv", "conv1", ["data", "conv1.w", "zero_bias"], ["c1"]));
        g.Node.Add(OnnxGraph.Node("Relu", "", ["c1"], ["r1"]));
        g.Node.Add(OnnxGraph.Node("Conv", "conv2", ["r1", "conv2.w", "zero_bias"], ["c2"], OnnxGraph.IntsAttr("pads", 1, 1, 1, 1)));
        g.Node.Add(OnnxGraph.Node("GlobalAveragePool", "", ["c2"], ["p"]));
        g.Node.Add(OnnxGraph.Node("Flatten", "", ["p"], ["f"]));
        g.Node.Add(OnnxGraph.Node("Gemm", "fc", ["f", "fc.w", "fc.b"], ["logits"], OnnxGraph.IntAttr("transB", 1)));
        g.Output.Add(OnnxGraph.TensorInfo("logits", DataType.Float, 1, 3));
        var m = new ModelProto { IrVersion = 7, Graph = g };
        m.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 13 });
        using var dir = new Tailor.Tests.Images.TempFolder();
        string path = dir.File("shared.onnx");
        File.WriteAllBytes(path, m.ToByteArray());

        var model = ModelBuilder.Expand(path, new ExpandOptions { Capacity = 3, Labels = ["✊", "✋", "✌️"], UpdatableLayers = ["conv2", "fc"] });
        string own = model.Spec.UpdatableLayers[0].Parameters[1];
        Assert.NotEqual("zero_bias", own);
        var result = new Tailor.Training.UpdateTask(model, Tailor.Data.LabeledFolder.Scan(TestData.HandsTrain),
            options: new Tailor.Training.TrainingOptions { Epochs = 2, BatchSize = 8, LearningRate = 0.05 }).Run();
        Assert.Equal(Tailor.Training.TrainingState.Completed, result.State);
        string written = dir.File("trained.onnx");
        model.Save(written);
        var graph = UpdatableModel.Load(written).Proto.Graph;
        Assert.Equal("zero_bias", graph.FindNode("conv1")!.Input[2]);
        Assert.Equal([0f, 0f, 0f, 0f], OnnxTensors.ToFloats(graph.GetInitializer("zero_bias")));
        Assert.Equal(own, graph.FindNode("conv2")!.Input[2]);
        Assert.Contains(OnnxTensors.ToFloats(graph.GetInitializer(own)), v => v != 0f);
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
