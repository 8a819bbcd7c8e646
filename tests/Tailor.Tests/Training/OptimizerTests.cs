using Tailor.Training;
using Tailor.Training.Optimizers;

namespace Tailor.Tests.Training;

public class SgdTests
{
    [Fact]
    public void PlainStep_EqualsHandComputed()
    {
        var p = new TestParameter("w", 1f, -2f, 3f);
        p.Gradients[0] = 0.5f; p.Gradients[1] = -1f; p.Gradients[2] = 2f;
        new Sgd(learningRate: 0.1).Step([p]);
        Assert.Equal([0.95f, -1.9f, 2.8f], p.Values, new FloatComparer(1e-6f));
    }

    [Fact]
    public void Momentum_TwoSteps_EqualHandComputed()
    {
        // μ = 0.9, η = 0.1, w₀ = 1, ∇ = 1 then 2.
        // v₁ = 1, w₁ = 1 − 0.1 = 0.9; v₂ = 0.9·1 + 2 = 2.9, w₂ = 0.9 − 0.29 = 0.61.
        var p = new TestParameter("w", 1f);
        var sgd = new Sgd(learningRate: 0.1, momentum: 0.9);
        p.Gradients[0] = 1f; sgd.Step([p]);
        Assert.Equal(0.9f, p.Values[0], 6);
        p.Gradients[0] = 2f; sgd.Step([p]);
        Assert.Equal(0.61f, p.Values[0], 6);
    }

    [Fact]
    public void Nesterov_TwoSteps_EqualHandComputed()
    {
        // v₁ = 1, d₁ = 1 + 0.9·1 = 1.9, w₁ = 1 − 0.19 = 0.81;
        // v₂ = 0.9 + 2 = 2.9, d₂ = 2 + 0.9·2.9 = 4.61, w₂ = 0.81 − 0.461 = 0.349.
        var p = new TestParameter("w", 1f);
        var sgd = new Sgd(learningRate: 0.1, momentum: 0.9, nesterov: true);
        p.Gradients[0] = 1f; sgd.Step([p]);
        Assert.Equal(0.81f, p.Values[0], 6);
        p.Gradients[0] = 2f; sgd.Step([p]);
        Assert.Equal(0.349f, p.Values[0], 5);
    }

    [Fact]
    public void WeightDecay_ZeroGradient_ShrinksByLrTimesWdTimesW()
    {
        var p = new TestParameter("w", 2f, -4f);
        new Sgd(learningRate: 0.1, weightDecay: 0.01).Step([p]);
        Assert.Equal([2f - 0.1f * 0.01f * 2f, -4f + 0.1f * 0.01f * 4f], p.Values, new FloatComparer(1e-7f));
    }

    [Fact]
    public void WeightDecay_WithMomentum_EntersTheBuffer()
    {
        // g = 0 + 0.5·2 = 1; v₁ = 1, w₁ = 2 − 0.1 = 1.9; g₂ = 0.95, v₂ = 0.5 + 0.95 = 1.45, w₂ = 1.9 − 0.145.
        var p = new TestParameter("w", 2f);
        var sgd = new Sgd(learningRate: 0.1, momentum: 0.5, weightDecay: 0.5);
        sgd.Step([p]);
        Assert.Equal(1.9f, p.Values[0], 6);
        sgd.Step([p]);
        Assert.Equal(1.755f, p.Values[0], 5);
    }

    [Theory]
    [InlineData(0.0, false)]
    [InlineData(0.9, false)]
    [InlineData(0.9, true)]
    public void ConvergesOnQuadratic(double momentum, bool nesterov)
    {
        // f(w) = ½ Σ aᵢ (wᵢ − cᵢ)², ∇ = a ⊙ (w − c).
        var (p, target, curvature) = Quadratic.Create(37);
        var sgd = new Sgd(learningRate: 0.1, momentum: momentum, nesterov: nesterov);
        for (int step = 0; step < 500; step++)
        {
            Quadratic.Gradient(p, target, curvature);
            sgd.Step([p]);
        }
        Assert.Equal(target, p.Values, new FloatComparer(1e-4f));
    }

    [Fact]
    public void AllLengths_MatchScalarReference()
    {
        // Sweep 0…257 so every vector width's tail is hit.
        for (int n = 0; n <= 257; n++)
        {
            var rng = new Random(n);
            var p = new TestParameter("w", RandomFloats(rng, n));
            float[] w = (float[])p.Values.Clone(), v = new float[n];
            var sgd = new Sgd(learningRate: 0.05, momentum: 0.8, nesterov: n % 2 == 0, weightDecay: 0.01);
            for (int step = 0; step < 3; step++)
            {
                RandomFloats(rng, n).CopyTo(p.Gradients, 0);
                sgd.Step([p]);
                for (int i = 0; i < n; i++)
                {
                    float g = p.Gradients[i] + 0.01f * w[i];
                    v[i] = 0.8f * v[i] + g;
                    float d = n % 2 == 0 ? g + 0.8f * v[i] : v[i];
                    w[i] -= 0.05f * d;
                }
                Assert.Equal(w, p.Values, new FloatComparer(1e-6f));
            }
        }
    }

    [Theory]
    [InlineData(0.0, false)]
    [InlineData(0.8, false)]
    [InlineData(0.8, true)]
    public void BigTensor_UpdatedInBlocksOnAllCores_MatchesScalarReference(double momentum, bool nesterov)
    {
        // 2^18 + 37 elements: the update is dealt to the cores in blocks, the last one ragged.
        int n = (1 << 18) + 37;
        var rng = new Random(11);
        var p = new TestParameter("w", RandomFloats(rng, n));
        float[] w = (float[])p.Values.Clone(), v = new float[n];
        float mu = (float)momentum;
        var sgd = new Sgd(learningRate: 0.05, momentum: momentum, nesterov: nesterov, weightDecay: 0.01);
        for (int step = 0; step < 2; step++)
        {
            RandomFloats(rng, n).CopyTo(p.Gradients, 0);
            sgd.Step([p]);
            for (int i = 0; i < n; i++)
            {
                float g = p.Gradients[i] + 0.01f * w[i];
                v[i] = mu * v[i] + g;
                float d = mu == 0 ? g : nesterov ? g + mu * v[i] : v[i];
                w[i] -= 0.05f * d;
            }
            Assert.Equal(w, p.Values, new FloatComparer(1e-6f));
        }
    }

    [Theory]
    [InlineData(1.5, "momentum must be in [0, 1); got 1.5")]
    [InlineData(-0.1, "momentum must be in [0, 1); got -0.1")]
    [InlineData(1.0, "momentum must be in [0, 1); got 1")]
    public void InvalidMomentum_NamesValueAndRange(double momentum, string message)
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new Sgd(momentum: momentum));
        Assert.Contains(message, e.Message);
        Assert.Equal("momentum", e.ParamName);
    }

    [Theory]
    [InlineData(-0.01)]
    [InlineData(double.NaN)]
    [InlineData(double.PositiveInfinity)]
    public void InvalidLearningRate_NamesValueAndRange(double lr)
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new Sgd(learningRate: lr));
        Assert.Contains("learning rate must be finite and ≥ 0; got", e.Message);
        var sgd = new Sgd();
        Assert.Throws<ArgumentOutOfRangeException>(() => sgd.LearningRate = lr);
        Assert.Equal(0.01, sgd.LearningRate);
    }

    [Fact]
    public void NegativeWeightDecay_Throws()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new Sgd(weightDecay: -1));
        Assert.Contains("weight decay must be finite and ≥ 0; got -1", e.Message);
    }

    [Fact]
    public void LearningRateChange_TakesEffectNextStep()
    {
        var p = new TestParameter("w", 1f);
        var sgd = new Sgd(learningRate: 0.1);
        p.Gradients[0] = 1f;
        sgd.Step([p]);
        sgd.LearningRate = 0.01;
        sgd.Step([p]);
        Assert.Equal(1f - 0.1f - 0.01f, p.Values[0], 6);
        Assert.Equal(2, sgd.StepCount);
    }

    [Fact]
    public void NoAllocation_InSteadyState()
    {
        var ps = new[] { new TestParameter("a", RandomFloats(new Random(1), 1000)), new TestParameter("b", RandomFloats(new Random(2), 10)) };
        IReadOnlyList<ITrainableParameter> list = ps;
        foreach (var opt in new Optimizer[] { new Sgd(0.01, 0.9, true, 1e-4), new Sgd(0.01), new Adam(weightDecay: 1e-4), new Adam(weightDecay: 1e-2, decoupledWeightDecay: true) })
        {
            opt.Step(list); // warm: allocates state
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < 100; i++)
                opt.Step(list);
            long after = GC.GetAllocatedBytesForCurrentThread();
            Assert.True(after - before == 0, $"{opt.Kind} allocated {after - before} bytes in 100 steps");
        }
    }

    [Fact]
    public void LengthMismatch_BetweenSteps_NamesParameter()
    {
        var sgd = new Sgd();
        sgd.Step([new TestParameter("fc.weight", 1f, 2f)]);
        var e = Assert.Throws<ArgumentException>(() => sgd.Step([new TestParameter("fc.weight", 1f, 2f, 3f)]));
        Assert.Contains("'fc.weight' has 3 values", e.Message);
    }

    [Fact]
    public void DuplicateName_Throws()
    {
        var e = Assert.Throws<ArgumentException>(() => new Sgd().Step([new TestParameter("x", 1f), new TestParameter("x", 2f)]));
        Assert.Contains("Two parameters are named 'x'", e.Message);
    }

    internal static float[] RandomFloats(Random rng, int n)
    {
        var a = new float[n];
        for (int i = 0; i < n; i++)
            a[i] = (float)(rng.NextDouble() * 2 - 1);
        return a;
    }
}

public class AdamTests
{
    [Fact]
    public void FirstStep_MovesEachCoordinateByAboutLr()
    {
        float[] grads = [1e-3f, -0.5f, 3f, -100f, 1e-2f];
        var p = new TestParameter("w", new float[grads.Length]);
        grads.CopyTo(p.Gradients, 0);
        new Adam(learningRate: 0.01).Step([p]);
        for (int i = 0; i < grads.Length; i++)
        {
            // Exactly −η·g/(|g| + ε): bias correction makes m̂ = g and √v̂ = |g|.
            Assert.Equal(-0.01f * MathF.Sign(grads[i]), p.Values[i], 1e-6f);
        }
    }

    [Fact]
    public void TwoSteps_EqualHandComputed()
    {
        // β₁ = 0.9, β₂ = 0.999, η = 0.1, w₀ = 0, ∇ = 1 then −1 (computed in double below).
        var p = new TestParameter("w", 0f);
        var adam = new Adam(learningRate: 0.1);
        p.Gradients[0] = 1f; adam.Step([p]);
        p.Gradients[0] = -1f; adam.Step([p]);
        double m1 = 0.1, v1 = 0.001, w1 = -0.1 * (m1 / 0.1) / (Math.Sqrt(v1 / 0.001) + 1e-8);
        double m2 = 0.9 * m1 - 0.1, v2 = 0.999 * v1 + 0.001;
        double w2 = w1 - 0.1 * (m2 / (1 - 0.81)) / (Math.Sqrt(v2 / (1 - 0.999 * 0.999)) + 1e-8);
        Assert.Equal(w2, p.Values[0], 5);
    }

    [Fact]
    public void L2WeightDecay_GoesThroughTheAdaptiveScaling()
    {
        // Zero gradient, L2 form: g = λw, so the first step is −η·sign(w), not −ηλw.
        var p = new TestParameter("w", 2f, -3f);
        new Adam(learningRate: 0.01, weightDecay: 0.1).Step([p]);
        Assert.Equal([1.99f, -2.99f], p.Values, new FloatComparer(1e-6f));
    }

    [Fact]
    public void DecoupledWeightDecay_ZeroGradient_ShrinksByLrTimesWdTimesW()
    {
        var p = new TestParameter("w", 2f, -3f);
        new Adam(learningRate: 0.01, weightDecay: 0.1, decoupledWeightDecay: true).Step([p]);
        Assert.Equal([2f * (1 - 0.001f), -3f * (1 - 0.001f)], p.Values, new FloatComparer(1e-6f));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ConvergesOnQuadratic(bool decoupled)
    {
        var (p, target, curvature) = Quadratic.Create(53);
        var adam = new Adam(learningRate: 0.05, decoupledWeightDecay: decoupled);
        for (int step = 0; step < 2000; step++)
        {
            Quadratic.Gradient(p, target, curvature);
            adam.Step([p]);
        }
        Assert.Equal(target, p.Values, new FloatComparer(1e-3f));
    }

    [Fact]
    public void AllLengths_MatchScalarReference()
    {
        for (int n = 0; n <= 257; n++)
            AssertMatchesScalarReference(n, new Random(n), steps: 3);
    }

    [Fact]
    public void BigTensor_UpdatedInBlocksOnAllCores_MatchesScalarReference() =>
        // 2^18 + 37 elements: the update is dealt to the cores in blocks, the last one ragged.
        AssertMatchesScalarReference((1 << 18) + 37, new Random(7), steps: 2);

    /// <summary>Adam (lr 0.01, L2 0.05) on <paramref name="n"/> random weights against the update computed in double.</summary>
    static void AssertMatchesScalarReference(int n, Random rng, int steps)
    {
        var p = new TestParameter("w", SgdTests.RandomFloats(rng, n));
        double[] w = p.Values.Select(x => (double)x).ToArray(), m = new double[n], v = new double[n];
        var adam = new Adam(learningRate: 0.01, weightDecay: 0.05);
        for (int t = 1; t <= steps; t++)
        {
            SgdTests.RandomFloats(rng, n).CopyTo(p.Gradients, 0);
            adam.Step([p]);
            for (int i = 0; i < n; i++)
            {
                double g = p.Gradients[i] + 0.05 * w[i];
                m[i] = 0.9 * m[i] + 0.1 * g;
                v[i] = 0.999 * v[i] + 0.001 * g * g;
                w[i] -= 0.01 * (m[i] / (1 - Math.Pow(0.9, t))) / (Math.Sqrt(v[i] / (1 - Math.Pow(0.999, t))) + 1e-8);
            }
            Assert.Equal(w.Select(x => (float)x).ToArray(), p.Values, new FloatComparer(2e-5f));
        }
    }

    [Theory]
    [InlineData(1.0, 0.999, 1e-8, "beta1 must be in [0, 1); got 1")]
    [InlineData(0.9, -0.5, 1e-8, "beta2 must be in [0, 1); got -0.5")]
    [InlineData(0.9, 0.999, 0.0, "epsilon must be finite and > 0; got 0")]
    public void InvalidHyperparameters_NameValueAndRange(double b1, double b2, double eps, string message)
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new Adam(beta1: b1, beta2: b2, epsilon: eps));
        Assert.Contains(message, e.Message);
    }

    [Fact]
    public void BiasCorrection_IsPerParameter()
    {
        // A parameter first seen at step 3 gets a first step of ≈ η, as if it were step 1.
        var adam = new Adam(learningRate: 0.01);
        var a = new TestParameter("a", 0f);
        a.Gradients[0] = 1f;
        adam.Step([a]); adam.Step([a]);
        var b = new TestParameter("b", 0f);
        b.Gradients[0] = 1f;
        adam.Step([a, b]);
        Assert.Equal(-0.01f, b.Values[0], 6);
    }
}

internal static class Quadratic
{
    public static (TestParameter P, float[] Target, float[] Curvature) Create(int n)
    {
        var rng = new Random(42);
        var target = SgdTests.RandomFloats(rng, n).Select(x => 3 * x).ToArray();
        var curvature = Enumerable.Range(0, n).Select(_ => (float)(0.5 + rng.NextDouble())).ToArray();
        return (new TestParameter("w", new float[n]), target, curvature);
    }

    public static void Gradient(TestParameter p, float[] target, float[] curvature)
    {
        for (int i = 0; i < target.Length; i++)
            p.Gradients[i] = curvature[i] * (p.Values[i] - target[i]);
    }
}

internal sealed class FloatComparer(float tolerance) : IEqualityComparer<float>
{
    // Absolute tolerance scaled by magnitude above 1.
    public bool Equals(float x, float y) => Math.Abs(x - y) <= tolerance * Math.Max(1f, Math.Max(Math.Abs(x), Math.Abs(y)));
    public int GetHashCode(float obj) => 0;
}
