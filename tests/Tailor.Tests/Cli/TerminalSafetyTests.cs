using Tailor.Tests.Images;

namespace Tailor.Tests.Cli;

/// <summary>Labels and file names holding escape sequences or carriage returns are printed escaped in every text output,
/// and a 10 MB label is shortened: a label cannot clear the screen, rewrite a line, or flood the terminal.</summary>
[Collection("Serial")]
[Trait("Category", "Slow")]
public sealed class TerminalSafetyTests : IDisposable
{
    private const string ClearScreen = "a\u001b[2Jb";
    private const string CarriageReturn = "c\rd";
    private static readonly string Huge = new('h', 10_000_000);
    private readonly TempFolder _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <summary>Nothing a terminal would act on came from a label or file name, and the output is short.</summary>
    private static void AssertSafe(InProcessCli.Result r, string command)
    {
        string all = r.Stdout + r.Stderr;
        Assert.False(all.Contains("\u001b[2J", StringComparison.Ordinal), $"{command}: a raw escape sequence reached the output:\n{all}");
        Assert.False(all.Contains('\r'), $"{command}: a raw carriage return reached the output:\n{all}");
        Assert.False(all.Contains("\u001b[31m.jpg", StringComparison.Ordinal), $"{command}: a raw escape sequence from a file name reached the output");
        Assert.True(all.Length < 50_000, $"{command}: {all.Length} characters of output");
    }

    /// <summary>The output with line breaks made spaces: Spectre wraps long lines at the console's width.</summary>
    private static string Flat(string text) => System.Text.RegularExpressions.Regex.Replace(text, @"\s+", " ");

    [Fact]
    public async Task EscapeSequencesAndHugeLabels_AreEscapedAndShortened_InEveryCommand()
    {
        // Data whose label folders and a file name hold an escape sequence and a carriage return.
        string data = _dir.HandsSubset("data", ("✊", ClearScreen, 2), ("✋", CarriageReturn, 2));
        File.Copy(Directory.GetFiles(Path.Combine(data, ClearScreen))[0], Path.Combine(data, ClearScreen, "x\u001b[31m.jpg"));
        File.WriteAllText(Path.Combine(data, CarriageReturn, "bad\u001b[31m.jpg"), "not an image");
        string model = _dir.File("m.onnx");

        var prepare = await InProcessCli.RunAsync(["prepare", "--labels", $"{ClearScreen},{CarriageReturn},{Huge}", "--capacity", "5", "--out", model]);
        Assert.True(prepare.ExitCode == 0, prepare.Stderr);
        AssertSafe(prepare, "prepare");
        Assert.Contains(@"a\u001b[2Jb", Flat(prepare.Stdout));
        Assert.Contains("… (10,000,000 characters)", Flat(prepare.Stdout));

        var info = await InProcessCli.RunAsync(["info", model]);
        Assert.True(info.ExitCode == 0, info.Stderr);
        AssertSafe(info, "info");
        Assert.Contains(@"c\rd", Flat(info.Stdout));
        Assert.Contains("… (10,000,000 characters)", Flat(info.Stdout));

        var train = await InProcessCli.RunAsync(["train", model, "--data", data, "--epochs", "1", "--augment", "none", "--skip-bad", "--forget"]);
        Assert.True(train.ExitCode == 0, train.Stdout + train.Stderr);
        AssertSafe(train, "train");
        Assert.Contains(@"bad\u001b[31m.jpg", Flat(train.Stdout));

        var evaluate = await InProcessCli.RunAsync(["evaluate", model, "--data", data]);
        Assert.True(evaluate.ExitCode == 0, evaluate.Stderr);
        AssertSafe(evaluate, "evaluate");
        Assert.Contains(@"x\u001b[31m.jpg", Flat(evaluate.Stdout));
        Assert.Contains(@"a\u001b[2Jb", Flat(evaluate.Stdout));

        var predict = await InProcessCli.RunAsync(["predict", model, Path.Combine(data, ClearScreen), Path.Combine(data, CarriageReturn)]);
        Assert.Equal(1, predict.ExitCode);   // the file that is not an image
        AssertSafe(predict, "predict");
        Assert.Contains(@"bad\u001b[31m.jpg", Flat(predict.Stderr));
        var csv = await InProcessCli.RunAsync(["predict", model, Path.Combine(data, ClearScreen), "--format", "csv"]);
        Assert.True(csv.ExitCode == 0, csv.Stderr);
        AssertSafe(csv, "predict --format csv");
        Assert.Contains(@"x\u001b[31m.jpg", csv.Stdout);
        Assert.Contains(@"a\u001b[2Jb", csv.Stdout);

        // An error quoting a label (a validation label the model does not have).
        string validation = _dir.HandsSubset("validation", ("✌️", "e\u001b[2Jf", 1));
        var refused = await InProcessCli.RunAsync(["train", model, "--data", data, "--validation", validation, "--epochs", "1", "--augment", "none", "--skip-bad"]);
        Assert.Equal(1, refused.ExitCode);
        AssertSafe(refused, "train --validation");
        Assert.Contains(@"e\u001b[2Jf", Flat(refused.Stderr));
    }

    [Theory]
    [InlineData("a\u001b[2Jb", @"a\u001b[2Jb")]
    [InlineData("c\rd\n\t\u0007\u009b\u202e", @"c\rd\n\t\u0007\u009b\u202e")]
    [InlineData("✌️ 👨‍👩‍👧 ✊", "✌️ 👨‍👩‍👧 ✊")]   // variation selectors and joiners stay: emoji are made of them
    public void Label_EscapesControlCharacters(string label, string shown) => Assert.Equal(shown, Shown.Label(label));

    [Fact]
    public void Label_Long_IsShortenedToItsStartAndLength()
    {
        Assert.Equal(new string('h', 60) + "… (10,000,000 characters)", Shown.Label(Huge));
        Assert.Equal(new string('h', 80), Shown.Label(new string('h', 80)));   // a label up to 80 characters is shown whole
        // A surrogate pair is never split.
        string emoji = new string('h', 59) + "👍" + new string('h', 100);
        Assert.Equal(new string('h', 59) + "… (161 characters)", Shown.Label(emoji));
    }
}
