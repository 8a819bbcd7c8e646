using System.Globalization;
using System.Text;

namespace Tailor;

/// <summary>
/// Labels and file names as messages quote them. A label comes from a folder name or a model's metadata, a file name
/// from whatever is on disk: either can hold control characters (ESC, CR, BEL…) that would move the cursor, clear the
/// screen or rewrite the line when the message reaches a terminal, or be megabytes long. Here control characters are
/// escaped (<c>\r</c>, <c>\n</c>, <c>\t</c>, <c>\u001b</c>, also C1 controls and the bidirectional overrides that
/// reorder a line), and a long label is shortened to its first <see cref="LabelHead"/> characters, "…" and its length.
/// </summary>
internal static class Shown
{
    /// <summary>Characters of a long label that messages show.</summary>
    public const int LabelHead = 60;

    /// <summary>A path longer than this is shortened (file systems allow 4096 bytes; a longer one was not a real path).</summary>
    public const int PathLimit = 4096;

    /// <summary>A label for a message: escaped, and shortened when longer than <see cref="LabelHead"/> + 20 characters.</summary>
    public static string Label(string label) => Text(label, LabelHead, LabelHead + 20);

    /// <summary>A path or file name for a message: escaped (a real path is never shortened).</summary>
    public static string Path(string path) => Text(path, PathLimit, PathLimit);

    /// <summary>
    /// <paramref name="text"/> with control characters escaped; when it is longer than <paramref name="limit"/>, its
    /// first <paramref name="head"/> characters, "…" and its length ("aaaa… (10,485,760 characters)").
    /// </summary>
    public static string Text(string text, int head, int limit)
    {
        ArgumentNullException.ThrowIfNull(text);
        bool shorten = text.Length > limit;
        int end = shorten ? head : text.Length;
        if (shorten && char.IsHighSurrogate(text[end - 1])) end--;   // never split a pair
        int first = IndexOfUnsafe(text.AsSpan(0, end));
        if (!shorten && first < 0) return text;
        var sb = new StringBuilder(end + 32);
        sb.Append(text, 0, first < 0 ? end : first);
        for (int i = first < 0 ? end : first; i < end; i++)
        {
            char c = text[i];
            if (!IsUnsafe(c)) { sb.Append(c); continue; }
            sb.Append(c switch
            {
                '\r' => @"\r",
                '\n' => @"\n",
                '\t' => @"\t",
                _ => string.Create(CultureInfo.InvariantCulture, $"\\u{(int)c:x4}"),
            });
        }
        if (shorten) sb.Append(CultureInfo.InvariantCulture, $"… ({text.Length:N0} characters)");
        return sb.ToString();
    }

    /// <summary>True when <paramref name="text"/> holds a character <see cref="Text"/> escapes.</summary>
    public static bool HasUnsafe(ReadOnlySpan<char> text) => IndexOfUnsafe(text) >= 0;

    private static int IndexOfUnsafe(ReadOnlySpan<char> text)
    {
        for (int i = 0; i < text.Length; i++)
            if (IsUnsafe(text[i])) return i;
        return -1;
    }

    // C0 and C1 controls and DEL (ESC starts a terminal escape sequence, CSI U+009B is one by itself), and the
    // bidirectional embeddings, overrides and isolates, which display text in another order than it is stored.
    // Not the joiners and variation selectors: emoji labels (✌️, 👨‍👩‍👧) are made of them.
    private static bool IsUnsafe(char c) =>
        c < 0x20 || c is >= '\u007f' and <= '\u009f' || c is >= '\u202a' and <= '\u202e' || c is >= '\u2066' and <= '\u2069';
}
