using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Onnx;
using Tailor.Engine;
using Tailor.Engine.Losses;
using Tailor.Onnx;

namespace Tailor.Tests.Engine;

/// <summary>
/// The embedded ResNet18 (a CNTK export, opset 8): the last residual block — two 3×3 convs with
/// BatchNormalization, the residual Add, Relu, then the 7×7 AveragePool — imported from the real file.
/// </summary>
public class ResNet18SuffixTests
{
    const string Cut = "ReLU379_Output_0", Output = "Pooling395_Output_0";

    static ModelProto LoadModel()
    {
        string root = Environment.GetEnvironmentVariable("NUGET_PACKAGES")
            ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        string path = Path.Combine(root, "microsoft.ml.dnnimagefeaturizer.resnet18", "0.23.1", "tools", "DnnImageModels", "ResNet18Onnx", "ResNet18.onnx");
        Assert.True(File.Exists(path), $"the ResNet18 package is restored with the solution; not found at {path}");
        return ModelProto.Parser.ParseFrom(File.ReadAllBytes(path));
    }

    /// <summary>Runs the whole model on ONNX Runtime for one random image, returning the cut tensor and the final output.</summary>
    static (float[] Cut, float[] Output) RunOnnxRuntime(ModelProto model)
    {
        var withCut = model.Clone();
        withCut.Graph.Output.Add(withCut.Graph.ValueInfo.First(v => v.Name == Cut));
        using var session = new InferenceSession(withCut.ToByteArray());
        var rng = new Random(3);
        var image = new float[3 * 224 * 224];
        for (int i = 0; i < image.Length; i++) image[i] = (float)(rng.NextDouble() * 255);
        using var results = session.Run([NamedOnnxValue.CreateFromTensor(model.Graph.Input[0].Name, new DenseTensor<float>(image, [1, 3, 224, 224]))]);
        return (results.First(r => r.Name == Cut).AsEnumerable<float>().ToArray(), results.First(r => r.Name == Output).AsEnumerable<float>().ToArray());
    }

    [Fact]
    public void LastResidualBlock_MatchesOnnxRuntime_AndTrainsThroughBatchNormAndResidualAdd()
    {
        var model = LoadModel();
        var (cut, expected) = RunOnnxRuntime(model);
        string[] trainable = ["Parameter14", "Parameter10", "Parameter403", "Parameter404", "Parameter417", "Parameter418"];
        var graph = SuffixGraph.Build(model.Graph, [Cut], [Output], trainable.ToHashSet(), model.Opset());
        Assert.Equal([512, 7, 7], graph.InputExampleShape(Cut));
        graph.SetInput(Cut, cut, 1);
        graph.Forward(training: false);
        GradientCheck.AssertClose(expected, graph.Output(Output), 1e-4f);

        // Directional finite difference along the gradient g of an MSE loss over all six trained tensors:
        // (L(θ + εg) − L(θ − εg)) / 2ε must equal ‖g‖², the directional derivative the engine claims.
        var target = expected.Select((v, i) => v + (i % 2 == 0 ? 0.5f : -0.5f)).ToArray();
        var loss = new MeanSquaredErrorLoss(Output);
        graph.ZeroGradients();
        graph.Forward(training: true);
        double at = loss.Evaluate(graph, LossTarget.Tensor(target)).Value;
        graph.Backward();
        var gradients = trainable.ToDictionary(n => n, n => graph.Parameters[n].Gradient.ToArray());
        double squaredNorm = gradients.Values.Sum(g => g.Sum(v => (double)v * v));
        Assert.True(squaredNorm > 0);
        foreach (var name in trainable)
            Assert.Contains(gradients[name], v => v != 0); // every trained tensor, BatchNorm scales and biases included, gets a gradient
        float epsilon = (float)(1e-2 / Math.Sqrt(squaredNorm));
        double LossAt(float sign)
        {
            var original = trainable.ToDictionary(n => n, n => graph.Parameters[n].Value.ToArray());
            foreach (var name in trainable)
                System.Numerics.Tensors.TensorPrimitives.MultiplyAdd(gradients[name], sign * epsilon, graph.Parameters[name].Value, graph.Parameters[name].Value);
            graph.Forward(training: false);
            double value = loss.Evaluate(graph, LossTarget.Tensor(target), seedGradient: false).Value;
            foreach (var name in trainable)
                original[name].CopyTo(graph.Parameters[name].Value);
            return value;
        }
        double plus = LossAt(+1), minus = LossAt(-1);
        double directional = (plus - minus) / (2 * epsilon);
        Assert.True(Math.Abs(directional - squaredNorm) <= 0.05 * squaredNorm,
            $"directional derivative by finite differences {directional}, engine's ‖g‖² {squaredNorm}");
        Assert.True(minus < at, $"a step against the gradient must lower the loss ({at} → {minus})");
    }
}
