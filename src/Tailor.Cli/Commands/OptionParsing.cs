using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using Tailor.Spec;

namespace Tailor.Cli.Commands;

/// <summary>
/// Parsing of list and range option values, with errors that say what was expected. Every error here is a usage error
/// (<see cref="UsageException"/>, exit code 2): it names the option and what it takes.
/// </summary>
internal static class OptionParsing
{
    /// <summary>"✊,✋,✌️" → labels (commas separate; surrounding spaces are trimmed).</summary>
    public static IReadOnlyList<string> List(string? text) =>
        string.IsNullOrWhiteSpace(text) ? [] : text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);

    /// <summary>A finite number (NaN, ±infinity and numbers beyond ±1.8e308 are refused).</summary>
    public static double Number(string option, string text) =>
        double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) && double.IsFinite(v)
            ? v : throw new UsageException($"{option}: '{text.Trim()}' is not a finite number.");

    public static float[] Floats(string option, string? text) => List(text).Select(t => Number(option, t)).Select(v =>
        Math.Abs(v) <= float.MaxValue ? (float)v : throw new UsageException($"{option}: {Format(v)} is too large for a 32-bit float.")).ToArray();

    /// <summary>A non-empty comma-separated list of numbers.</summary>
    public static IReadOnlyList<double> Doubles(string option, string text) =>
        List(text).Select(t => Number(option, t)).ToArray() is { Length: > 0 } values ? values
            : throw new UsageException($"{option}: give a number or a comma-separated list of numbers.");

    /// <summary>"1,2,8,16" → a set; "0..1" or "[0,1]" → a closed range with finite bounds, min ≤ max.</summary>
    public static AllowedValues Allowed(string option, string text)
    {
        string t = text.Trim();
        string[]? bounds = t.Contains("..") ? t.Split("..") : t.StartsWith('[') && t.EndsWith(']') ? t[1..^1].Split(',') : null;
        if (bounds is not null)
        {
            if (bounds.Length != 2)
                throw new UsageException($"{option}: '{t}' is not a range such as 0..1 or [0,1], nor a list such as 1,2,8,16.");
            double min = Number(option, bounds[0]), max = Number(option, bounds[1]);
            if (min > max)
                throw new UsageException($"{option}: the range {t} is inverted; give MIN..MAX with MIN ≤ MAX, e.g. {Format(max)}..{Format(min)}.");
            return AllowedValues.Between(min, max);
        }
        var values = List(t).Select(v => Number(option, v)).ToArray();
        if (values.Length == 0) throw new UsageException($"{option}: give a list such as 1,2,8,16 or a range such as 0..1.");
        return AllowedValues.OneOf(values);
    }

    /// <summary>An --augment value (the library's message, prefixed with the option).</summary>
    public static Images.AugmentationOptions Augmentation(string option, string text)
    {
        try { return Images.AugmentationOptions.Parse(text); }
        catch (TailorException e) { throw new UsageException($"{option}: {e.Message}", e); }
    }

    internal static string Format(double v) => v.ToString("G", CultureInfo.InvariantCulture);

    /// <summary>
    /// Makes <paramref name="option"/> take a whole number from <paramref name="min"/> to <paramref name="max"/>: anything
    /// else (a fraction, 3e9, text, a number beyond the range) is a parse error — exit code 2 before any work — that names
    /// the option and the range, instead of System.CommandLine's "expected type 'System.Int32'". <paramref name="hint"/>
    /// (e.g. why there is a maximum) follows the range in the message.
    /// </summary>
    public static Option<int> WholeIn(this Option<int> option, int min, int max, string? hint = null)
    {
        option.CustomParser = result => ParseWhole(result, option.Name, min, max, hint, option.DefaultValueFactory is { } d ? d(result) : 0) ?? 0;
        return option;
    }

    /// <inheritdoc cref="WholeIn(Option{int}, int, int, string?)"/>
    public static Option<int?> WholeIn(this Option<int?> option, int min, int max, string? hint = null)
    {
        option.CustomParser = result => ParseWhole(result, option.Name, min, max, hint, null);
        return option;
    }

    /// <summary>
    /// Makes <paramref name="option"/> take a finite number accepted by <paramref name="allowed"/> (described by
    /// <paramref name="what"/>, e.g. "more than 0"); anything else is a parse error naming the option.
    /// </summary>
    public static Option<double?> NumberWhere(this Option<double?> option, Func<double, bool> allowed, string what)
    {
        option.CustomParser = result =>
        {
            if (result.Tokens.Count == 0) return null;
            string text = result.Tokens[^1].Value;
            if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) && double.IsFinite(v) && allowed(v)) return v;
            result.AddError($"{option.Name}: '{text}' is not allowed; give a finite number {what}.");
            return null;
        };
        return option;
    }

    private static int? ParseWhole(ArgumentResult result, string name, int min, int max, string? hint, int? implicitValue)
    {
        if (result.Tokens.Count == 0) return implicitValue;
        string text = result.Tokens[^1].Value;
        if (int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int v) && v >= min && v <= max) return v;
        var c = CultureInfo.InvariantCulture;
        string range = $"a whole number from {min.ToString("N0", c)} to {max.ToString("N0", c)}";
        result.AddError($"{name}: '{text}' is not allowed; give {range}{(hint is null ? "" : " (" + hint + ")")}.");
        return null;
    }

    /// <summary>
    /// Checks, before any work, a file the command will write: <paramref name="path"/> is not empty, does not
    /// name a folder, and its folder exists (files written beside it, such as OUT.history.json, go there too).
    /// </summary>
    public static string OutputFile(string option, string path, string example = "model.onnx")
    {
        if (string.IsNullOrWhiteSpace(path))
            throw new UsageException($"{option}: the path is empty; give a file to write, e.g. {option} {example}.");
        if (Directory.Exists(path) || Path.EndsInDirectorySeparator(path))
            throw new UsageException($"{option} '{path}' names a folder; give a file to write, e.g. {option} {Path.Join(path, example)}.");
        string folder = Path.GetDirectoryName(Path.GetFullPath(path))!;
        if (!Directory.Exists(folder))
            throw new UsageException($"{option} '{path}': the folder '{folder}' does not exist; create it first or write elsewhere.");
        int nameBytes = System.Text.Encoding.UTF8.GetByteCount(Path.GetFileName(path));
        if (nameBytes > MaxOutputNameBytes)
            throw new UsageException($"{option}: the file name is {nameBytes} bytes long; Tailor writes names of up to {MaxOutputNameBytes} " +
                "bytes (it writes through temporary files with longer names, and file systems allow 255 bytes). Give a shorter name.");
        return path;
    }

    /// <summary>The longest output file name (UTF-8 bytes) that works: file systems allow 255 bytes, and the longest file
    /// Tailor writes is the temporary file of NAME.history.json, <c>.NAME.history.json.PID.GUID.tmp</c>, 59 bytes more
    /// (PID up to 7 digits). Before, a longer name failed after training, when the model was written.</summary>
    internal const int MaxOutputNameBytes = 255 - 59;

    /// <summary>Checks, before any work, a file the command will read: not empty, and an existing file.</summary>
    public static string InputFile(string option, string path)
    {
        if (string.IsNullOrWhiteSpace(path))
            throw new UsageException($"{option}: the path is empty; give the file to read.");
        if (Directory.Exists(path))
            throw new UsageException($"{option} '{path}' is a folder; give the file to read.");
        if (!File.Exists(path))
            throw new UsageException($"{option} '{path}': the file does not exist.");
        return path;
    }

    public static bool Bool(string option, string text) => text.Trim().ToLowerInvariant() switch
    {
        "true" or "yes" or "1" or "on" => true,
        "false" or "no" or "0" or "off" => false,
        _ => throw new UsageException($"{option}: '{text}' is not true or false."),
    };

    public static T Enum<T>(string option, string text, params (string Name, T Value)[] choices) =>
        choices.FirstOrDefault(c => string.Equals(c.Name, text.Trim(), StringComparison.OrdinalIgnoreCase)) is { Name: not null } hit
            ? hit.Value
            : throw new UsageException($"{option}: '{text}' is not one of {string.Join(", ", choices.Select(c => c.Name))}.");
}
