using System.CommandLine;
using Tailor.Cli;
using Tailor.Cli.Commands;
using Tailor.Tests.Images;
using Xunit.Abstractions;

namespace Tailor.Tests.Fuzz;

/// <summary>
/// Every option and argument of every command, one at a time, given a value from a pool of bad ones (empty, -1, 0,
/// 1e308, NaN, inf, 3e9, "1..0", "a,,b", 100,000 characters, control characters, a folder, a missing file, /dev/null)
/// in an otherwise valid command line, run through <see cref="CliApp.RunAsync"/> in this process: each ends in
/// success, a clear error or a usage error, never an exception, an internal error, a hang or gigabytes of memory.
/// The (option, value) pairs are shuffled by the seed; by default the first few run, TAILOR_FUZZ_SECONDS runs more
/// (about 2,600 pairs in all).
/// </summary>
[Collection("Serial")]
[Trait("Category", "Slow")]
public sealed class OptionFuzzTests(PreparedModelFixture model, ITestOutputHelper output) : IClassFixture<PreparedModelFixture>
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(2);

    /// <summary>A valid command line per command: <c>{model}</c>, <c>{data}</c>, <c>{image}</c> and <c>{work}</c> stand for
    /// a copy of the test model, a folder of four hands photos, one of them and the case's folder.</summary>
    private static readonly Dictionary<string, (string[] Arguments, (string Name, string Value)[] Options)> s_valid = new()
    {
        ["prepare"] = ([], [("--labels", "a,b"), ("--capacity", "4"), ("--out", "{work}/prepared.onnx")]),
        ["train"] = (["{model}"], [("--data", "{data}"), ("--epochs", "1"), ("--out", "{work}/trained.onnx")]),
        ["evaluate"] = (["{model}"], [("--data", "{data}")]),
        ["predict"] = (["{model}", "{image}"], []),
        ["info"] = (["{model}"], []),
        ["reset"] = (["{model}"], [("--out", "{work}/reset.onnx")]),
        ["layers"] = (["{model}"], []),
        ["bench train"] = ([], [("--data", "{data}"), ("--epochs", "1"), ("--tasks", "1"), ("--repeats", "1")]),
    };

    /// <summary>Bad values. Paths point into the case's folder (a /dev/null stand-in is a symbolic link to it, so an
    /// atomic write replaces the link, never the device: the tests may run as root).</summary>
    /// <summary>Commands that serve until stopped instead of ending.</summary>
    private static readonly HashSet<string> s_servers = ["studio"];

    private static readonly string[] s_values =
    [
        "", "-1", "0", "1", "1e308", "NaN", "inf", "-inf", "3e9", "1..0", "0..inf", "a,,b", new string('x', 100_000),
        "\u0001\u001b[31mred\u0007\r\n\t", "{work}/folder", "{work}/missing.onnx", "{work}/devnull",
        "-0", "1e-320", "99999999999999999999", "0x10", " 1 ", "1,2,3", "-", "--", "..", "\u202e✊", "-inf..inf",
    ];

    [Fact]
    public async Task EveryOption_GivenBadValues_EndsInSuccessOrAClearError()
    {
        var fuzz = new FuzzSession(nameof(EveryOption_GivenBadValues_EndsInSuccessOrAClearError), defaultIterations: 20, output);
        var targets = Targets();
        var pairs = targets.SelectMany(t => s_values.Select(v => (Target: t, Value: v))).ToArray();
        new Random(fuzz.Seed).Shuffle(pairs);
        output.WriteLine($"{targets.Count} options and arguments × {s_values.Length} values = {pairs.Length} cases");

        using var folder = new TempFolder();
        string data = folder.HandsSubset("data", ("✊", "✊", 2), ("✋", "✋", 2));
        string image = Directory.EnumerateFiles(Path.Combine(data, "✊")).Order(StringComparer.Ordinal).First();
        string cwd = Environment.CurrentDirectory;
        try
        {
            foreach (int i in fuzz.Cases())
            {
                var (target, value) = pairs[i % pairs.Length];
                string work = Directory.CreateDirectory(Path.Combine(folder.Path, $"case{i}")).FullName;
                Directory.CreateDirectory(Path.Combine(work, "folder"));
                File.CreateSymbolicLink(Path.Combine(work, "devnull"), "/dev/null");
                string copy = Path.Combine(work, "model.onnx");
                File.Copy(model.Path, copy);
                string Resolve(string s) => s.Replace("{model}", copy).Replace("{data}", data).Replace("{image}", image).Replace("{work}", work);
                var args = target.With(Resolve(value)).Select(Resolve).ToArray();
                Environment.CurrentDirectory = work;   // relative values ("a,,b", "1") land here
                await fuzz.CheckAsync(i, $"{target} = {Show(value)}: tailor {Show(string.Join(' ', args))}", Timeout, async ct =>
                {
                    var result = await Cli.InProcessCli.RunAsync(args, cancellationToken: ct);
                    fuzz.Count($"exit {result.ExitCode}");
                    return CliJudge.Complaint(result);
                }, allocationBound: target.Command.StartsWith("bench", StringComparison.Ordinal)
                    // A benchmark allocates by design (repeated trainings, memory growth over tasks: 2.3 GB with
                    // --repeats 1 --tasks 1); what it reads is the same photos the other commands read.
                    ? long.MaxValue : FuzzSession.AllocationBound);
                Environment.CurrentDirectory = cwd;
                Directory.Delete(work, recursive: true);
            }
        }
        finally
        {
            Environment.CurrentDirectory = cwd;
        }
        fuzz.AssertNoFailures();
    }

    /// <summary>One option or argument of one command, and how to put a value in its valid command line.</summary>
    private sealed record Target(string Command, string Name, bool IsArgument, int ArgumentIndex)
    {
        public IEnumerable<string> With(string value)
        {
            var (arguments, options) = s_valid[Command];
            var args = new List<string>(Command.Split(' '));
            for (int a = 0; a < arguments.Length; a++) args.Add(IsArgument && a == ArgumentIndex ? value : arguments[a]);
            if (IsArgument && ArgumentIndex >= arguments.Length) args.Add(value);
            foreach (var (name, v) in options)
                if (IsArgument || name != Name) args.AddRange([name, v]);
            if (!IsArgument) args.AddRange([Name, value]);
            return args;
        }

        public override string ToString() => $"{Command} {(IsArgument ? $"argument {ArgumentIndex + 1} ({Name})" : Name)}";
    }

    /// <summary>Every visible option and argument of every command, from the commands themselves (as the CLI builds
    /// them), so an option added later is fuzzed without editing this test.</summary>
    private static List<Target> Targets()
    {
        Command[] commands = [.. Registry.Commands.Select(create => create())];
        Assert.Equal(Registry.Names.Order(StringComparer.Ordinal), commands.Select(c => c.Name).Order(StringComparer.Ordinal));
        var targets = new List<Target>();
        void Walk(Command command, string path)
        {
            if (command.Hidden) return;
            // A valid studio command line serves until it is stopped, so a fuzzed value that happens to be valid would
            // run for ever; its options' bad values are checked in StudioCommandTests (exit 2 or 1, nothing served).
            if (s_servers.Contains(path)) return;
            if (command.Subcommands.Count == 0 || command.Action is not null)
            {
                Assert.True(s_valid.ContainsKey(path), $"'{path}' has no valid command line in {nameof(s_valid)}: add one so it is fuzzed");
                for (int a = 0; a < command.Arguments.Count; a++) targets.Add(new Target(path, command.Arguments[a].Name, true, a));
                foreach (var option in command.Options)
                    if (!option.Hidden && option is not System.CommandLine.Help.HelpOption and not VersionOption)
                        targets.Add(new Target(path, option.Name, false, 0));
            }
            foreach (var sub in command.Subcommands) Walk(sub, path + " " + sub.Name);
        }
        foreach (var command in commands) Walk(command, command.Name);
        return targets;
    }

    private static string Show(string value)
    {
        var shown = value.Length > 60 ? value[..40] + $"…({value.Length} characters)" : value;
        return System.Text.Json.JsonSerializer.Serialize(shown);
    }
}
