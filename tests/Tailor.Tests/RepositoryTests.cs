using System.Text.RegularExpressions;

namespace Tailor.Tests;

/// <summary>Checks on the repository itself, not on the product's behaviour.</summary>
public class RepositoryTests
{
    /// <summary>The shared data is found relative to the repository (../shared) or through $TAILOR_SHARED, never
    /// at a path of one machine: a clone anywhere else must behave the same.</summary>
    [Fact]
    public void NoSourceFile_NamesAnAbsolutePathToTheSharedData()
    {
        string root = RepositoryRoot();
        var machinePath = new Regex(@"[A-Za-z0-9_]/shared/(datasets|models|reference)");
        var offenders = new List<string>();
        foreach (var file in Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories))
        {
            string relative = Path.GetRelativePath(root, file);
            if (relative.Split(Path.DirectorySeparatorChar).Any(part => part is "bin" or "obj" or ".git" or "node_modules")) continue;
            if (Path.GetExtension(file) is not (".cs" or ".md" or ".csproj" or ".props" or ".sh" or ".json" or ".py" or "") ) continue;
            int line = 0;
            foreach (var text in File.ReadLines(file))
            {
                line++;
                if (machinePath.IsMatch(text)) offenders.Add($"{relative}:{line}: {text.Trim()}");
            }
        }
        Assert.True(offenders.Count == 0, "Absolute paths to the shared data:\n" + string.Join("\n", offenders));
    }

    [Fact]
    public void SharedData_IsTheFolderBesideTheRepositoryRoot()
    {
        if (Environment.GetEnvironmentVariable(SharedData.Variable) is { Length: > 0 }) return;   // set by the caller: that wins
        Assert.Equal(Path.GetFullPath(Path.Combine(RepositoryRoot(), "..", "shared")), SharedData.Root);
        Assert.True(Directory.Exists(Path.Combine(SharedData.Hands, "train")));
    }

    private static string RepositoryRoot() => ReadmeTests.RepositoryRoot();
}
