using System.CommandLine;
using System.CommandLine.Help;
using System.Runtime.CompilerServices;
using System.Text.RegularExpressions;

namespace Tailor.Cli;

/// <summary>
/// Help as every command shows it: fitted to the terminal's width, an <c>Examples:</c> section after the options,
/// and defaults written one way, "(default: X)" (System.CommandLine's "[default: X]" is rewritten to it, so an
/// option's description never states its default itself when the option has a default value).
/// </summary>
internal static partial class HelpText
{
    private static readonly ConditionalWeakTable<Command, string[]> s_examples = [];

    /// <summary>Example command lines shown at the end of <paramref name="command"/>'s help.</summary>
    public static T Examples<T>(T command, params string[] examples) where T : Command
    {
        s_examples.AddOrUpdate(command, examples);
        return command;
    }

    /// <summary>The examples registered for <paramref name="command"/> (empty if none).</summary>
    public static IReadOnlyList<string> ExamplesOf(Command command) => s_examples.TryGetValue(command, out var e) ? e : [];

    /// <summary>Writes the help <paramref name="parse"/> asks for (its action is a <see cref="HelpAction"/>) to stdout.</summary>
    public static int Write(ParseResult parse, HelpAction help)
    {
        help.MaxWidth = Terminal.Width(Console.IsOutputRedirected);
        var capture = new StringWriter();
        int code = parse.Invoke(new InvocationConfiguration { Output = capture });
        string text = DefaultValue().Replace(capture.ToString(), "(default: $1)").TrimEnd();
        Console.Out.WriteLine(text);
        var examples = ExamplesOf(parse.CommandResult.Command);
        if (examples.Count > 0)
        {
            Console.Out.WriteLine();
            Console.Out.WriteLine(examples.Count == 1 ? "Example:" : "Examples:");
            foreach (var example in examples) Console.Out.WriteLine("  " + example);
        }
        Console.Out.WriteLine();
        return code;
    }

    [GeneratedRegex(@"\[default: ([^\]\r\n]*)\]")]
    private static partial Regex DefaultValue();
}
