using System.Text.RegularExpressions;
using Tailor.Data;
using Tailor.Prediction;

namespace Tailor.Tests;

/// <summary>
/// The README never lies: its C# sample is samples/Quickstart/Program.cs character for character, a console app that
/// the solution builds (so the README's text compiles as pasted) — and this test runs that program on the real photos.
/// </summary>
public sealed partial class ReadmeTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("tailor-readme").FullName;

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    [Fact]
    public void ReadmeSample_IsTheQuickstartProgram_CharacterForCharacter() =>
        AssertReadmeBlockIs("Quickstart", "the first ```csharp block", blocks => blocks.FirstOrDefault());

    /// <summary>The README's ```csharp block that <paramref name="pick"/> chooses is samples/SAMPLE/Program.cs, character for character.</summary>
    private static void AssertReadmeBlockIs(string sample, string what, Func<IEnumerable<System.Text.RegularExpressions.Match>, System.Text.RegularExpressions.Match?> pick)
    {
        string root = RepositoryRoot();
        var block = pick(CsharpBlock().Matches(File.ReadAllText(Path.Combine(root, "README.md"))));
        Assert.True(block is not null, $"README.md has {what}");
        string program = File.ReadAllText(Path.Combine(root, "samples", sample, "Program.cs"));
        Assert.Equal(program, block.Groups[1].Value);
    }

    [Fact]
    [Trait("Category", "Slow")]
    public void ReadmeSample_Runs_OnTheHandsPhotos()
    {
        string output = Path.Combine(_dir, "hands.onnx");
        // The sample's own entry point (top-level statements), with the arguments its usage line documents.
        var entry = System.Reflection.Assembly.Load("Quickstart").EntryPoint!;
        // (An async program's entry point is the compiler's synchronous wrapper, which waits for it.)
        entry.Invoke(null, [new[] { TestData.HandsTrain, TestData.HandsTest, output }]);
        // What it wrote is a trained model that predicts the test photos.
        using var predictor = new Predictor(UpdatableModel.Load(output));
        var report = Evaluator.Evaluate(predictor, LabeledFolder.Scan(TestData.HandsTest));
        Assert.Equal(15, report.Count);
        Assert.True(report.Correct >= 10, $"{report.Correct}/15");
    }

    [Fact]
    public void ReadmeOwnLoopSample_IsTheOwnLoopProgram_CharacterForCharacter() =>
        AssertReadmeBlockIs("OwnLoop", "a ```csharp block that drives a TrainingSession",
            blocks => blocks.FirstOrDefault(m => m.Groups[1].Value.Contains("new TrainingSession(")));

    [Fact]
    [Trait("Category", "Slow")]
    public void ReadmeOwnLoopSample_Learns_OnTheHandsPhotos()
    {
        string output = Path.Combine(_dir, "own-loop.onnx");
        var entry = System.Reflection.Assembly.Load("OwnLoop").EntryPoint!;
        var console = Console.Out;
        var printed = new StringWriter();
        Console.SetOut(printed);
        try
        {
            entry.Invoke(null, [new[] { TestData.HandsTrain, TestData.HandsTest, output }]);
        }
        finally
        {
            Console.SetOut(console);
        }
        // Its loop lowered the training loss, and the model it wrote (with the checkpoint beside it) predicts the test photos.
        var losses = OwnLoopLoss().Matches(printed.ToString()).Select(m => double.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture)).ToList();
        Assert.Equal(20, losses.Count);
        Assert.True(losses[^1] < losses[0] / 2, printed.ToString());
        Assert.True(File.Exists(output + ".ckpt"));
        using var predictor = new Predictor(UpdatableModel.Load(output));
        var report = Evaluator.Evaluate(predictor, LabeledFolder.Scan(TestData.HandsTest));
        Assert.Equal(15, report.Count);
        Assert.True(report.Correct >= 10, $"{report.Correct}/15\n{printed}");
    }

    [GeneratedRegex(@"^epoch \d+: loss ([0-9.]+),", RegexOptions.Multiline)]
    private static partial Regex OwnLoopLoss();

    internal static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Tailor.slnx"))) return dir.FullName;
        throw new InvalidOperationException("Tailor.slnx not found above " + AppContext.BaseDirectory);
    }

    [GeneratedRegex("```csharp\n(.*?)```", RegexOptions.Singleline)]
    private static partial Regex CsharpBlock();
}
