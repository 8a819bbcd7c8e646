namespace Tailor;

/// <summary>
/// Finds the shared data that sits beside the repository (<c>../shared</c>: the hands photos, the model exports)
/// for tests, benchmarks and <c>tailor bench</c>. Never part of what a user's model or data depend on.
/// </summary>
/// <remarks>
/// The folder is <c>$TAILOR_SHARED</c> when that is set; otherwise <c>shared/</c> beside the repository root, the
/// first folder above the running binary or the working directory that holds <c>Tailor.slnx</c>. Nothing else:
/// no path of any one machine.
/// </remarks>
internal static class SharedData
{
    public const string Variable = "TAILOR_SHARED";

    /// <summary>The shared folder.</summary>
    /// <exception cref="TailorException">It cannot be found; the message says where it was looked for.</exception>
    public static string Root
    {
        get
        {
            if (Environment.GetEnvironmentVariable(Variable) is { Length: > 0 } env)
                return Directory.Exists(env) ? Path.GetFullPath(env)
                    : throw new TailorException($"${Variable} is '{env}', which is not a folder.");
            foreach (var start in new[] { AppContext.BaseDirectory, Environment.CurrentDirectory })
                for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
                    if (File.Exists(Path.Combine(dir.FullName, "Tailor.slnx")))
                    {
                        string shared = Path.GetFullPath(Path.Combine(dir.FullName, "..", "shared"));
                        if (Directory.Exists(shared)) return shared;
                        break;
                    }
            throw new TailorException($"The shared data was not found: it is the folder 'shared' beside the repository root " +
                $"(../shared from the folder that holds Tailor.slnx, looked for above {AppContext.BaseDirectory} and {Environment.CurrentDirectory}); " +
                $"set ${Variable} to its path.");
        }
    }

    /// <summary>The reference app's photos: <c>shared/datasets/hands</c>, holding train/ and test/.</summary>
    public static string Hands => Path.Combine(Root, "datasets", "hands");

    /// <summary>The ONNX exports of torchvision classifiers: <c>shared/models</c>.</summary>
    public static string Models => Path.Combine(Root, "models");
}
