using System.Diagnostics;
using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Onnx;
using Tailor.Heads;
using Xunit.Abstractions;

namespace Tailor.Tests.Heads;

public class LogisticRegressionTests
{
    private const int N = 30, D = 4, C = 3;

    /// <summary>3 overlapping Gaussian blobs in 4-d (not separable, so the optimum is interior).</summary>
    private static (float[] X, int[] Y) Problem(int n = N, int d = D, int c = C, int seed = 11)
    {
        var rng = new Random(seed);
        float[] x = new float[n * d];
        int[] y = new int[n];
        for (int i = 0; i < n; i++)
        {
            y[i] = i % c;
            for (int j = 0; j < d; j++)
            {
                double gauss = Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());
                x[i * d + j] = (float)(gauss + (j % c == y[i] ? 1.0 : 0.0) + 0.3 * (j % 5));
            }
        }
        return (x, y);
    }

    [Theory]
    [InlineData(false, 0.05, false)]
    [InlineData(true, 0.05, false)]
    [InlineData(false, 0.005, false)]
    [InlineData(true, 0.01, false)]
    [InlineData(false, 0.05, true)]
    [InlineData(true, 0.01, true)]
    public void MatchesNewtonReference(bool normalize, double l2, bool inFloat)
    {
        var (x, y) = Problem();
        var model = LogisticRegression.Train(x, y, C, new LogisticRegressionOptions
        {
            L2 = l2,
            NormalizeFeatures = normalize,
            GradientTolerance = inFloat ? 1e-6 : 1e-10,
            FunctionTolerance = 0,
            DoublePrecisionThreshold = inFloat ? 0 : long.MaxValue,
        });
        Assert.True(model.Training.Converged, model.Training.Message);

        double[] xd = x.Select(v => (double)v).ToArray();
        if (normalize)
            for (int i = 0; i < N; i++)
            {
                double norm = 0;
                for (int j = 0; j < D; j++) norm += xd[i * D + j] * xd[i * D + j];
                for (int j = 0; j < D; j++) xd[i * D + j] /= Math.Sqrt(norm);
            }
        var (w, b, loss) = NewtonReference.Solve(xd, y, N, D, C, l2);
        for (int i = 0; i < C * D; i++)
            Assert.True(Math.Abs(w[i] - model.Weights[i]) <= 1e-4, $"W[{i}]: reference {w[i]}, L-BFGS {model.Weights[i]}");
        for (int c = 0; c < C; c++)
            Assert.True(Math.Abs(b[c] - model.Bias[c]) <= 1e-4, $"b[{c}]: reference {b[c]}, L-BFGS {model.Bias[c]}");
        Assert.Equal(loss, model.Training.Loss, 1e-6);
        // And the reference is not trivial: the problem is learned, weights are far from zero.
        Assert.True(w.Max(Math.Abs) > 0.1);
        Assert.True(loss < Math.Log(C));
    }

    [Fact]
    public void Gradient_MatchesFiniteDifferences_AndExactDoubleGradient()
    {
        var (x, y) = Problem();
        var objective = new LogisticRegression.SoftmaxObjective<float>(x, y, N, D, C, 0.1, parallel: false);
        var rng = new Random(3);
        double[] theta = Enumerable.Range(0, C * D + C).Select(_ => rng.NextDouble() - 0.5).ToArray();
        // Round W to float so the float objective evaluates exactly at θ.
        for (int i = 0; i < theta.Length; i++) theta[i] = (float)theta[i];
        double[] g = new double[theta.Length];
        objective.Evaluate(theta, g);

        double[] xd = x.Select(v => (double)v).ToArray();
        var (f, exact) = NewtonReference.LossAndGradient(xd, y, N, D, C, 0.1, theta);
        double[] scratch = new double[theta.Length];
        Assert.Equal(f, objective.Evaluate(theta, scratch), 1e-6);
        for (int i = 0; i < theta.Length; i++)
        {
            Assert.Equal(exact[i], g[i], 1e-5);
            const double h = 1e-3;
            double[] plus = (double[])theta.Clone(), minus = (double[])theta.Clone();
            plus[i] += h;
            minus[i] -= h;
            double fd = (objective.Evaluate(plus, scratch) - objective.Evaluate(minus, scratch)) / (2 * h);
            Assert.True(Math.Abs(fd - g[i]) <= 1e-3 * Math.Max(1, Math.Abs(g[i])), $"θ[{i}]: finite difference {fd}, gradient {g[i]}");
        }
    }

    [Fact]
    public void BlockedKernels_MatchScalar_ForEveryLength()
    {
        var rng = new Random(9);
        for (int d = 0; d <= 257; d++)
        {
            float[] x = Enumerable.Range(0, 4 * d).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
            float[] w = Enumerable.Range(0, d).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
            LogisticRegression.SoftmaxObjective<float>.Dot4(x, w, d, out float z0, out float z1, out float z2, out float z3);
            float[] z = [z0, z1, z2, z3];
            float[] r = [0.5f, -0.25f, 1.5f, -2f];
            float[] g = w.ToArray();
            LogisticRegression.SoftmaxObjective<float>.Axpy4(x, d, r[0], r[1], r[2], r[3], g);
            double[] xd = x.Select(v => (double)v).ToArray(), wd = w.Select(v => (double)v).ToArray();
            LogisticRegression.SoftmaxObjective<double>.Dot4(xd, wd, d, out double y0, out _, out _, out double y3);
            for (int q = 0; q < 4; q++)
            {
                double expected = 0;
                for (int j = 0; j < d; j++) expected += (double)x[q * d + j] * w[j];
                Assert.True(Math.Abs(expected - z[q]) <= 1e-5 * Math.Max(1, d), $"d = {d}, row {q}: {z[q]} vs {expected}");
            }
            double e0 = 0, e3 = 0;
            for (int j = 0; j < d; j++) { e0 += xd[j] * wd[j]; e3 += xd[3 * d + j] * wd[j]; }
            Assert.Equal(e0, y0, 1e-12);
            Assert.Equal(e3, y3, 1e-12);
            for (int j = 0; j < d; j++)
            {
                double expected = w[j];
                for (int q = 0; q < 4; q++) expected += r[q] * x[q * d + j];
                Assert.Equal(expected, g[j], 1e-5);
            }
        }
    }

    [Fact]
    public void NonConvergence_KeepsBestIterate_WithFlag()
    {
        var (x, y) = Problem();
        var model = LogisticRegression.Train(x, y, C, new LogisticRegressionOptions { MaxIterations = 2, L2 = 0.001 });
        Assert.False(model.Training.Converged);
        Assert.Equal(2, model.Training.Iterations);
        Assert.Contains("did not converge within 2 iterations", model.Training.Message);
        Assert.True(model.Training.Loss < Math.Log(C), "two steps must already improve on the zero model");
        Assert.Contains(model.Weights, w => w != 0);
    }

    [Fact]
    public void Weights_HaveGemmTransBLayout_OnOnnxRuntime()
    {
        var (x, y) = Problem();
        var model = LogisticRegression.Train(x, y, C, new LogisticRegressionOptions { NormalizeFeatures = false });
        var proto = new ModelProto { IrVersion = 7 };
        proto.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 13 });
        var graph = new GraphProto { Name = "head" };
        graph.Input.Add(FloatValue("x", -1, D));
        graph.Output.Add(FloatValue("p", -1, C));
        graph.Initializer.Add(Tensor("W", model.Weights, C, D));
        graph.Initializer.Add(Tensor("b", model.Bias, C));
        graph.Node.Add(new NodeProto
        {
            OpType = "Gemm", Input = { "x", "W", "b" }, Output = { "z" },
            Attribute = { new AttributeProto { Name = "transB", Type = AttributeProto.Types.AttributeType.Int, I = 1 } },
        });
        graph.Node.Add(new NodeProto
        {
            OpType = "Softmax", Input = { "z" }, Output = { "p" },
            Attribute = { new AttributeProto { Name = "axis", Type = AttributeProto.Types.AttributeType.Int, I = 1 } },
        });
        proto.Graph = graph;
        using var session = new InferenceSession(proto.ToByteArray());
        using var results = session.Run([NamedOnnxValue.CreateFromTensor("x", new DenseTensor<float>(x, [N, D]))]);
        var p = results.First().AsTensor<float>();
        int correct = 0;
        for (int i = 0; i < N; i++)
        {
            float[] managed = model.PredictProbabilities(x.AsSpan(i * D, D));
            for (int c = 0; c < C; c++) Assert.Equal(managed[c], p[i, c], 1e-6f);
            if (model.Predict(x.AsSpan(i * D, D)) == y[i]) correct++;
        }
        Assert.True(correct >= N / 2, $"{correct}/{N} training examples right");
    }

    [Fact]
    public void NormalizeFeatures_IsRecordedAndAppliedAtPrediction()
    {
        var (x, y) = Problem();
        var model = LogisticRegression.Train(x, y, C);
        Assert.True(model.NormalizeFeatures);
        float[] q = x.AsSpan(0, D).ToArray();
        float[] scaled = q.Select(v => v * 37f).ToArray();
        var p1 = model.PredictProbabilities(q);
        var p2 = model.PredictProbabilities(scaled);
        for (int c = 0; c < C; c++) Assert.Equal(p1[c], p2[c], 1e-6f);
    }

    [Fact]
    public void ClassWithoutExamples_GetsZeroWeightsAndAbsentBias()
    {
        var (x, y) = Problem();
        var model = LogisticRegression.Train(x, y, classCount: 5);
        Assert.True(model.Training.Converged, model.Training.Message);
        for (int c = 3; c < 5; c++)
        {
            Assert.All(model.Weights.AsSpan(c * D, D).ToArray(), w => Assert.Equal(0f, w));
            Assert.Equal(LogisticRegression.AbsentClassBias, model.Bias[c]);
        }
        Assert.True(model.PredictProbabilities(x.AsSpan(0, D))[4] < 1e-7f);
        Assert.Equal(0.0, model.Bias.Take(3).Sum(b => (double)b), 1e-5);
    }

    [Fact]
    public void StringLabels_FollowClassOrder()
    {
        var (x, y) = Problem();
        string[] names = ["✊", "✋", "✌️"];
        var byIndex = LogisticRegression.Train(x, y, C);
        var byName = LogisticRegression.Train(x, y.Select(i => names[i]).ToList(), names);
        Assert.Equal(byIndex.Weights, byName.Weights);
        var e = Assert.Throws<TailorException>(() => LogisticRegression.Train(x, y.Select(i => i == 0 ? "🖖" : names[i]).ToList(), names));
        Assert.Contains("'🖖'", e.Message);
    }

    [Fact]
    public void BadInput_Throws_NamingTheValue()
    {
        var (x, y) = Problem();
        y[4] = 7;
        Assert.Contains("class 7", Assert.Throws<TailorException>(() => LogisticRegression.Train(x, y, C)).Message);
        Assert.Throws<TailorException>(() => LogisticRegression.Train(x.AsSpan(0, 7), [0, 1], C));
        Assert.Contains("-1", Assert.Throws<TailorException>(() =>
            LogisticRegression.Train(x, Problem().Y, C, new LogisticRegressionOptions { L2 = -1 })).Message);
        float[] nan = (float[])x.Clone();
        nan[9] = float.NaN;
        Assert.Contains("NaN", Assert.Throws<TailorException>(() => LogisticRegression.Train(nan, Problem().Y, C)).Message);
        var model = LogisticRegression.Train(x, Problem().Y, C);
        var e = Assert.Throws<TailorException>(() => model.PredictProbabilities(new float[D + 1]));
        Assert.Contains($"length {D}", e.Message);
        Assert.Contains($"length {D + 1}", e.Message);
    }

    [Fact]
    public void Deterministic_AndIndependentOfParallelism()
    {
        var (x, y) = Problem(n: 1000, d: 32, c: 5, seed: 2);
        var serial = LogisticRegression.Train(x, y, 5, new LogisticRegressionOptions { ParallelThreshold = long.MaxValue });
        var parallel = LogisticRegression.Train(x, y, 5, new LogisticRegressionOptions { ParallelThreshold = 0 });
        var again = LogisticRegression.Train(x, y, 5, new LogisticRegressionOptions { ParallelThreshold = 0 });
        Assert.Equal(serial.Weights, parallel.Weights);
        Assert.Equal(serial.Bias, parallel.Bias);
        Assert.Equal(parallel.Weights, again.Weights);
    }

    private static ValueInfoProto FloatValue(string name, params long[] dims)
    {
        var shape = new TensorShapeProto();
        foreach (long v in dims)
            shape.Dim.Add(v < 0 ? new TensorShapeProto.Types.Dimension { DimParam = "N" } : new TensorShapeProto.Types.Dimension { DimValue = v });
        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float, Shape = shape } },
        };
    }

    private static TensorProto Tensor(string name, float[] values, params long[] dims)
    {
        var t = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Float };
        t.Dims.AddRange(dims);
        t.FloatData.AddRange(values);
        return t;
    }
}

/// <summary>The reference solution: Newton's method with the exact Hessian, all in double.</summary>
internal static class NewtonReference
{
    public static (double Loss, double[] Gradient) LossAndGradient(double[] x, int[] y, int n, int d, int c, double l2, double[] theta)
    {
        var (loss, g, _) = Derivatives(x, y, n, d, c, l2, theta, hessian: false);
        return (loss, g);
    }

    public static (double[] W, double[] B, double Loss) Solve(double[] x, int[] y, int n, int d, int c, double l2)
    {
        int size = c * d + c;
        double[] theta = new double[size];
        for (int iteration = 0; iteration < 100; iteration++)
        {
            var (f, g, h) = Derivatives(x, y, n, d, c, l2, theta, hessian: true);
            if (Math.Sqrt(g.Sum(v => v * v)) < 1e-14)
                break;
            // The loss does not change when a constant is added to every bias, so H is singular along
            // u = (0…0, 1…1); the gradient has no u-component, and adding uuᵀ removes the null space
            // without moving the step off Σ b = 0.
            for (int i = c * d; i < size; i++)
                for (int j = c * d; j < size; j++)
                    h![i, j] += 1;
            double[] step = LinearAlgebra.Solve(h!, g.Select(v => -v).ToArray());
            // Damped Newton: halve until the loss does not increase (rarely needed on this problem).
            double t = 1;
            while (true)
            {
                double[] trial = theta.Select((v, i) => v + t * step[i]).ToArray();
                if (Derivatives(x, y, n, d, c, l2, trial, false).Loss <= f || t < 1e-10)
                {
                    theta = trial;
                    break;
                }
                t /= 2;
            }
        }
        double loss = Derivatives(x, y, n, d, c, l2, theta, false).Loss;
        return (theta[..(c * d)], theta[(c * d)..], loss);
    }

    private static (double Loss, double[] Gradient, double[,]? Hessian) Derivatives(double[] x, int[] y, int n, int d, int c,
        double l2, double[] theta, bool hessian)
    {
        int size = c * d + c;
        double[] g = new double[size];
        double[,]? h = hessian ? new double[size, size] : null;
        double loss = 0;
        double[] p = new double[c];
        // φ = [x; 1]: index j < d is a weight, j = d the bias.
        int Index(int k, int j) => j < d ? k * d + j : c * d + k;
        for (int i = 0; i < n; i++)
        {
            double max = double.NegativeInfinity;
            for (int k = 0; k < c; k++)
            {
                double z = theta[c * d + k];
                for (int j = 0; j < d; j++) z += theta[k * d + j] * x[i * d + j];
                p[k] = z;
                max = Math.Max(max, z);
            }
            double sum = 0;
            for (int k = 0; k < c; k++) sum += Math.Exp(p[k] - max);
            loss += Math.Log(sum) + max - p[y[i]];
            for (int k = 0; k < c; k++) p[k] = Math.Exp(p[k] - max) / sum;
            double Phi(int j) => j < d ? x[i * d + j] : 1.0;
            for (int k = 0; k < c; k++)
                for (int j = 0; j <= d; j++)
                    g[Index(k, j)] += (p[k] - (k == y[i] ? 1 : 0)) * Phi(j) / n;
            if (h is null) continue;
            for (int k = 0; k < c; k++)
                for (int k2 = 0; k2 < c; k2++)
                {
                    double a = (k == k2 ? p[k] : 0) - p[k] * p[k2];
                    for (int j = 0; j <= d; j++)
                        for (int j2 = 0; j2 <= d; j2++)
                            h[Index(k, j), Index(k2, j2)] += a * Phi(j) * Phi(j2) / n;
                }
        }
        loss /= n;
        for (int i = 0; i < c * d; i++)
        {
            loss += 0.5 * l2 * theta[i] * theta[i];
            g[i] += l2 * theta[i];
            if (h is not null) h[i, i] += l2;
        }
        return (loss, g, h);
    }
}
