using System.Globalization;

namespace Tailor.Cli;

/// <summary>Wording every command shares, so that one rule holds everywhere.</summary>
internal static class Text
{
    /// <summary>A count with its noun: "1 epoch", "2 epochs", "0 epochs"; give <paramref name="plural"/> when
    /// it is not <paramref name="singular"/> + "s" ("1 entry", "3 entries").</summary>
    public static string Count(long count, string singular, string? plural = null) =>
        string.Create(CultureInfo.InvariantCulture, $"{count} {(count == 1 ? singular : plural ?? singular + "s")}");
}
