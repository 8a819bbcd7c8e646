using System.Globalization;
using Tailor.Spec;

namespace Tailor.Cli.Commands;

/// <summary>Parsing of list and range option values, with errors that say what was expected.</summary>
internal static class OptionParsing
{
    /// <summary>"✊,✋,✌️" → labels (commas separate; surrounding spaces are trimmed).</summary>
    public static IReadOnlyList<string> List(string? text) =>
        string.IsNullOrWhiteSpace(text) ? [] : text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);

    public static double Number(string option, string text) =>
        double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) && !double.IsNaN(v)
            ? v : throw new TailorException($"{option}: '{text}' is not a number.");

    public static float[] Floats(string option, string? text) => List(text).Select(t => (float)Number(option, t)).ToArray();

    /// <summary>A non-empty comma-separated list of numbers.</summary>
    public static IReadOnlyList<double> Doubles(string option, string text) =>
        List(text).Select(t => Number(option, t)).ToArray() is { Length: > 0 } values ? values
            : throw new TailorException($"{option}: give a number or a comma-separated list of numbers.");

    /// <summary>"1,2,8,16" → a set; "0..1" or "[0,1]" → a closed range.</summary>
    public static AllowedValues Allowed(string option, string text)
    {
        string t = text.Trim();
        if (t.Contains(".."))
        {
            var parts = t.Split("..");
            if (parts.Length == 2) return AllowedValues.Between(Number(option, parts[0]), Number(option, parts[1]));
        }
        if (t.StartsWith('[') && t.EndsWith(']'))
        {
            var parts = t[1..^1].Split(',');
            if (parts.Length == 2) return AllowedValues.Between(Number(option, parts[0]), Number(option, parts[1]));
        }
        var values = List(t).Select(v => Number(option, v)).ToArray();
        if (values.Length == 0) throw new TailorException($"{option}: give a list such as 1,2,8,16 or a range such as 0..1.");
        return AllowedValues.OneOf(values);
    }

    /// <summary>
    /// Checks, before any work, a file the command will write: <paramref name="path"/> is not empty, does not
    /// name a folder, and its folder exists (files written beside it, such as OUT.history.json, go there too).
    /// </summary>
    public static string OutputFile(string option, string path, string example = "model.onnx")
    {
        if (string.IsNullOrWhiteSpace(path))
            throw new TailorException($"{option}: the path is empty; give a file to write, e.g. {option} {example}.");
        if (Directory.Exists(path) || Path.EndsInDirectorySeparator(path))
            throw new TailorException($"{option} '{path}' names a folder; give a file to write, e.g. {option} {Path.Join(path, example)}.");
        string folder = Path.GetDirectoryName(Path.GetFullPath(path))!;
        if (!Directory.Exists(folder))
            throw new TailorException($"{option} '{path}': the folder '{folder}' does not exist; create it first or write elsewhere.");
        return path;
    }

    /// <summary>Checks, before any work, a file the command will read: not empty, and an existing file.</summary>
    public static string InputFile(string option, string path)
    {
        if (string.IsNullOrWhiteSpace(path))
            throw new TailorException($"{option}: the path is empty; give the file to read.");
        if (Directory.Exists(path))
            throw new TailorException($"{option} '{path}' is a folder; give the file to read.");
        if (!File.Exists(path))
            throw new TailorException($"{option} '{path}': the file does not exist.");
        return path;
    }

    public static bool Bool(string option, string text) => text.Trim().ToLowerInvariant() switch
    {
        "true" or "yes" or "1" or "on" => true,
        "false" or "no" or "0" or "off" => false,
        _ => throw new TailorException($"{option}: '{text}' is not true or false."),
    };

    public static T Enum<T>(string option, string text, params (string Name, T Value)[] choices) =>
        choices.FirstOrDefault(c => string.Equals(c.Name, text.Trim(), StringComparison.OrdinalIgnoreCase)) is { Name: not null } hit
            ? hit.Value
            : throw new TailorException($"{option}: '{text}' is not one of {string.Join(", ", choices.Select(c => c.Name))}.");
}
