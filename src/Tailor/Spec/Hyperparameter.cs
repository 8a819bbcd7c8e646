using System.Text.Json.Serialization;

namespace Tailor.Spec;

/// <summary>What kind of value a hyperparameter holds; it decides how the value is written in JSON
/// and which values are well-formed (integers for <see cref="Int"/>, 0/1 for <see cref="Bool"/>).</summary>
[JsonConverter(typeof(JsonStringEnumConverter<HyperparameterKind>))]
public enum HyperparameterKind { Real, Int, Bool }

/// <summary>A hyperparameter's default value and the values it may take.</summary>
public sealed record Hyperparameter
{
    [JsonPropertyName("kind")] public HyperparameterKind Kind { get; init; }

    /// <summary>The value used when training is not told otherwise (booleans are 0 or 1).</summary>
    [JsonPropertyName("default")] public double Default { get; init; }

    /// <summary>The values training accepts.</summary>
    [JsonPropertyName("allowed")] public AllowedValues Allowed { get; init; } = AllowedValues.Between(double.MinValue, double.MaxValue);

    public static Hyperparameter Real(double @default, AllowedValues allowed) => new() { Kind = HyperparameterKind.Real, Default = @default, Allowed = allowed };

    public static Hyperparameter Int(int @default, AllowedValues allowed) => new() { Kind = HyperparameterKind.Int, Default = @default, Allowed = allowed };

    public static Hyperparameter Bool(bool @default) => new() { Kind = HyperparameterKind.Bool, Default = @default ? 1 : 0, Allowed = AllowedValues.OneOf(0, 1) };

    /// <summary>Throws unless <paramref name="value"/> is well-formed for the kind and allowed.</summary>
    /// <exception cref="TailorException">The value is outside the allowed values; the message lists them.</exception>
    public void Check(string name, double value)
    {
        bool wellFormed = Kind switch
        {
            HyperparameterKind.Int => value == Math.Floor(value) && !double.IsInfinity(value),
            HyperparameterKind.Bool => value is 0 or 1,
            _ => !double.IsNaN(value),
        };
        if (!wellFormed || !Allowed.Contains(value))
            throw new TailorException(
                $"{name} = {Describe(value)} is not allowed by this model; allowed: {DescribeAllowed()}.");
    }

    internal string Describe(double value) => Kind == HyperparameterKind.Bool
        ? (value == 1 ? "true" : value == 0 ? "false" : AllowedValues.Format(value))
        : AllowedValues.Format(value);

    internal string DescribeAllowed() => Kind == HyperparameterKind.Bool ? "true or false" : Allowed.ToString();
}

/// <summary>The names of the hyperparameters Tailor knows.</summary>
public static class HyperparameterNames
{
    public const string LearningRate = "learning_rate";
    public const string Momentum = "momentum";
    public const string Nesterov = "nesterov";
    public const string Beta1 = "beta1";
    public const string Beta2 = "beta2";
    public const string Epsilon = "epsilon";
    public const string WeightDecay = "weight_decay";
    public const string BatchSize = "batch_size";
    public const string Epochs = "epochs";
    public const string Shuffle = "shuffle";
    public const string Seed = "seed";
    public const string K = "k";
    public const string L2 = "l2";
}

/// <summary>
/// What each hyperparameter Tailor knows can take, whatever a model allows: its kind and an interval. A model's allowed
/// values must lie inside it (checked when the model loads), so a spec cannot allow a negative or infinite learning
/// rate, a β of 1, or three billion epochs. Hyperparameters Tailor does not know are not restricted.
/// </summary>
public sealed record HyperparameterDomain(HyperparameterKind Kind, double Min, double Max, bool MaxExclusive = false, bool MinExclusive = false)
{
    /// <summary>The most epochs a model may allow: 1,000,000.</summary>
    public const int MaxEpochs = 1_000_000;

    /// <summary>The domain of a hyperparameter Tailor knows, or null.</summary>
    public static HyperparameterDomain? Of(string name) => name switch
    {
        HyperparameterNames.LearningRate or HyperparameterNames.WeightDecay or HyperparameterNames.L2
            => new(HyperparameterKind.Real, 0, double.MaxValue),
        // Adam divides by √v + ε: ε = 0 divides by zero where a gradient is zero.
        HyperparameterNames.Epsilon => new(HyperparameterKind.Real, 0, 1, MinExclusive: true),
        HyperparameterNames.Momentum or HyperparameterNames.Beta1 or HyperparameterNames.Beta2 => new(HyperparameterKind.Real, 0, 1, MaxExclusive: true),
        HyperparameterNames.Epochs => new(HyperparameterKind.Int, 1, MaxEpochs),
        HyperparameterNames.BatchSize => new(HyperparameterKind.Int, 1, int.MaxValue),
        HyperparameterNames.Seed => new(HyperparameterKind.Int, 0, int.MaxValue),
        HyperparameterNames.K => new(HyperparameterKind.Int, Heads.KNearestNeighbors.MinK, Heads.KNearestNeighbors.MaxK),
        HyperparameterNames.Shuffle or HyperparameterNames.Nesterov => new(HyperparameterKind.Bool, 0, 1),
        _ => null,
    };

    /// <summary>True when <paramref name="value"/> lies in the domain.</summary>
    public bool Contains(double value) => (MinExclusive ? value > Min : value >= Min) && (MaxExclusive ? value < Max : value <= Max)
        && (Kind != HyperparameterKind.Int || Math.Floor(value) == value);

    /// <summary>"a finite number ≥ 0", "a number in [0, 1)", "a whole number from 1 to 1,000,000", "a whole number ≥ 1", "0 or 1".</summary>
    public override string ToString() =>
        Kind == HyperparameterKind.Bool ? "0 or 1"
        : Kind == HyperparameterKind.Int && Max == int.MaxValue && Min >= 1 ? $"a whole number ≥ {Whole(Min)}"
        : Kind == HyperparameterKind.Int ? $"a whole number from {Whole(Min)} to {Whole(Max)}"
        : Max == double.MaxValue ? $"a finite number ≥ {AllowedValues.Format(Min)}"
        : $"a number in {(MinExclusive ? "(" : "[")}{AllowedValues.Format(Min)}, {AllowedValues.Format(Max)}{(MaxExclusive ? ")" : "]")}";

    private static string Whole(double value) => value.ToString("N0", System.Globalization.CultureInfo.InvariantCulture);
}
