using System.Numerics;
using System.Text.Json.Nodes;

namespace Tailor.Training.Optimizers;

/// <summary>
/// Adam (Kingma &amp; Ba, 2015) with weight decay either as a classic L2 penalty added to the gradient
/// (the default, PyTorch's <c>torch.optim.Adam</c>) or decoupled from the gradient (AdamW, Loshchilov &amp;
/// Hutter, 2019). For each parameter w with gradient ∇, at that parameter's step t = 1, 2, …:
/// <code>
/// AdamW only:  w = w − η·λ·w                      (decoupled decay, before the Adam step)
/// g = ∇ + λ·w                                     (L2 form only; AdamW uses g = ∇)
/// m = β₁·m + (1 − β₁)·g
/// v = β₂·v + (1 − β₂)·g²
/// w = w − η/(1 − β₁ᵗ) · m / (√v / √(1 − β₂ᵗ) + ε)
/// </code>
/// The bias corrections make the first step move each coordinate by about η (exactly η·g/(|g| + ε)).
/// In the L2 form the decay passes through the adaptive scaling, so it is weaker on coordinates with large
/// gradients; AdamW's decay is the same for all, which usually regularizes better.
/// </summary>
public sealed class Adam : Optimizer
{
    private double _beta1, _beta2, _epsilon;

    /// <param name="learningRate">η, finite and ≥ 0. Default 0.001.</param>
    /// <param name="beta1">β₁, the first-moment decay, in [0, 1). Default 0.9.</param>
    /// <param name="beta2">β₂, the second-moment decay, in [0, 1). Default 0.999.</param>
    /// <param name="epsilon">ε, added to the denominator, finite and &gt; 0. Default 1e-8.</param>
    /// <param name="weightDecay">λ, finite and ≥ 0. Default 0.</param>
    /// <param name="decoupledWeightDecay">Apply λ as AdamW does (w −= η·λ·w) instead of adding λ·w to the
    /// gradient. Default false.</param>
    /// <exception cref="ArgumentOutOfRangeException">A value is outside the range stated.</exception>
    public Adam(double learningRate = 0.001, double beta1 = 0.9, double beta2 = 0.999, double epsilon = 1e-8,
        double weightDecay = 0, bool decoupledWeightDecay = false)
        : base(learningRate, weightDecay)
    {
        Beta1 = beta1;
        Beta2 = beta2;
        Epsilon = epsilon;
        DecoupledWeightDecay = decoupledWeightDecay;
    }

    /// <inheritdoc/>
    public override string Kind => "adam";

    /// <summary>β₁, in [0, 1).</summary>
    /// <exception cref="ArgumentOutOfRangeException">Outside [0, 1).</exception>
    public double Beta1
    {
        get => _beta1;
        set => _beta1 = Check.UnitHalfOpen(value, "beta1", "beta1");
    }

    /// <summary>β₂, in [0, 1).</summary>
    /// <exception cref="ArgumentOutOfRangeException">Outside [0, 1).</exception>
    public double Beta2
    {
        get => _beta2;
        set => _beta2 = Check.UnitHalfOpen(value, "beta2", "beta2");
    }

    /// <summary>ε, finite and &gt; 0.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Zero, negative, NaN or infinite.</exception>
    public double Epsilon
    {
        get => _epsilon;
        set => _epsilon = Check.Positive(value, "epsilon", "epsilon");
    }

    /// <summary>True: AdamW's decoupled decay. False: λ·w added to the gradient (classic L2).</summary>
    public bool DecoupledWeightDecay { get; set; }

    // Two buffers: m (first moment) and v (second moment).
    private protected override int BuffersPerParameter => 2;

    private protected override void Update(Span<float> value, ReadOnlySpan<float> gradient, ParameterState state)
    {
        // Bias corrections in double: β₂ᵗ is close to 1 for many steps, and 1 − β₂ᵗ loses digits in float.
        long t = state.Steps;
        double bc1 = 1 - Math.Pow(Beta1, t);
        double bc2 = 1 - Math.Pow(Beta2, t);
        float stepSize = (float)(LearningRate / bc1);
        float invSqrtBc2 = (float)(1 / Math.Sqrt(bc2));
        float b1 = (float)Beta1, b2 = (float)Beta2, eps = (float)Epsilon;
        float l2 = DecoupledWeightDecay ? 0f : (float)WeightDecay;
        // Decoupled: w·(1 − ηλ) before the Adam step, as PyTorch's AdamW does.
        float keep = DecoupledWeightDecay ? (float)(1 - LearningRate * WeightDecay) : 1f;

        var constants = new Constants(b1, b2, l2, keep, stepSize, invSqrtBc2, eps);
        Span<float> m = state.Buffers[0];
        Span<float> v = state.Buffers[1];
        if (value.Length >= ParallelLength)
            unsafe
            {
                // A big tensor (a convolution's weights) in blocks on all cores: every element gets the same arithmetic
                // whichever thread updates it, so the result does not depend on the split.
                fixed (float* pw = value, pg = gradient, pm = m, pv = v)
                {
                    var job = new Job { W = pw, G = pg, M = pm, V = pv, Constants = constants };
                    if (Tailor.Engine.Kernels.GemmWorkers.TryForBlocks(value.Length, ParallelBlock, &UpdateRange, (nint)(&job)))
                        return;
                }
            }
        Step(value, gradient, m, v, constants);
    }

    private readonly record struct Constants(float B1, float B2, float L2, float Keep, float StepSize, float InvSqrtBc2, float Eps);

    private unsafe struct Job
    {
        public float* W, G, M, V;
        public Constants Constants;
    }

    private static unsafe void UpdateRange(nint state, int start, int length)
    {
        var j = (Job*)state;
        Step(new Span<float>(j->W + start, length), new ReadOnlySpan<float>(j->G + start, length),
            new Span<float>(j->M + start, length), new Span<float>(j->V + start, length), j->Constants);
    }

    private static void Step(Span<float> w, ReadOnlySpan<float> gradient, Span<float> m, Span<float> v, in Constants k)
    {
        var (b1, b2, l2, keep, stepSize, invSqrtBc2, eps) = k;
        int i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            var vb1 = new Vector<float>(b1);
            var vb1c = new Vector<float>(1 - b1);
            var vb2 = new Vector<float>(b2);
            var vb2c = new Vector<float>(1 - b2);
            var vl2 = new Vector<float>(l2);
            var vkeep = new Vector<float>(keep);
            var vstep = new Vector<float>(stepSize);
            var vinv = new Vector<float>(invSqrtBc2);
            var veps = new Vector<float>(eps);
            for (; i <= w.Length - Vector<float>.Count; i += Vector<float>.Count)
            {
                var wi = new Vector<float>(w[i..]);
                var g = new Vector<float>(gradient[i..]) + vl2 * wi;
                var mi = vb1 * new Vector<float>(m[i..]) + vb1c * g;
                var vi = vb2 * new Vector<float>(v[i..]) + vb2c * (g * g);
                mi.CopyTo(m[i..]);
                vi.CopyTo(v[i..]);
                var denom = Vector.SquareRoot(vi) * vinv + veps;
                (wi * vkeep - vstep * (mi / denom)).CopyTo(w[i..]);
            }
        }
        for (; i < w.Length; i++)
        {
            float wi = w[i];
            float g = gradient[i] + l2 * wi;
            float mi = b1 * m[i] + (1 - b1) * g;
            float vi = b2 * v[i] + (1 - b2) * (g * g);
            m[i] = mi;
            v[i] = vi;
            float denom = MathF.Sqrt(vi) * invSqrtBc2 + eps;
            w[i] = wi * keep - stepSize * (mi / denom);
        }
    }

    private protected override void WriteHyperparameters(BinaryWriter writer)
    {
        writer.Write(Beta1);
        writer.Write(Beta2);
        writer.Write(Epsilon);
        writer.Write(DecoupledWeightDecay);
    }

    private protected override void ReadHyperparameters(BinaryReader reader)
    {
        Beta1 = reader.ReadDouble();
        Beta2 = reader.ReadDouble();
        Epsilon = reader.ReadDouble();
        DecoupledWeightDecay = reader.ReadBoolean();
    }

    private protected override void DescribeHyperparameters(JsonObject json)
    {
        json["beta1"] = Beta1;
        json["beta2"] = Beta2;
        json["epsilon"] = Epsilon;
        json["decoupledWeightDecay"] = DecoupledWeightDecay;
    }

    private protected override Optimizer CreateBlank() => new Adam();

    private protected override void CopyHyperparametersFrom(Optimizer other)
    {
        var o = (Adam)other;
        Beta1 = o.Beta1;
        Beta2 = o.Beta2;
        Epsilon = o.Epsilon;
        DecoupledWeightDecay = o.DecoupledWeightDecay;
    }
}
