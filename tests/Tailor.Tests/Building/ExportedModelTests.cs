using Microsoft.ML.OnnxRuntime;
using Tailor.Building;
using Tailor.Data;
using Tailor.Images;
using Tailor.Onnx;
using Tailor.Prediction;
using Tailor.Spec;
using Tailor.Tests.Images;
using Tailor.Training;

namespace Tailor.Tests.Building;

/// <summary>A theory over the torchvision exports in ../shared/models (made by its make_models.py); skipped, with the reason,
/// when that folder is absent (CI has it).</summary>
public sealed class SharedModelsTheoryAttribute : TheoryAttribute
{
    public SharedModelsTheoryAttribute()
    {
        if (ExportedModelTests.ModelsFolder() is null)
            Skip = "../shared/models (the torchvision exports of make_models.py) is not there; these tests need it.";
    }
}

/// <summary>
/// Every torchvision export in ../shared/models, as PyTorch's exporter wrote it, prepared with its last block (or fire
/// module, stage unit, dense layer) and the classifier updatable, trained 2 epochs on the hands photos; the written model
/// runs in plain ONNX Runtime with the probabilities Tailor's Predictor gives, and the training engine's loss on the test
/// photos is the loss of ONNX Runtime's probabilities (the folded graph computes what the exported one does).
/// </summary>
[Trait("Category", "Slow")]
public sealed class ExportedModelTests : IDisposable
{
    private readonly TempFolder _dir = new();

    public void Dispose() => _dir.Dispose();

    internal static string? ModelsFolder()
    {
        try
        {
            string folder = SharedData.Models;
            return Directory.Exists(folder) && Directory.EnumerateFiles(folder, "*.onnx").Any() ? folder : null;
        }
        catch (TailorException)
        {
            return null;
        }
    }

    private static readonly string[] Hands = ["✊", "✋", "✌️"];

    internal static UpdatableModel PrepareLastBlock(string file) => ModelBuilder.Prepare(new PrepareOptions
    {
        BaseModelPath = Path.Combine(SharedData.Models, file),
        Labels = Hands,
        Capacity = 3,
        UpdatableLayers = [LayerCatalog.LastBlock],
        Preprocessing = new ImagePreprocessing { Scale = 1 / 255f },
        Mean = [0.485f, 0.456f, 0.406f],
        Std = [0.229f, 0.224f, 0.225f],
        Augmentation = AugmentationOptions.None,
    });

    [SharedModelsTheory]
    [InlineData("squeezenet1_1-opset13.onnx", "/features/features.12/squeeze/Conv")]
    [InlineData("squeezenet1_1-opset9.onnx", "/features/features.12/squeeze/Conv")]
    [InlineData("squeezenet1_1-tied-opset13.onnx", "/features/features.12/squeeze/Conv")]
    [InlineData("mobilenet_v2-opset13.onnx", "/features/features.16/conv/conv.0/conv.0.0/Conv")]
    [InlineData("mobilenet_v3_small-opset17.onnx", "/features/features.11/block/block.0/block.0.0/Conv")]
    [InlineData("efficientnet_b0-tied-opset13.onnx", "/features/features.6/features.6.3/block/block.0/block.0.0/Conv")]
    [InlineData("shufflenet_v2_x0_5-opset11.onnx", "/stage4/stage4.3/branch2/branch2.0/Conv")]
    [InlineData("densenet_small-opset13.onnx", "/features/denseblock4/denselayer2/norm1/BatchNormalization")]
    public void LastBlock_TrainsTwoEpochs_AndTheWrittenModelRunsInPlainOnnxRuntime(string file, string firstOfBlock)
    {
        var model = PrepareLastBlock(file);
        var layers = model.Spec.UpdatableLayers;
        Assert.Equal(firstOfBlock, layers[0].Name);
        Assert.Equal(ModelBuilder.ClassifierNode, layers[^1].Name);
        // The first layer of the network stays frozen; the first of the block trains.
        var graph = model.Proto.Graph;
        var first = graph.FindNode(ModelBuilder.CandidateLayers(graph)[0])!;
        string frozen = first.Input[1], trained = layers[0].Parameters[0];
        float[] frozenBefore = model.GetParameter(frozen), trainedBefore = model.GetParameter(trained);

        // 30 photos in batches of 8: the last batch of each epoch has 6 (a folded reshape must not hold the batch).
        var result = new UpdateTask(model, LabeledFolder.Scan(TestData.HandsTrain), options: new TrainingOptions { Epochs = 2, BatchSize = 8 }).Run();
        Assert.True(result.State == TrainingState.Completed, $"{file}: {result.State} {result.Reason}");
        Assert.Equal(2, result.EpochsCompleted);
        Assert.Equal(frozenBefore, model.GetParameter(frozen));
        Assert.NotEqual(trainedBefore, model.GetParameter(trained));
        string path = _dir.File(file);
        model.Save(path);

        var test = LabeledFolder.Scan(TestData.HandsTest);
        var paths = test.Examples.Select(e => e.Path).ToList();
        var (images, loaded) = ImageLoader.LoadBatch(paths, model.Spec.Preprocessing);
        Assert.All(loaded, r => Assert.Null(r.Error));
        int count = paths.Count, size = model.Spec.Preprocessing.Width;
        float[] probabilities;
        using (var session = new InferenceSession(path))
        {
            using var input = OrtValue.CreateTensorValueFromMemory(images, [count, 3, model.Spec.Preprocessing.Height, size]);
            using var outputs = session.Run(new RunOptions(), [model.Spec.Input], [input], [model.Spec.ProbabilitiesOutput]);
            probabilities = outputs[0].GetTensorDataAsSpan<float>().ToArray();
        }
        using (var predictor = new Predictor(UpdatableModel.Load(path)))
        {
            var ours = predictor.Predict(images, count);
            for (int n = 0; n < count; n++)
                for (int c = 0; c < 3; c++)
                    Assert.Equal(probabilities[n * 3 + c], ours[n].Probabilities[c], 1e-5f);
        }

        // The engine's forward pass on the same photos: the same mean cross-entropy as ONNX Runtime's probabilities.
        var slots = test.Examples.Select(e => model.Spec.Labels.IndexOf(e.Label)).ToArray();
        double ortLoss = slots.Select((s, n) => -Math.Log(Math.Max(probabilities[n * 3 + s], 1e-30))).Average();
        using var plan = TrainingPlan.Create(UpdatableModel.Load(path), test, new TrainingOptions { Augmentation = AugmentationOptions.None });
        using var features = plan.ComputeFeatures();
        using var training = new Tailor.Training.TrainingSession(plan);
        var (engineLoss, _) = training.Evaluate(features.Train)!.Value;
        Assert.Equal(ortLoss, engineLoss, Math.Max(1e-4, 1e-3 * ortLoss));
    }

    [SharedModelsTheory]
    [InlineData("squeezenet1_1-tied-opset13.onnx")]
    [InlineData("efficientnet_b0-tied-opset13.onnx")]
    public void TiedExport_EachTrainedBiasIsItsOwnInitializer_InTheWrittenModel(string file)
    {
        // The exporter stored torchvision's zero biases once and handed them on through Identity nodes.
        var model = PrepareLastBlock(file);
        var graph = model.Proto.Graph;
        Assert.DoesNotContain(graph.Node, n => n.OpType is "Identity" or "Constant");
        foreach (var p in model.Spec.UpdatableLayers.SelectMany(l => l.Parameters))
            Assert.Equal(1, graph.Node.Sum(n => n.Input.Count(i => i == p)));
    }
}
