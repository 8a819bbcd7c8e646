using System.Globalization;
using Spectre.Console;

namespace Tailor.Cli;

/// <summary>Wording every command shares, so that one rule holds everywhere.</summary>
internal static class Text
{
    /// <summary>A count with its noun: "1 epoch", "2 epochs", "0 epochs"; give <paramref name="plural"/> when
    /// it is not <paramref name="singular"/> + "s" ("1 entry", "3 entries").</summary>
    public static string Count(long count, string singular, string? plural = null) =>
        string.Create(CultureInfo.InvariantCulture, $"{count} {(count == 1 ? singular : plural ?? singular + "s")}");

    /// <summary>
    /// A label as text output shows it: control characters and escape sequences escaped (<c>\u001b</c>, <c>\r</c>), so a
    /// label cannot clear the screen or rewrite a line, and a long one shortened to its first 60 characters, "…" and its
    /// length (<see cref="Shown.Label"/>). JSON output needs none of this: the serializer escapes control characters.
    /// </summary>
    public static string Label(string label) => Shown.Label(label);

    /// <summary>A path, file name or tensor name as text output shows it: control characters escaped (<see cref="Shown.Path"/>).</summary>
    public static string Path(string path) => Shown.Path(path);

    /// <summary><see cref="Label"/>, escaped for Spectre markup.</summary>
    public static string MarkupLabel(string label) => Markup.Escape(Label(label));

    /// <summary><see cref="Path"/>, escaped for Spectre markup.</summary>
    public static string MarkupPath(string path) => Markup.Escape(Path(path));

    /// <summary>Longest message written whole; a longer one quotes something huge (a 10 MB label in a model's metadata).</summary>
    public const int MessageLimit = 4000;

    /// <summary>
    /// An error or note as written to stderr, whatever it quotes: line breaks kept, other control characters escaped,
    /// and a message longer than <see cref="MessageLimit"/> shortened to its start, "…" and its length.
    /// </summary>
    public static string Message(string message)
    {
        if (message.Length <= MessageLimit && !Shown.HasUnsafe(message.Replace("\n", "", StringComparison.Ordinal))) return message;
        return string.Join('\n', message.Split('\n').Select(line => Shown.Text(line, MessageLimit / 2, MessageLimit)));
    }
}
