using Onnx;
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
}
