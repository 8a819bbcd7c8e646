using Google.Protobuf;
using Onnx;
using Tailor.Onnx;
using DataType = Onnx.TensorProto.Types.DataType;

namespace Tailor.Tests.Onnx;

/// <summary>The graph module's walks and its one opset rule, on small hand-built graphs.</summary>
public class OnnxGraphTests
{
    /// <summary>
    /// x ─ live_relu ─ a ─┬─ live_add(+w_live) ─ b ─ live_sigmoid ─ out (the output)
    ///                    └─ dead_tanh ─ c ─ dead_gemm(+w_dead) ─ d     (a dead branch off a live tensor)
    /// z ─ dead_neg ─ e                                                  (a dead input)
    /// The nodes are listed in an order that interleaves the two branches.
    /// </summary>
    private static ModelProto DeadBranchModel()
    {
        var g = new GraphProto { Name = "g" };
        g.Input.Add(OnnxGraph.TensorInfo("x", DataType.Float, null, 4));
        g.Input.Add(OnnxGraph.TensorInfo("z", DataType.Float, null, 4));
        g.Initializer.Add(OnnxTensors.FromFloats("w_live", [4], [1f, 2f, 3f, 4f]));
        g.Initializer.Add(OnnxTensors.FromFloats("w_dead", [4, 4], new float[16]));
        g.Node.Add(OnnxGraph.Node("Relu", "live_relu", ["x"], ["a"]));
        g.Node.Add(OnnxGraph.Node("Tanh", "dead_tanh", ["a"], ["c"]));
        g.Node.Add(OnnxGraph.Node("Add", "live_add", ["a", "w_live"], ["b"]));
        g.Node.Add(OnnxGraph.Node("Neg", "dead_neg", ["z"], ["e"]));
        g.Node.Add(OnnxGraph.Node("Gemm", "dead_gemm", ["c", "w_dead"], ["d"]));
        g.Node.Add(OnnxGraph.Node("Sigmoid", "live_sigmoid", ["b"], ["out"]));
        g.Output.Add(OnnxGraph.TensorInfo("out", DataType.Float, null, 4));
        g.Output.Add(OnnxGraph.TensorInfo("d", DataType.Float, null, 4));
        var m = new ModelProto { IrVersion = 8, Graph = g };
        m.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 13 });
        m.MetadataProps.Add(new StringStringEntryProto { Key = "k", Value = "v" });
        return m;
    }

    private static string[] Names(IEnumerable<NodeProto> nodes) => [.. nodes.Select(n => n.Name)];

    [Fact]
    public void Upstream_KeepsOnlyTheLiveNodesInGraphOrder()
    {
        var graph = DeadBranchModel().Graph;
        var (nodes, needed) = OnnxGraph.Upstream(graph.Node, ["out"]);
        Assert.Equal(["live_relu", "live_add", "live_sigmoid"], Names(nodes));
        Assert.Equal(new HashSet<string> { "out", "b", "a", "w_live", "x" }, needed);
    }

    [Fact]
    public void Upstream_FromAnIntermediateTensor_StopsThere()
    {
        var graph = DeadBranchModel().Graph;
        Assert.Equal(["live_relu", "dead_tanh", "dead_gemm"], Names(OnnxGraph.Upstream(graph.Node, ["d"]).Nodes));
        Assert.Equal(["live_relu"], Names(OnnxGraph.Upstream(graph.Node, ["a"]).Nodes));
        Assert.Empty(OnnxGraph.Upstream(graph.Node, ["x"]).Nodes);
    }

    [Fact]
    public void PruneTo_DropsTheDeadBranchItsInitializerAndItsInput()
    {
        var graph = DeadBranchModel().Graph;
        graph.PruneTo(["out"]);
        Assert.Equal(["live_relu", "live_add", "live_sigmoid"], Names(graph.Node));
        Assert.Equal(["w_live"], graph.Initializer.Select(t => t.Name));
        Assert.Equal(["x"], graph.Input.Select(v => v.Name));
    }

    [Fact]
    public void Downstream_ReachesEverythingAfterTheStartAndNothingBefore()
    {
        var graph = DeadBranchModel().Graph;
        var (nodes, reached) = OnnxGraph.Downstream(graph.Node, [], n => n.Name == "dead_tanh");
        Assert.Equal(["dead_tanh", "dead_gemm"], Names(nodes));
        Assert.Equal(new HashSet<string> { "c", "d" }, reached);

        var fromX = OnnxGraph.Downstream(graph.Node, ["x"]);
        Assert.Equal(["live_relu", "dead_tanh", "live_add", "dead_gemm", "live_sigmoid"], Names(fromX.Nodes));
        Assert.DoesNotContain("e", fromX.Reached);
    }

    [Fact]
    public void Subgraph_SharesTheSourceMessagesAndDropsMetadata()
    {
        var model = DeadBranchModel();
        var prefix = OnnxGraph.Subgraph(model, ["b"]);
        Assert.Equal(["live_relu", "live_add"], Names(prefix.Graph.Node));
        Assert.Same(model.Graph.Node[0], prefix.Graph.Node[0]);
        Assert.Equal(["w_live"], prefix.Graph.Initializer.Select(t => t.Name));
        Assert.Equal(["x"], prefix.Graph.Input.Select(v => v.Name));
        Assert.Equal(["b"], prefix.Graph.Output.Select(v => v.Name));
        Assert.Empty(prefix.MetadataProps);
        Assert.Equal(13, prefix.Opset());
        Assert.Equal(6, model.Graph.Node.Count); // the source is untouched
    }

    [Fact]
    public void ProducerChain_FollowsFirstInputsBackToTheGraphInput()
    {
        var graph = DeadBranchModel().Graph;
        Assert.Equal(["live_sigmoid", "live_add", "live_relu"], Names(graph.ProducerChain("out", 64)));
        Assert.Equal(["dead_gemm", "dead_tanh"], Names(graph.ProducerChain("d", 2)));
        Assert.Empty(graph.ProducerChain("w_live", 64));
    }

    private static ModelProto WithOpsets(params (string Domain, long Version)[] entries)
    {
        var m = new ModelProto { IrVersion = 8, Graph = new GraphProto() };
        foreach (var (domain, version) in entries)
            m.OpsetImport.Add(new OperatorSetIdProto { Domain = domain, Version = version });
        return m;
    }

    [Fact]
    public void Opset_IsTheDefaultDomainEntry_WhereverItStands()
    {
        Assert.Equal(13, WithOpsets(("", 13)).Opset());
        Assert.Equal(11, WithOpsets(("ai.onnx", 11)).Opset());
        // Another domain listed first: the default domain's version, not the first entry's.
        Assert.Equal(12, WithOpsets(("ai.onnx.ml", 3), ("com.microsoft", 1), ("", 12)).Opset());
        // Both spellings of the default domain, agreeing.
        Assert.Equal(17, WithOpsets(("", 17), ("ai.onnx", 17)).Opset());
    }

    [Fact]
    public void Opset_WithoutADefaultDomainEntry_IsAClearError()
    {
        var none = Assert.Throws<TailorException>(() => WithOpsets().Opset());
        Assert.Contains("no opset for the default ONNX domain (ai.onnx)", none.Message);
        var otherOnly = Assert.Throws<TailorException>(() => WithOpsets(("ai.onnx.ml", 3)).Opset());
        Assert.Contains("'ai.onnx.ml' 3", otherOnly.Message);
    }

    [Fact]
    public void Opset_WithDisagreeingDefaultDomainEntries_IsAClearError()
    {
        var e = Assert.Throws<TailorException>(() => WithOpsets(("", 11), ("ai.onnx", 13)).Opset());
        Assert.Contains("several versions (11, 13)", e.Message);
    }

    [Fact]
    public void Tensors_ReadFloatDataAndRawDataAlike_AndRefuseAWrongCount()
    {
        var raw = OnnxTensors.FromFloats("r", [2, 2], [1f, 2f, 3f, 4f]);
        var typed = new TensorProto { Name = "t", DataType = (int)DataType.Float, Dims = { 2, 2 }, FloatData = { 1f, 2f, 3f, 4f } };
        Assert.Equal([1f, 2f, 3f, 4f], OnnxTensors.ToFloats(raw));
        Assert.Equal([1f, 2f, 3f, 4f], OnnxTensors.ToFloats(typed));
        Assert.Equal([5L, -1L], OnnxTensors.ToInt64s(OnnxTensors.FromInt64s("s", [2], [5, -1])));

        var short_ = new TensorProto { Name = "short", DataType = (int)DataType.Float, Dims = { 3 }, RawData = ByteString.CopyFrom(new byte[8]) };
        Assert.Contains("'short' holds 2 floats, but its shape [3] needs 3", Assert.Throws<TailorException>(() => OnnxTensors.ToFloats(short_)).Message);
        var external = new TensorProto { Name = "ext", DataType = (int)DataType.Float, Dims = { 1 }, DataLocation = TensorProto.Types.DataLocation.External };
        Assert.Contains("external data", Assert.Throws<TailorException>(() => OnnxTensors.ToFloats(external)).Message);
        Assert.Contains("not float", Assert.Throws<TailorException>(() => OnnxTensors.ToFloats(OnnxTensors.FromStrings("s", ["a"]))).Message);
    }
}
