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
        if (!(min <= max) || !double.IsFinite(min) || !double.IsFinite(max))
            throw new ArgumentException($"An allowed range needs finite bounds with min ≤ max; got [{Format(min)}, {Format(max)}].");
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

    /// <summary>The values that bound what is allowed: the set's values, or the range's two ends.</summary>
    internal IReadOnlyList<double> Values => Set ?? Range ?? [];

    /// <summary>What is wrong with these allowed values (for "the update spec's '…allowed' {problem}"), or null.</summary>
    internal string? Problem()
    {
        if ((Set is null) == (Range is null))
            return Set is null ? "has neither a set nor a range; it must have one of them" : "has both a set and a range; it must have one of them";
        if (Range is not null && Range.Count != 2)
            return $"has a range of {Range.Count} numbers; a range is [min, max]";
        if (Range is not null && !(double.IsFinite(Range[0]) && double.IsFinite(Range[1]) && Range[0] <= Range[1]))
            return $"is the range [{Format(Range[0])}, {Format(Range[1])}]; a range is [min, max] with finite min ≤ max";
        if (Set is { Count: 0 })
            return "is an empty set; it must allow at least one value";
        if (Set is not null && Set.FirstOrDefault(v => !double.IsFinite(v)) is var odd && !double.IsFinite(odd))
            return $"allows {Format(odd)}; allowed values are finite numbers";
        return null;
    }
}
