using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using Onnx;
using Tailor.Building;
using Tailor.Onnx;
using Tailor.Spec;

namespace Tailor.Tests.Building;

public class ExpandAndErrorTests(PreparedModelFixture fixture) : IClassFixture<PreparedModelFixture>
{
    private readonly string _dir = Directory.CreateTempSubdirectory("tailor-expand").FullName;

    /// <summary>A tiny plain ONNX classifier: [N,3,8,8] → 1×1 Conv (3→4) → GlobalAveragePool → Flatten → Gemm (4→3, transB) → Softmax.</summary>
    internal static ModelProto TinyClassifier(int seed = 3)
    {
        var rng = new Random(seed);
        float[] R(int n) => Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() - 0.5)).ToArray();
        var g = new GraphProto { Name = "tiny" };
        g.Input.Add(OnnxGraph.TensorInfo("data", TensorProto.Types.DataType.Float, 1, 3, 8, 8));
        g.Initializer.Add(OnnxTensors.FromFloats("conv.w", [4, 3, 1, 1], R(12)));
        g.Initializer.Add(OnnxTensors.FromFloats("fc.w", [3, 4], R(12)));
        g.Initializer.Add(OnnxTensors.FromFloats("fc.b", [3], R(3)));
        g.Node.Add(OnnxGraph.Node("Conv", "conv", ["data", "conv.w"], ["c"]));
        g.Node.Add(OnnxGraph.Node("GlobalAveragePool", "", ["c"], ["p"]));
        g.Node.Add(OnnxGraph.Node("Flatten", "", ["p"], ["f"]));
        g.Node.Add(OnnxGraph.Node("Gemm", "fc", ["f", "fc.w", "fc.b"], ["logits"], OnnxGraph.IntAttr("transB", 1)));
        g.Node.Add(OnnxGraph.Node("Softmax", "", ["logits"], ["prob"], OnnxGraph.IntAttr("axis", 1)));
        g.Output.Add(OnnxGraph.TensorInfo("prob", TensorProto.Types.DataType.Float, 1, 3));
        var m = new ModelProto { IrVersion = 7, Graph = g };
        m.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 13 });
        return m;
    }

    private string Write(ModelProto m, string name)
    {
        string p = Path.Combine(_dir, name);
        File.WriteAllBytes(p, m.ToByteArray());
        return p;
    }

    [Fact]
    public void ExpandTailorModel_KeepsOldRowsBitIdentical_NewRowsZero_NewSlotsPlaceholders()
    {
        var small = ModelBuilder.Prepare(new PrepareOptions { Labels = ["✊", "✋", "✌️"], Capacity = 3, InitSeed = 5 });
        string smallPath = Path.Combine(_dir, "small.onnx");
        small.Save(smallPath);
        float[] w = small.GetParameter("classifier.weight"), b = small.GetParameter("classifier.bias");

        var big = ModelBuilder.Expand(smallPath, new ExpandOptions { Capacity = 10 });
        float[] w2 = big.GetParameter("classifier.weight"), b2 = big.GetParameter("classifier.bias");
        Assert.Equal(new long[] { 10, 512 }, big.GetParameterShape("classifier.weight"));
        Assert.Equal(w, w2[..w.Length]);                     // bit-identical
        Assert.All(w2[w.Length..], v => Assert.Equal(0f, v));
        Assert.Equal(b, b2[..3]);
        Assert.All(b2[3..], v => Assert.Equal(0f, v));
        Assert.Equal(["✊", "✋", "✌️", "user0", "user1", "user2", "user3", "user4", "user5", "user6"], big.Spec.Labels.Names);
        Assert.Equal(Enumerable.Range(3, 7), big.Spec.Labels.Placeholders);

        string bigPath = Path.Combine(_dir, "big.onnx");
        big.Save(bigPath);
        using var session = new InferenceSession(bigPath);
        using var input = OrtValue.CreateTensorValueFromMemory(new float[2 * 3 * 224 * 224], [2, 3, 224, 224]);
        using var outputs = session.Run(new RunOptions(), ["image"], [input], ["probabilities"]);
        Assert.Equal([2, 10], outputs[0].GetTensorTypeAndShape().Shape);
    }

    [Fact]
    public void ExpandPlainClassifier_MakesItUpdatable_AndKeepsItsLogits()
    {
        string path = Write(TinyClassifier(), "tiny.onnx");
        var model = ModelBuilder.Expand(path, new ExpandOptions { Capacity = 5, Labels = ["a", "b", "c"] });
        Assert.Equal("fc", model.Spec.Classifier);
        Assert.Equal(["a", "b", "c", "user0", "user1"], model.Spec.Labels.Names);
        Assert.Equal("fc", Assert.Single(model.Spec.UpdatableLayers).Name);
        string outPath = Path.Combine(_dir, "tiny5.onnx");
        model.Save(outPath);

        var rng = new Random(1);
        float[] x = Enumerable.Range(0, 2 * 3 * 64).Select(_ => (float)rng.NextDouble()).ToArray();
        float[] Run(string p, string output, int batch)
        {
            using var s = new InferenceSession(p);
            using var v = OrtValue.CreateTensorValueFromMemory(x[..(batch * 192)], [batch, 3, 8, 8]);
            using var r = s.Run(new RunOptions(), [s.InputNames[0]], [v], [output]);
            return r[0].GetTensorDataAsSpan<float>().ToArray();
        }
        float[] before = Run(path, "prob", 1);
        float[] after = Run(outPath, "probabilities", 2);    // the batch is dynamic now
        Assert.Equal(10, after.Length);
        // New logits are 0, old logits unchanged: ratios between old classes are preserved.
        Assert.Equal(before[0] / before[1], after[0] / after[1], 1e-4f);
        Assert.Equal(before[1] / before[2], after[1] / after[2], 1e-4f);
    }

    [Fact]
    public void Expand_ToSmallerCapacity_IsAnError()
    {
        string path = Write(TinyClassifier(), "tiny-small.onnx");
        var e = Assert.Throws<TailorException>(() => ModelBuilder.Expand(path, new ExpandOptions { Capacity = 2 }));
        Assert.Contains("ExpandOptions.Capacity 2 is smaller than the 3 slots", e.Message);
    }

    [Fact]
    public void Expand_WrongNumberOfLabels_NamesBothCounts()
    {
        string path = Write(TinyClassifier(), "tiny-labels.onnx");
        var e = Assert.Throws<TailorException>(() => ModelBuilder.Expand(path, new ExpandOptions { Labels = ["a", "b"] }));
        Assert.Contains("names 2 classes", e.Message);
        Assert.Contains("has 3", e.Message);
    }

    [Fact]
    public void UnknownLayer_ListsTheCandidates()
    {
        var model = fixture.Load();
        var e = Assert.Throws<TailorException>(() => ModelBuilder.ConfigureTraining(model, ["conv99"], LossKind.CategoricalCrossEntropy, OptimizerKind.Sgd));
        Assert.Contains("no layer named 'conv99'", e.Message);
        Assert.Contains("classifier", e.Message);
        Assert.Contains("Convolution387", e.Message);
    }

    [Fact]
    public void DeeperLayers_CanBeMarkedUpdatable()
    {
        var model = fixture.Load();
        ModelBuilder.ConfigureTraining(model, ["Convolution387", "BatchNormalization389", "classifier"], LossKind.CategoricalCrossEntropy, OptimizerKind.Sgd);
        Assert.Equal(["Convolution387", "BatchNormalization389", "classifier"], model.Spec.UpdatableLayers.Select(l => l.Name));
        Assert.Equal(["Parameter10"], model.Spec.UpdatableLayers[0].Parameters);
        Assert.Equal(2, model.Spec.UpdatableLayers[1].Parameters.Count);
    }

    [Fact]
    public void DefaultOutsideItsAllowedValues_IsAnError()
    {
        var model = fixture.Load();
        var bad = new Dictionary<string, Hyperparameter> { ["batch_size"] = Hyperparameter.Int(3, AllowedValues.OneOf(1, 2, 8, 16)) };
        var e = Assert.Throws<TailorException>(() => ModelBuilder.ConfigureTraining(model, ["classifier"], LossKind.CategoricalCrossEntropy, OptimizerKind.Sgd, bad));
        Assert.Contains("batch_size = 3", e.Message);
        Assert.Contains("one of {1, 2, 8, 16}", e.Message);
    }

    [Fact]
    public void MoreLabelsThanSlots_IsAnError()
    {
        var e = Assert.Throws<TailorException>(() => ModelBuilder.Prepare(new PrepareOptions { Labels = ["a", "b", "c"], Capacity = 2 }));
        Assert.Contains("3 labels do not fit in 2 slots", e.Message);
    }

    [Fact]
    public void NotOnnx_Truncated_Empty_Missing_NoSpec_AreClearErrors()
    {
        string text = Path.Combine(_dir, "notes.onnx");
        File.WriteAllText(text, "this is not a model, just some text that happens to end in .onnx");
        Assert.Contains("notes.onnx", Assert.Throws<TailorException>(() => UpdatableModel.Load(text)).Message);

        string truncated = Path.Combine(_dir, "truncated.onnx");
        byte[] full = File.ReadAllBytes(fixture.Path);
        File.WriteAllBytes(truncated, full[..(full.Length / 2)]);
        var e = Assert.Throws<TailorException>(() => UpdatableModel.Load(truncated));
        Assert.Contains("truncated.onnx", e.Message);
        Assert.Contains("truncated or not ONNX", e.Message);

        string empty = Path.Combine(_dir, "empty.onnx");
        File.WriteAllBytes(empty, []);
        Assert.Contains("is empty", Assert.Throws<TailorException>(() => UpdatableModel.Load(empty)).Message);

        Assert.Contains("does not exist", Assert.Throws<TailorException>(() => UpdatableModel.Load(Path.Combine(_dir, "missing.onnx"))).Message);

        string plain = Write(TinyClassifier(), "plain.onnx");
        e = Assert.Throws<TailorException>(() => UpdatableModel.Load(plain));
        Assert.Contains("not an updatable one", e.Message);
        Assert.Contains("ModelBuilder.Prepare", e.Message);
    }

    [Fact]
    public void UnknownFeatureOutput_ListsOutputs()
    {
        var e = Assert.Throws<TailorException>(() => ModelBuilder.Prepare(new PrepareOptions { FeatureOutput = "nope" }));
        Assert.Contains("no tensor named 'nope'", e.Message);
        Assert.Contains("Pooling395_Output_0", e.Message);
    }

    [Fact]
    public void BaseModelWithMeanAndStd_PutsNormalizationInTheGraph()
    {
        // Base = the tiny classifier's backbone up to the pooled features.
        string path = Write(TinyClassifier(), "base.onnx");
        var model = ModelBuilder.Prepare(new PrepareOptions
        {
            BaseModelPath = path, FeatureOutput = "f", Capacity = 4, Labels = ["x"],
            Mean = [0.5f, 0.5f, 0.5f], Std = [0.25f, 0.25f, 0.25f],
            Preprocessing = new ImagePreprocessing { Scale = 1 / 255f },
        });
        Assert.Equal(8, model.Spec.Preprocessing.Width);
        Assert.Equal(new long[] { 4, 4 }, model.GetParameterShape("classifier.weight"));
        Assert.Contains(model.Proto.Graph.Node, n => n.OpType == "Sub" && n.Input[1] == "preprocess/mean");
        Assert.Contains(model.Proto.Graph.Node, n => n.OpType == "Div" && n.Input[1] == "preprocess/std");
        using var predictor = new Tailor.Prediction.Predictor(model);
        var p = predictor.Predict(new float[2 * 192], 2);
        Assert.Equal(1f, p[0].Probabilities.Sum(), 1e-4f);
    }
}
