using System.Numerics;
using System.Text.Json.Nodes;

namespace Tailor.Training.Optimizers;

/// <summary>
/// Stochastic gradient descent with optional momentum, Nesterov momentum and L2 weight decay, in the
/// form PyTorch's <c>torch.optim.SGD</c> uses (dampening 0). For each parameter w with gradient ∇:
/// <code>
/// g = ∇ + λ·w                          (L2 weight decay)
/// v = μ·v + g                          (momentum buffer, starts at 0, so v₁ = g)
/// d = g + μ·v  if Nesterov, else  d = v
/// w = w − η·d
/// </code>
/// With μ = 0 this is plain SGD, w = w − η·(∇ + λ·w); with zero gradient each step shrinks w by η·λ·w.
/// </summary>
public sealed class Sgd : Optimizer
{
    private double _momentum;

    /// <param name="learningRate">η, finite and ≥ 0. Default 0.01.</param>
    /// <param name="momentum">μ, in [0, 1). Default 0 (no momentum).</param>
    /// <param name="nesterov">Use Nesterov momentum (d = g + μ·v). With μ = 0 it is plain SGD. Default false.</param>
    /// <param name="weightDecay">λ, the L2 coefficient added to the gradient, finite and ≥ 0. Default 0.</param>
    /// <exception cref="ArgumentOutOfRangeException">A value is outside the range stated.</exception>
    public Sgd(double learningRate = 0.01, double momentum = 0, bool nesterov = false, double weightDecay = 0)
        : base(learningRate, weightDecay)
    {
        Momentum = momentum;
        Nesterov = nesterov;
    }

    /// <inheritdoc/>
    public override string Kind => "sgd";

    /// <summary>μ, in [0, 1); changeable between steps.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Outside [0, 1).</exception>
    public double Momentum
    {
        get => _momentum;
        set => _momentum = Check.UnitHalfOpen(value, "momentum", "momentum");
    }

    /// <summary>Whether the update uses Nesterov momentum.</summary>
    public bool Nesterov { get; set; }

    // One buffer: the momentum v. Kept even when μ = 0 so that raising μ later needs no allocation.
    private protected override int BuffersPerParameter => 1;

    private protected override void Update(Span<float> value, ReadOnlySpan<float> gradient, ParameterState state)
    {
        float lr = (float)LearningRate, wd = (float)WeightDecay, mu = (float)Momentum;
        Span<float> v = state.Buffers[0];
        if (value.Length >= ParallelLength)
            unsafe
            {
                // A big tensor (a convolution's weights) in blocks on all cores: every element gets the same arithmetic
                // whichever thread updates it, so the result does not depend on the split.
                fixed (float* pw = value, pg = gradient, pv = v)
                {
                    var job = new Job { W = pw, G = pg, V = pv, Lr = lr, Wd = wd, Mu = mu, Nesterov = Nesterov };
                    if (Tailor.Engine.Kernels.GemmWorkers.TryForBlocks(value.Length, ParallelBlock, &UpdateRange, (nint)(&job)))
                        return;
                }
            }
        Update(value, gradient, v, lr, wd, mu, Nesterov);
    }

    private static void Update(Span<float> w, ReadOnlySpan<float> gradient, Span<float> v, float lr, float wd, float mu, bool nesterov)
    {
        if (mu == 0)
            Plain(w, gradient, lr, wd);
        else if (nesterov)
            WithMomentum(w, gradient, v, lr, wd, mu, nesterov: true);
        else
            WithMomentum(w, gradient, v, lr, wd, mu, nesterov: false);
    }

    private unsafe struct Job
    {
        public float* W, G, V;
        public float Lr, Wd, Mu;
        public bool Nesterov;
    }

    private static unsafe void UpdateRange(nint state, int start, int length)
    {
        var j = (Job*)state;
        Update(new Span<float>(j->W + start, length), new ReadOnlySpan<float>(j->G + start, length), new Span<float>(j->V + start, length),
            j->Lr, j->Wd, j->Mu, j->Nesterov);
    }

    private static void Plain(Span<float> w, ReadOnlySpan<float> grad, float lr, float wd)
    {
        int i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            var vlr = new Vector<float>(lr);
            var vwd = new Vector<float>(wd);
            for (; i <= w.Length - Vector<float>.Count; i += Vector<float>.Count)
            {
                var wi = new Vector<float>(w[i..]);
                var g = new Vector<float>(grad[i..]) + vwd * wi;
                (wi - vlr * g).CopyTo(w[i..]);
            }
        }
        for (; i < w.Length; i++)
        {
            float g = grad[i] + wd * w[i];
            w[i] -= lr * g;
        }
    }

    private static void WithMomentum(Span<float> w, ReadOnlySpan<float> grad, Span<float> v, float lr, float wd, float mu, bool nesterov)
    {
        int i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            var vlr = new Vector<float>(lr);
            var vwd = new Vector<float>(wd);
            var vmu = new Vector<float>(mu);
            for (; i <= w.Length - Vector<float>.Count; i += Vector<float>.Count)
            {
                var wi = new Vector<float>(w[i..]);
                var g = new Vector<float>(grad[i..]) + vwd * wi;
                var vi = vmu * new Vector<float>(v[i..]) + g;
                vi.CopyTo(v[i..]);
                var d = nesterov ? g + vmu * vi : vi;
                (wi - vlr * d).CopyTo(w[i..]);
            }
        }
        for (; i < w.Length; i++)
        {
            float g = grad[i] + wd * w[i];
            float vi = mu * v[i] + g;
            v[i] = vi;
            float d = nesterov ? g + mu * vi : vi;
            w[i] -= lr * d;
        }
    }

    private protected override void WriteHyperparameters(BinaryWriter writer)
    {
        writer.Write(Momentum);
        writer.Write(Nesterov);
    }

    private protected override void ReadHyperparameters(BinaryReader reader)
    {
        Momentum = reader.ReadDouble();
        Nesterov = reader.ReadBoolean();
    }

    private protected override void DescribeHyperparameters(JsonObject json)
    {
        json["momentum"] = Momentum;
        json["nesterov"] = Nesterov;
    }

    private protected override Optimizer CreateBlank() => new Sgd();

    private protected override void CopyHyperparametersFrom(Optimizer other)
    {
        var o = (Sgd)other;
        Momentum = o.Momentum;
        Nesterov = o.Nesterov;
    }
}
