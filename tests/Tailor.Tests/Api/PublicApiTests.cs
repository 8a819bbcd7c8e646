using System.Reflection;

namespace Tailor.Tests.Api;

/// <summary>
/// The Tailor library's public API: what app developers compile against. It names no protobuf type (callers cannot
/// obtain those), no type is named like its namespace, and every change to it is deliberate: the listing committed in
/// tests/Tailor.Tests/Api/PublicApi.txt must match the compiled assembly.
/// To accept a change: <c>TAILOR_UPDATE_PUBLIC_API=1 dotnet test tests/Tailor.Tests --filter "FullyQualifiedName~PublicApiTests"</c>,
/// then review and commit the file's diff.
/// </summary>
public sealed class PublicApiTests
{
    /// <summary>The variable that makes <see cref="PublicApi_MatchesTheCommittedListing"/> rewrite the listing.</summary>
    public const string UpdateVariable = "TAILOR_UPDATE_PUBLIC_API";

    private static readonly Assembly s_library = typeof(UpdatableModel).Assembly;

    internal static string ListingPath => Path.Combine(ReadmeTests.RepositoryRoot(), "tests", "Tailor.Tests", "Api", "PublicApi.txt");

    [Fact]
    public void PublicSignatures_NameNoProtobufType()
    {
        var protobuf = new[] { typeof(global::Onnx.ModelProto).Assembly, typeof(Google.Protobuf.IMessage).Assembly };
        var offenders = PublicApi.SignatureTypes(s_library)
            .Where(s => PublicApi.Parts(s.Type).Any(p => protobuf.Contains(p.Assembly)))
            .Select(s => $"{s.Where} ({PublicApi.Name(s.Type)})").Distinct().Order(StringComparer.Ordinal).ToList();
        Assert.True(offenders.Count == 0, $"{offenders.Count} public signature(s) name protobuf types:\n" + string.Join("\n", offenders));
    }

    [Fact]
    public void NoPublicType_IsNamedLikeItsNamespace()
    {
        var offenders = PublicApi.VisibleTypes(s_library)
            .Where(t => !t.IsNested && t.Namespace is { } ns && ns.Split('.')[^1] == t.Name)
            .Select(t => t.FullName).ToList();
        Assert.True(offenders.Count == 0, "types named like their namespace: " + string.Join(", ", offenders));
    }

    [Fact]
    public void PublicApi_MatchesTheCommittedListing()
    {
        var actual = PublicApi.Listing(s_library);
        string path = ListingPath;
        if (Environment.GetEnvironmentVariable(UpdateVariable) == "1")
        {
            File.WriteAllText(path, string.Join("\n", actual) + "\n");
            return;
        }
        var committed = File.Exists(path) ? File.ReadAllText(path).ReplaceLineEndings("\n").TrimEnd('\n').Split('\n').ToList() : [];
        var removed = committed.Except(actual).ToList();
        var added = actual.Except(committed).ToList();
        Assert.True(removed.Count == 0 && added.Count == 0 && committed.SequenceEqual(actual),
            $"The public API differs from {path} ({removed.Count} line(s) removed, {added.Count} added):\n" +
            string.Join("\n", removed.Select(l => "- " + l).Concat(added.Select(l => "+ " + l))) +
            $"\nIf the change is deliberate, regenerate the listing and commit it:\n  {UpdateVariable}=1 dotnet test tests/Tailor.Tests --filter \"FullyQualifiedName~PublicApiTests\"");
    }

    [Fact]
    public void Listing_WritesSignatures()
    {
        // The listing says what a caller sees: kinds, parameter types and names, defaults, return types.
        var lines = PublicApi.Listing(s_library);
        Assert.Contains("Tailor.TailorException : Exception, ISerializable [class]", lines);
        Assert.Contains("  Tailor.TailorException.TailorException(string message)", lines);
        Assert.Contains("  Tailor.UpdatableModel.Load(string path) : Tailor.UpdatableModel [static]", lines);
        Assert.DoesNotContain(lines, l => l.Contains("<Clone>$"));
        // Types in order, each followed by its members in order.
        var types = lines.Where(l => !l.StartsWith(' ')).ToList();
        Assert.Equal(types.Order(StringComparer.Ordinal), types);
    }
}

/// <summary>The library's messages speak library terms (options, properties, methods); the CLI adds its flags
/// (<see cref="Tailor.Cli.CliHints"/>).</summary>
public sealed class LibraryMessageTests
{
    [Fact]
    public void LibraryStrings_NameNoCliFlagOrCommand()
    {
        string src = Path.Combine(ReadmeTests.RepositoryRoot(), "src", "Tailor");
        var literal = new System.Text.RegularExpressions.Regex("\"(?:[^\"\\\\\\n]|\\\\.)*\"");
        var cli = new System.Text.RegularExpressions.Regex(@"(?<![\w-])--[a-z]|\btailor (prepare|train|evaluate|predict|info|reset|bench)\b");
        var offenders = new List<string>();
        foreach (var file in Directory.EnumerateFiles(src, "*.cs", SearchOption.AllDirectories))
        {
            if (file.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}")) continue;
            var lines = File.ReadAllLines(file);
            for (int i = 0; i < lines.Length; i++)
            {
                string code = lines[i].TrimStart();
                if (code.StartsWith("//", StringComparison.Ordinal)) continue;
                foreach (System.Text.RegularExpressions.Match m in literal.Matches(lines[i]))
                    if (cli.IsMatch(m.Value)) offenders.Add($"{Path.GetRelativePath(src, file)}:{i + 1}: {m.Value}");
            }
        }
        Assert.True(offenders.Count == 0, "library strings naming CLI flags or commands:\n" + string.Join("\n", offenders));
    }

    [Theory]
    [InlineData("3 labels do not fit in 2 slots (capacity 2); raise PrepareOptions.Capacity to at least 3.",
        "3 labels do not fit in 2 slots (capacity 2); raise --capacity to at least 3.")]
    [InlineData("'a.jpg' is not an image (1 unreadable in all; set SkipBadExamples to train without them; they are then listed).",
        "'a.jpg' is not an image (1 unreadable in all; pass --skip-bad to train without them; they are then listed).")]
    [InlineData("'m.onnx' is an ONNX model but not an updatable one: it has no update spec (tailor.spec in metadata_props). Make one with ModelBuilder.Prepare (PrepareOptions.BaseModelPath \"m.onnx\" and its FeatureOutput), or ModelBuilder.Expand for a classifier.",
        "'m.onnx' is an ONNX model but not an updatable one: it has no update spec (tailor.spec in metadata_props). Make one with: tailor prepare --base \"m.onnx\" --feature-output NAME, or --from \"m.onnx\" for a classifier.")]
    [InlineData("--out: the file name is too long.", "--out: the file name is too long.")]
    public void TheCli_SaysItsFlags_ForTheLibrarysOptions(string library, string cli) => Assert.Equal(cli, Tailor.Cli.CliHints.ForCli(library));
}
