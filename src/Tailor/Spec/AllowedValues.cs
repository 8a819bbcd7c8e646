using System.Globalization;
using System.Text.Json.Serialization;

namespace Tailor.Spec;

/// <summary>
/// The values a hyperparameter may take: either an enumerated set (<c>{1, 2, 8, 16}</c>) or a closed
/// range (<c>[0, 1]</c>). Exactly one of <see cref="Set"/> and <see cref="Range"/> is non-null.
/// </summary>
public sealed record AllowedValues
{
    /// <summary>The enumerated values, when the hyperparameter takes one of a set.</summary>
    [JsonPropertyName("set")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyList<double>? Set { get; init; }

    /// <summary>The inclusive bounds <c>[min, max]</c>, when the hyperparameter takes a range.</summary>
    [JsonPropertyName("range")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyList<double>? Range { get; init; }

    /// <summary>Values in an enumerated set.</summary>
    public static AllowedValues OneOf(params double[] values)
    {
        if (values.Length == 0) throw new ArgumentException("An allowed set needs at least one value.", nameof(values));
        return new AllowedValues { Set = values.Distinct().Order().ToArray() };
    }

    /// <summary>Values in the closed interval [min, max].</summary>
    public static AllowedValues Between(double min, double max)
    {
        if (!(min <= max)) throw new ArgumentException($"An allowed range needs min ≤ max; got [{min}, {max}].");
        return new AllowedValues { Range = [min, max] };
    }

    /// <summary>True when <paramref name="value"/> is allowed.</summary>
    public bool Contains(double value)
    {
        if (double.IsNaN(value)) return false;
        if (Set is not null) return Set.Any(v => v == value);
        if (Range is { Count: 2 }) return value >= Range[0] && value <= Range[1];
        return false;
    }

    /// <summary>"one of {1, 2, 8, 16}" or "in [0, 1]".</summary>
    public override string ToString() => Set is not null
        ? "one of {" + string.Join(", ", Set.Select(Format)) + "}"
        : Range is { Count: 2 } ? $"in [{Format(Range[0])}, {Format(Range[1])}]" : "nothing";

    internal static string Format(double v) => v.ToString("G", CultureInfo.InvariantCulture);

    internal void Validate(string name)
    {
        if ((Set is null) == (Range is null))
            throw new TailorException($"Hyperparameter '{name}': allowed values must be either a set or a range.");
        if (Range is not null && (Range.Count != 2 || !(Range[0] <= Range[1])))
            throw new TailorException($"Hyperparameter '{name}': an allowed range is [min, max] with min ≤ max.");
        if (Set is { Count: 0 })
            throw new TailorException($"Hyperparameter '{name}': the allowed set is empty.");
    }
}
