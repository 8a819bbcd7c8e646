using Onnx;
using Tailor.Engine.Ops;
using static Tailor.Tests.Engine.OnnxTestGraph;

namespace Tailor.Tests.Engine;

/// <summary>Conv's Winograd path (forced on shapes with few channels, which would otherwise run direct) against ONNX
/// Runtime and finite differences, the input, weights and bias all trainable.</summary>
public partial class OpTests
{
    static void CheckWinograd(In[] inputs, AttributeProto[] attributes)
    {
        var previous = Conv.Forced;
        Conv.Forced = ConvAlgorithm.Winograd;
        try
        {
            Check("Conv", inputs, attributes);
        }
        finally
        {
            Conv.Forced = previous;
        }
    }

    [Fact] public void Conv_Winograd_SamePadding() =>
        CheckWinograd([Image(2, 3, 7, 7), W("w", 2, 4, 3, 3, 3), W("b", 3, 4)], [Attr("pads", 1L, 1, 1, 1)]);
    [Fact] public void Conv_Winograd_OddPlane_AsymmetricPads() =>
        CheckWinograd([Image(1, 2, 5, 6), W("w", 2, 3, 2, 3, 3)], [Attr("pads", 1L, 0, 0, 2)]);
    [Fact] public void Conv_Winograd_NoPadding_TwoTilesAcross() =>
        CheckWinograd([Image(2, 2, 8, 10), W("w", 2, 3, 2, 3, 3), W("b", 3, 3)], []);
    // Chosen without forcing: 16 channels in and out.
    [Fact] public void Conv_Winograd_ChosenForSixteenChannels() =>
        Check("Conv", [Image(2, 16, 6, 6), W("w", 2, 16, 16, 3, 3), W("b", 3, 16)], [Attr("pads", 1L, 1, 1, 1)]);
}
