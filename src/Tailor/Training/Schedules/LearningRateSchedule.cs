using System.Globalization;

namespace Tailor.Training.Schedules;

/// <summary>
/// A learning rate as a pure function of the epoch: the training task asks for the rate of epoch e
/// (0-based, the epoch about to run) of a run of N epochs and sets it on the optimizer before the epoch starts.
/// Being a pure function of (epoch, epochs, base rate), a schedule needs no state in checkpoints: a resumed run
/// recomputes it. A schedule parsed from text (<see cref="Parse(string)"/>) is a value independent of the run's
/// length: the cosine schedule falls over whatever number of epochs the run has.
/// </summary>
public abstract class LearningRateSchedule
{
    /// <summary>The learning rate for <paramref name="epoch"/> (0-based) of a run of <paramref name="epochs"/> epochs,
    /// given the base rate.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="epoch"/> is negative, <paramref name="epochs"/> is
    /// below 1, or <paramref name="baseLr"/> is negative, NaN or infinite.</exception>
    public double LearningRateAt(int epoch, int epochs, double baseLr)
    {
        if (epochs < 1)
            throw new ArgumentOutOfRangeException(nameof(epochs), $"epochs must be ≥ 1; got {epochs}.");
        return Checked(epoch, epochs, baseLr);
    }

    /// <summary>The learning rate for <paramref name="epoch"/> (0-based) given the base rate, for a schedule that does
    /// not depend on the run's length (every schedule but a cosine over the run).</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="epoch"/> is negative, or
    /// <paramref name="baseLr"/> is negative, NaN or infinite.</exception>
    /// <exception cref="InvalidOperationException">The schedule falls over the run's epochs
    /// (<see cref="CosineSchedule.OverTheRun"/>): use <see cref="LearningRateAt(int, int, double)"/>.</exception>
    public double LearningRateAt(int epoch, double baseLr) => Checked(epoch, 0, baseLr);

    private double Checked(int epoch, int epochs, double baseLr)
    {
        if (epoch < 0)
            throw new ArgumentOutOfRangeException(nameof(epoch), $"epoch must be ≥ 0; got {epoch}.");
        if (!(baseLr >= 0) || double.IsInfinity(baseLr))
            throw new ArgumentOutOfRangeException(nameof(baseLr), $"base learning rate must be finite and ≥ 0; got {baseLr.ToString(CultureInfo.InvariantCulture)}.");
        return Compute(epoch, epochs, baseLr);
    }

    /// <summary>Schedules are values: equal when they are of one kind with the same parameters (their text form).</summary>
    public override bool Equals(object? obj) => obj is LearningRateSchedule other && other.GetType() == GetType() && other.ToString() == ToString();

    public override int GetHashCode() => (ToString() ?? "").GetHashCode(StringComparison.Ordinal);

    /// <summary>The forms <see cref="Parse(string)"/> accepts.</summary>
    public const string AllowedForms = "constant, step:EPOCHS:GAMMA, exp:GAMMA or cosine[:MIN_LR]";

    /// <summary>
    /// Reads a schedule written as <c>constant</c>, <c>step:EPOCHS:GAMMA</c> (<see cref="StepSchedule"/>),
    /// <c>exp:GAMMA</c> (<see cref="ExponentialSchedule"/>) or <c>cosine[:MIN_LR]</c> (<see cref="CosineSchedule"/>
    /// falling over the run's epochs, whatever their number, to MIN_LR, default 0). Names are case-insensitive;
    /// numbers use '.' as the decimal point. This is the form an update spec stores; <see cref="object.ToString"/> writes it.
    /// </summary>
    /// <exception cref="TailorException">An unknown form, a malformed number or a value outside its range;
    /// the message names the text and the allowed forms.</exception>
    public static LearningRateSchedule Parse(string text) => Parse(text, epochs: null);

    /// <summary>As <see cref="Parse(string)"/>, but a cosine falls over a fixed <paramref name="epochs"/> epochs.</summary>
    /// <exception cref="TailorException">See <see cref="Parse(string)"/>.</exception>
    public static LearningRateSchedule Parse(string text, int epochs) => Parse(text, (int?)epochs);

    private static LearningRateSchedule Parse(string text, int? epochs)
    {
        ArgumentNullException.ThrowIfNull(text);
        var parts = text.Trim().Split(':');
        double N(int i) => double.TryParse(parts[i], NumberStyles.Float, CultureInfo.InvariantCulture, out double v) && double.IsFinite(v)
            ? v : throw new TailorException($"Learning-rate schedule '{text}': '{parts[i]}' is not a number.");
        try
        {
            return parts[0].ToLowerInvariant() switch
            {
                "constant" when parts.Length == 1 => new ConstantSchedule(),
                "step" when parts.Length == 3 => new StepSchedule(checked((int)N(1)), N(2)),
                "exp" when parts.Length == 2 => new ExponentialSchedule(N(1)),
                "cosine" when parts.Length <= 2 => epochs is int e
                    ? new CosineSchedule(Math.Max(1, e), parts.Length > 1 ? N(1) : 0)
                    : CosineSchedule.OverTheRun(parts.Length > 1 ? N(1) : 0),
                _ => throw new TailorException($"Learning-rate schedule '{text}' is not {AllowedForms}."),
            };
        }
        catch (Exception e) when (e is ArgumentException or OverflowException)
        {
            // Without ArgumentException's " (Parameter 'stepSize')": the message speaks of the schedule, not of a parameter.
            string reason = e is ArgumentException { ParamName: { } p } ? e.Message.Replace($" (Parameter '{p}')", "") : e.Message;
            throw new TailorException($"Learning-rate schedule '{text}': {reason}", e);
        }
    }

    /// <summary>The formula, for a validated epoch and base rate; <paramref name="epochs"/> is the run's length, 0 when
    /// not given.</summary>
    protected abstract double Compute(int epoch, int epochs, double baseLr);

    /// <summary>Formats a number as <see cref="Parse(string)"/> reads it.</summary>
    private protected static string F(double value) => value.ToString("R", CultureInfo.InvariantCulture);

    internal static double CheckGamma(double gamma)
    {
        if (!(gamma > 0 && gamma <= 1))
            throw new ArgumentOutOfRangeException(nameof(gamma), $"gamma must be in (0, 1]; got {gamma.ToString(CultureInfo.InvariantCulture)}.");
        return gamma;
    }
}

/// <summary>η(e) = η₀ at every epoch.</summary>
public sealed class ConstantSchedule : LearningRateSchedule
{
    /// <inheritdoc/>
    protected override double Compute(int epoch, int epochs, double baseLr) => baseLr;

    /// <summary><c>constant</c>.</summary>
    public override string ToString() => "constant";
}

/// <summary>η(e) = η₀ · γ^⌊e / N⌋: multiplied by γ every <see cref="StepSize"/> epochs (PyTorch's StepLR).</summary>
public sealed class StepSchedule : LearningRateSchedule
{
    /// <param name="stepSize">N, epochs between decays, ≥ 1.</param>
    /// <param name="gamma">γ, the factor, in (0, 1].</param>
    /// <exception cref="ArgumentOutOfRangeException">A value is outside the range stated.</exception>
    public StepSchedule(int stepSize, double gamma)
    {
        if (stepSize < 1)
            throw new ArgumentOutOfRangeException(nameof(stepSize), $"step size must be ≥ 1 epoch; got {stepSize}.");
        StepSize = stepSize;
        Gamma = CheckGamma(gamma);
    }

    /// <summary>N, epochs between decays.</summary>
    public int StepSize { get; }

    /// <summary>γ, the factor applied every N epochs.</summary>
    public double Gamma { get; }

    /// <inheritdoc/>
    protected override double Compute(int epoch, int epochs, double baseLr) => baseLr * Math.Pow(Gamma, epoch / StepSize);

    /// <summary><c>step:N:GAMMA</c>.</summary>
    public override string ToString() => $"step:{StepSize.ToString(CultureInfo.InvariantCulture)}:{F(Gamma)}";
}

/// <summary>η(e) = η₀ · γ^e (PyTorch's ExponentialLR).</summary>
public sealed class ExponentialSchedule : LearningRateSchedule
{
    /// <param name="gamma">γ, the per-epoch factor, in (0, 1].</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="gamma"/> is outside (0, 1].</exception>
    public ExponentialSchedule(double gamma) => Gamma = CheckGamma(gamma);

    /// <summary>γ, the per-epoch factor.</summary>
    public double Gamma { get; }

    /// <inheritdoc/>
    protected override double Compute(int epoch, int epochs, double baseLr) => baseLr * Math.Pow(Gamma, epoch);

    /// <summary><c>exp:GAMMA</c>.</summary>
    public override string ToString() => $"exp:{F(Gamma)}";
}

/// <summary>
/// Cosine annealing from η₀ to η_min over T epochs, then η_min (no restarts):
/// η(e) = η_min + (η₀ − η_min) · (1 + cos(π · min(e, T) / T)) / 2.
/// If η₀ &lt; η_min the curve rises instead; that is the caller's choice.
/// </summary>
public sealed class CosineSchedule : LearningRateSchedule
{
    /// <param name="period">T, the epochs over which the rate falls to the minimum, ≥ 1.</param>
    /// <param name="minimumLearningRate">η_min, finite and ≥ 0. Default 0.</param>
    /// <exception cref="ArgumentOutOfRangeException">A value is outside the range stated.</exception>
    public CosineSchedule(int period, double minimumLearningRate = 0)
    {
        if (period < 1)
            throw new ArgumentOutOfRangeException(nameof(period), $"period must be ≥ 1 epoch; got {period}.");
        if (!(minimumLearningRate >= 0) || double.IsInfinity(minimumLearningRate))
            throw new ArgumentOutOfRangeException(nameof(minimumLearningRate), $"minimum learning rate must be finite and ≥ 0; got {minimumLearningRate.ToString(CultureInfo.InvariantCulture)}.");
        Period = period;
        MinimumLearningRate = minimumLearningRate;
    }

    private CosineSchedule(double minimumLearningRate) : this(1, minimumLearningRate) => Period = 0;

    /// <summary>Cosine annealing over the run's epochs, whatever their number (T = the epochs of the run), to
    /// <paramref name="minimumLearningRate"/>: what <c>cosine[:MIN_LR]</c> in an update spec means.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="minimumLearningRate"/> is negative, NaN or infinite.</exception>
    public static CosineSchedule OverTheRun(double minimumLearningRate = 0) => new(minimumLearningRate);

    /// <summary>T, in epochs; 0 when the schedule falls over the run's epochs (<see cref="OverTheRun"/>).</summary>
    public int Period { get; }

    /// <summary>η_min, reached at epoch T and kept after it.</summary>
    public double MinimumLearningRate { get; }

    /// <inheritdoc/>
    protected override double Compute(int epoch, int epochs, double baseLr)
    {
        int period = Period > 0 ? Period : epochs > 0 ? epochs
            : throw new InvalidOperationException("This cosine schedule falls over the run's epochs: ask LearningRateAt(epoch, epochs, baseLr).");
        double progress = Math.Min(epoch, period) / (double)period;
        return MinimumLearningRate + (baseLr - MinimumLearningRate) * (1 + Math.Cos(Math.PI * progress)) / 2;
    }

    /// <summary><c>cosine[:MIN_LR]</c>, and the fixed period when there is one (a form <see cref="LearningRateSchedule.Parse(string)"/> does not read).</summary>
    public override string ToString() =>
        (MinimumLearningRate == 0 ? "cosine" : $"cosine:{F(MinimumLearningRate)}") + (Period > 0 ? $" over {Period.ToString(CultureInfo.InvariantCulture)} epochs" : "");
}
