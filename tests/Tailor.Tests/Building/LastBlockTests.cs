using Tailor.Building;

namespace Tailor.Tests.Building;

/// <summary>The block finder behind <c>--updatable last-block</c>: the layers after the second-to-last join.</summary>
public sealed class LastBlockTests
{
    [Fact]
    public void OnTheEmbeddedResNet18_TheLastBlockIsLayer4sLastBasicBlock_AndTheClassifier()
    {
        var model = ModelBuilder.Prepare(new PrepareOptions { Labels = ["a", "b"], Capacity = 2, UpdatableLayers = [LayerCatalog.LastBlock] });
        Assert.Equal(["Convolution381", "BatchNormalization383", "Convolution387", "BatchNormalization389", "classifier"],
            model.Spec.UpdatableLayers.Select(l => l.Name));
        // BatchNormalization trains its scale and bias; its statistics stay.
        Assert.Equal(["Parameter417", "Parameter418"], model.Spec.UpdatableLayers[3].Parameters);
    }

    [Fact]
    public void LastBlock_CombinesWithNamedLayers()
    {
        var model = ModelBuilder.Prepare(new PrepareOptions { Labels = ["a", "b"], Capacity = 2, UpdatableLayers = ["Convolution373", LayerCatalog.LastBlock] });
        Assert.Equal("Convolution373", model.Spec.UpdatableLayers[0].Name);
        Assert.Equal(6, model.Spec.UpdatableLayers.Count);
    }

    [SharedModelsTheory]
    [InlineData("squeezenet1_1-opset13.onnx", "/features/features.12/squeeze/Conv,/features/features.12/expand1x1/Conv,/features/features.12/expand3x3/Conv,/classifier/classifier.1/Conv")]
    [InlineData("shufflenet_v2_x0_5-opset11.onnx", "/stage4/stage4.3/branch2/branch2.0/Conv,/stage4/stage4.3/branch2/branch2.3/Conv,/stage4/stage4.3/branch2/branch2.5/Conv,/conv5/conv5.0/Conv,/fc/Gemm")]
    [InlineData("densenet_small-opset13.onnx", "/features/denseblock4/denselayer2/norm1/BatchNormalization,/features/denseblock4/denselayer2/conv1/Conv,/features/denseblock4/denselayer2/norm2/BatchNormalization,/features/denseblock4/denselayer2/conv2/Conv,/features/norm5/BatchNormalization,/classifier/Gemm")]
    [InlineData("mobilenet_v3_small-opset17.onnx", "/features/features.11/block/block.0/block.0.0/Conv,/features/features.11/block/block.1/block.1.0/Conv,/features/features.11/block/block.2/fc1/Conv,/features/features.11/block/block.2/fc2/Conv,/features/features.11/block/block.3/block.3.0/Conv,/features/features.12/features.12.0/Conv,/classifier/classifier.0/Gemm,/classifier/classifier.3/Gemm")]
    public void OnTheExports_TheLastBlockIsTheLastUnit_AndWhatFollowsIt(string file, string expected)
    {
        var rows = LayerCatalog.Describe(Path.Combine(SharedData.Models, file));
        Assert.Equal(expected.Split(','), rows.Where(r => r.InLastBlock).Select(r => r.Name));
    }
}
