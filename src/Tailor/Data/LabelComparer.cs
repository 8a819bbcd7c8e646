using System.Text;

namespace Tailor.Data;

/// <summary>Compares labels after Unicode normalization (NFC), so a label typed on one system and a folder
/// name stored by another (macOS file systems keep NFD) are the same label.</summary>
/// <remarks>
/// Normalization does not remove characters: U+FE0F (VARIATION SELECTOR-16, the "emoji presentation"
/// selector in "✌️" = U+270C U+FE0F) is kept, so "✌️" and a bare "✌" (U+270C) are different labels, as
/// they are different strings in any file name. What normalization makes equal is composed and decomposed
/// forms, e.g. "é" (U+00E9) and "e" + U+0301. Order is ordinal over the normalized strings, the same on
/// every machine and culture.
/// </remarks>
public sealed class LabelComparer : IEqualityComparer<string>, IComparer<string>
{
    /// <summary>The one instance.</summary>
    public static LabelComparer Instance { get; } = new();

    private LabelComparer() { }

    /// <summary>The label in Unicode normalization form C (composed); already-normalized strings are
    /// returned as they are.</summary>
    public static string Normalize(string label)
    {
        ArgumentNullException.ThrowIfNull(label);
        return label.IsNormalized(NormalizationForm.FormC) ? label : label.Normalize(NormalizationForm.FormC);
    }

    /// <summary>True when both labels are equal after NFC normalization (ordinal comparison).</summary>
    public bool Equals(string? x, string? y)
    {
        if (ReferenceEquals(x, y)) return true;
        if (x is null || y is null) return false;
        return string.Equals(Normalize(x), Normalize(y), StringComparison.Ordinal);
    }

    /// <summary>Hash of the normalized label.</summary>
    public int GetHashCode(string obj) => string.GetHashCode(Normalize(obj), StringComparison.Ordinal);

    /// <summary>Ordinal comparison of the normalized labels (null first).</summary>
    public int Compare(string? x, string? y)
    {
        if (ReferenceEquals(x, y)) return 0;
        if (x is null) return -1;
        if (y is null) return 1;
        return string.CompareOrdinal(Normalize(x), Normalize(y));
    }
}
