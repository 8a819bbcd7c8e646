using System.Diagnostics;
using Tailor.Tests.Images;

namespace Tailor.Tests.Cli;

/// <summary>Paths a command will write (or resume from) are checked before any work: an empty path, a folder,
/// or a folder that does not exist is an error at once naming the flag, and nothing is written anywhere.</summary>
[Trait("Category", "Slow")]
public sealed class OutputPathTests(PreparedModelFixture fixture) : IClassFixture<PreparedModelFixture>, IDisposable
{
    private readonly TempFolder _dir = new();

    public void Dispose() => _dir.Dispose();

    public static TheoryData<string, string[]> Cases => new()
    {
        // {model} is the prepared model, {dir} an existing folder, {missing} a folder that does not exist.
        { "--out", ["train", "{model}", "--data", "{train}", "--epochs", "1", "--augment", "none", "--out", ""] },
        { "--out", ["train", "{model}", "--data", "{train}", "--epochs", "1", "--augment", "none", "--out", "{dir}"] },
        { "--out", ["train", "{model}", "--data", "{train}", "--epochs", "1", "--augment", "none", "--out", "{missing}/m.onnx"] },
        { "--checkpoint", ["train", "{model}", "--data", "{train}", "--epochs", "1", "--augment", "none", "--out", "m.onnx", "--checkpoint", ""] },
        { "--checkpoint", ["train", "{model}", "--data", "{train}", "--epochs", "1", "--augment", "none", "--out", "m.onnx", "--checkpoint", "{dir}"] },
        { "--resume", ["train", "{model}", "--data", "{train}", "--epochs", "1", "--augment", "none", "--out", "m.onnx", "--resume", ""] },
        { "--resume", ["train", "{model}", "--data", "{train}", "--epochs", "1", "--augment", "none", "--out", "m.onnx", "--resume", "{missing}/m.ckpt"] },
        { "--out", ["train", "{model}", "--head", "knn", "--data", "{train}", "--out", "{dir}"] },
        { "--out", ["train", "{model}", "--head", "logreg", "--data", "{train}", "--out", ""] },
        { "--out", ["prepare", "--labels", "a,b", "--out", ""] },
        { "--out", ["prepare", "--labels", "a,b", "--out", "{dir}"] },
        { "--out", ["prepare", "--labels", "a,b", "--out", "{missing}/m.onnx"] },
        { "--out", ["reset", "{model}", "--out", ""] },
        { "--out", ["reset", "{model}", "--out", "{dir}"] },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task BadPath_IsAnErrorAtOnce_NamingTheFlag_AndNothingIsWritten(string flag, string[] template)
    {
        string work = Directory.CreateDirectory(_dir.File("work")).FullName;   // the current folder
        string dir = Directory.CreateDirectory(Path.Combine(work, "existing")).FullName;
        string missing = Path.Combine(work, "missing");
        byte[] model = File.ReadAllBytes(fixture.Path);
        var args = template.Select(a => a.Replace("{model}", fixture.Path).Replace("{train}", TestData.HandsTrain)
            .Replace("{dir}", dir).Replace("{missing}", missing)).ToArray();

        var psi = CliRunner.StartInfo(null, args);
        psi.WorkingDirectory = work;
        using var p = Process.Start(psi)!;
        var stdoutTask = p.StandardOutput.ReadToEndAsync();
        string stderr = await p.StandardError.ReadToEndAsync();
        string stdout = await stdoutTask;
        await p.WaitForExitAsync();

        Assert.True(p.ExitCode == 2, $"exit {p.ExitCode}\n{stdout}\n{stderr}");   // a usage error
        Assert.Contains("error: " + flag, stderr);
        Assert.DoesNotContain("   at ", stderr);   // no stack trace
        Assert.DoesNotContain("Epoch", stdout);   // no training began
        Assert.Empty(Directory.GetFileSystemEntries(dir));
        Assert.Equal(["existing"], Directory.GetFileSystemEntries(work).Select(Path.GetFileName));
        Assert.Equal(model, File.ReadAllBytes(fixture.Path));
    }
}
