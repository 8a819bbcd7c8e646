using System.Text.RegularExpressions;
using Tailor.Building;
using Tailor.Data;
using Tailor.Prediction;
using Tailor.Training;

namespace Tailor.Tests;

/// <summary>
/// The README never lies: its C# sample is the body of <see cref="Sample"/> below, character for character
/// (after indentation), so it compiles with the tests — and this test runs it on the real photos.
/// </summary>
public sealed partial class ReadmeTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("tailor-readme").FullName;

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    private static async Task<(TrainingResult Result, EvaluationReport Report, global::Tailor.Prediction.Prediction Answer)> Sample(
        string trainDir, string testDir, string photo, string outputPath, CancellationToken cancellationToken)
    {
        // README:begin
        // An updatable classifier on the embedded ResNet18: three labels and seven free slots.
        var model = ModelBuilder.Prepare(new PrepareOptions { Labels = ["✊", "✋", "✌️"], Capacity = 10 });

        // Train on DIR/<label>/<images>; validate after every epoch.
        var task = new UpdateTask(model, LabeledFolder.Scan(trainDir), LabeledFolder.Scan(testDir));
        task.EpochEnded += (_, e) => Console.WriteLine($"epoch {e.Epoch}: loss {e.TrainLossMean:F3}, validation accuracy {e.ValidationAccuracy:P0}");
        TrainingResult result = await task.RunAsync(cancellationToken);
        model.Save(outputPath);   // standard ONNX: plain ONNX Runtime runs it, no Tailor needed

        // Predict and evaluate with the trained weights.
        using var predictor = new Predictor(model);
        var answer = predictor.Predict(photo);
        EvaluationReport report = Evaluator.Evaluate(predictor, LabeledFolder.Scan(testDir));
        Console.WriteLine($"{photo}: {answer.Label} ({answer.Probability:P0}); test accuracy {report.Accuracy:P0}");
        // README:end
        return (result, report, answer);
    }

    [Fact]
    public void ReadmeSample_IsTheCodeOfThisFile()
    {
        string root = RepositoryRoot();
        string readme = File.ReadAllText(Path.Combine(root, "README.md"));
        var block = CsharpBlock().Match(readme);
        Assert.True(block.Success, "README.md has a ```csharp block");
        string source = File.ReadAllText(Path.Combine(root, "tests", "Tailor.Tests", "ReadmeTests.cs"));
        int begin = source.IndexOf("// README:begin\n", StringComparison.Ordinal) + "// README:begin\n".Length;
        int end = source.IndexOf("        // README:end", begin, StringComparison.Ordinal);
        string sample = string.Join("\n", source[begin..end].TrimEnd('\n').Split('\n').Select(l => l.Length >= 8 ? l[8..] : l.TrimStart()));
        string documented = block.Groups[1].Value.TrimEnd('\n');
        // The README shows the usings too; the rest must be the sample, line for line.
        Assert.EndsWith(sample, documented);
    }

    [Fact]
    public async Task ReadmeSample_Runs_OnTheHandsPhotos()
    {
        string output = Path.Combine(_dir, "hands.onnx");
        string photo = LabeledFolder.Scan(TestData.HandsTest).ExamplesOf("✋").First().Path;
        var (result, report, answer) = await Sample(TestData.HandsTrain, TestData.HandsTest, photo, output, CancellationToken.None);
        Assert.Equal(TrainingState.Completed, result.State);
        Assert.True(File.Exists(output));
        Assert.Equal(15, report.Count);
        Assert.True(report.Correct >= 10, $"{report.Correct}/15");
        Assert.Contains(answer.Label, new[] { "✊", "✋", "✌️" });
    }

    internal static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Tailor.slnx"))) return dir.FullName;
        throw new InvalidOperationException("Tailor.slnx not found above " + AppContext.BaseDirectory);
    }

    [GeneratedRegex("```csharp\n(.*?)```", RegexOptions.Singleline)]
    private static partial Regex CsharpBlock();
}
