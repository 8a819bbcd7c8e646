using System.Globalization;
using Spectre.Console;

namespace Tailor.Cli;

/// <summary>The consoles the commands write to, sized the way terminal programs size their output.</summary>
internal static class Terminal
{
    /// <summary>Width used when the output is not a terminal and <c>COLUMNS</c> is not set (as <c>man</c> does).</summary>
    public const int DefaultWidth = 80;

    /// <summary>
    /// The width tables and wrapped text fit in: <c>$COLUMNS</c> when it holds a positive number (shells set it,
    /// and a user can set it to size piped output), else the terminal's width, else <see cref="DefaultWidth"/>.
    /// </summary>
    public static int Width(bool redirected)
    {
        if (int.TryParse(Environment.GetEnvironmentVariable("COLUMNS"), NumberStyles.None, CultureInfo.InvariantCulture, out int columns) && columns > 0)
            return columns;
        if (!redirected)
        {
            try
            {
                if (Console.WindowWidth > 0) return Console.WindowWidth;
            }
            catch (IOException)
            {
                // No terminal after all.
            }
        }
        return DefaultWidth;
    }

    /// <summary>A Spectre console writing to <paramref name="writer"/> with <see cref="Width"/>.</summary>
    public static IAnsiConsole Create(TextWriter writer, bool redirected)
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(writer) });
        console.Profile.Width = Width(redirected);
        return console;
    }
}

/// <summary>Writes tables so that names are never split: columns marked NoWrap keep their words whole.</summary>
internal static class Tables
{
    /// <summary>
    /// A column exactly as wide as its widest line (texts as written, before markup escaping), so that entries holding
    /// spaces ("✊ 18.7 %") are never broken either; Spectre only keeps single words whole in a NoWrap column.
    /// </summary>
    public static TableColumn Whole(string header, IEnumerable<string> texts) =>
        new(header) { NoWrap = true, Width = texts.SelectMany(t => t.Split('\n')).Append(header).Max(line => line.GetCellWidth()) };

    /// <summary>
    /// Writes <paramref name="table"/> to the console at its width; a table whose unbreakable columns cannot fit is
    /// written at the width it needs (the terminal folds the long lines, but no name is cut or replaced by "…",
    /// which is what Spectre does with a table wider than the console).
    /// </summary>
    public static void Write(Table table)
    {
        var console = AnsiConsole.Console;
        int width = console.Profile.Width;
        int needed = ((Spectre.Console.Rendering.IRenderable)table).Measure(
            Spectre.Console.Rendering.RenderOptions.Create(console, console.Profile.Capabilities), int.MaxValue / 2).Min;
        if (needed <= width)
        {
            console.Write(table);
            return;
        }
        console.Profile.Width = needed;
        try
        {
            console.Write(table);
        }
        finally
        {
            console.Profile.Width = width;
        }
    }
}
