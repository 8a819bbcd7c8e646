using System.IO.Compression;
using System.Text;
using System.Text.Json;
using Tailor.Studio;
using Tailor.Studio.Runs;
using Tailor.Training;
using Tailor.Tests.Images;

namespace Tailor.Tests.Studio.Workspace;

/// <summary>The hands photos imported into a workspace, a recorded run of two epochs committed as a model version,
/// that version evaluated, a label renamed afterwards, and the whole project exported to a .tailor file once.</summary>
public sealed class ExportedHandsFixture : IDisposable
{
    private readonly TempWorkspaceFolder _folder = new();

    public ExportedHandsFixture()
    {
        Workspace = Tailor.Studio.Workspace.Open(_folder.Sub("source"));
        var project = Workspace.ImportFolder(TestData.Hands, "hands", null, CancellationToken.None);
        Project = project.Id;
        RunId = Workspace.BeginRun(Project, new RunRequest { Epochs = 2 });
        Workspace.RecordEpoch(RunId, new EpochRecord(1, 1.1, 1.0, 0.4, 1.05, 0.5, 0.001, 1.5));
        Workspace.RecordEpoch(RunId, new EpochRecord(2, 0.9, 0.8, 0.6, 0.95, 0.6, 0.001, 1.4));
        VersionId = Workspace.CommitModel(Project, RunId, Workspace.LoadCurrentModel(Project));
        Workspace.EndRun(RunId, TrainingState.Completed, null, VersionId);
        Workspace.Evaluate(Project, VersionId);
        var label = Workspace.GetProject(Project).Labels[0];
        Workspace.RenameLabel(Project, label.Id, label.Name + " (renamed)");
        ProjectFile = _folder.Sub("hands.tailor");
        using (var file = File.Create(ProjectFile)) Workspace.ExportProject(Project, file);
    }

    public Tailor.Studio.Workspace Workspace { get; }
    public long Project { get; }
    public long RunId { get; }
    public long VersionId { get; }
    public string ProjectFile { get; }

    /// <summary>A fresh, empty workspace folder (the "other machine").</summary>
    public string NewFolder() => _folder.Sub("target-" + Guid.NewGuid().ToString("N")[..8]);

    public string TempFile(string name) => _folder.Sub(Guid.NewGuid().ToString("N")[..8] + "-" + name);

    public void Dispose()
    {
        Workspace.Dispose();
        _folder.Dispose();
    }
}

[Trait("Category", "Slow")]
public sealed class WorkspaceTransferTests(ExportedHandsFixture fixture) : IClassFixture<ExportedHandsFixture>
{
    private Tailor.Studio.Workspace Source => fixture.Workspace;

    private static IEnumerable<ExampleInfo> AllExamples(Tailor.Studio.Workspace ws, long project) => ws.ListExamples(project, null, null, 0, 1000).Items;

    /// <summary>A version keeps, across export and import, which labels it was made with: a label added after it (and one
    /// deleted after it) is unknown to it in the other workspace as in this one.</summary>
    [Fact]
    public void ProjectFile_KeepsWhichLabelsEachVersionWasMadeWith()
    {
        using var source = Tailor.Studio.Workspace.Open(fixture.NewFolder());
        var project = source.ImportFolder(TestData.Hands, "hands", null, CancellationToken.None);
        long run = source.BeginRun(project.Id, new RunRequest { Head = RunHead.Knn });
        long version = source.CommitModel(project.Id, run, source.LoadCurrentModel(project.Id));
        source.EndRun(run, TrainingState.Completed, null, version);
        source.AddLabel(project.Id, "👍");
        source.DeleteLabel(project.Id, project.Labels.Single(l => l.Name == "✌️").Id);
        source.AddLabel(project.Id, "👌");   // takes the deleted label's slot: not the label the version knew there
        string file = fixture.TempFile("labels.tailor");
        using (var stream = File.Create(file)) source.ExportProject(project.Id, stream);

        using var target = Tailor.Studio.Workspace.Open(fixture.NewFolder());
        var imported = target.ImportProject(file, null, null, CancellationToken.None);
        static IReadOnlyList<string> Unknown(Tailor.Studio.Workspace ws, long p) =>
            ws.ListVersionDetails(p).Single(v => v.Kind == "trained").UnknownLabels;
        Assert.Equal(["👌", "👍"], Unknown(source, project.Id).Order());
        Assert.Equal(Unknown(source, project.Id).Order(), Unknown(target, imported.Id).Order());
    }

    [Fact]
    public void ProjectFile_ImportedIntoAnotherWorkspace_HasTheSameLabelsPhotosRunsVersionsAndCurrentModel()
    {
        using var target = Tailor.Studio.Workspace.Open(fixture.NewFolder());
        var reports = new List<ImportProgress>();
        // Ids in the target differ from the source's: a project made first takes the low ones.
        target.ImportZip(MakeZip(("a/x.png", TestImages.Png(new Tailor.Images.RgbImage(8, 8)))), "first", null, null, CancellationToken.None);
        var imported = target.ImportProject(fixture.ProjectFile, null, new SyncProgress<ImportProgress>(reports.Add), CancellationToken.None);
        var original = Source.GetProject(fixture.Project);

        Assert.Equal(original.Name, imported.Name);
        Assert.Equal(original.Capacity, imported.Capacity);
        Assert.Equal(original.Labels.Select(l => (l.Name, l.Slot, l.TrainCount, l.TestCount)), imported.Labels.Select(l => (l.Name, l.Slot, l.TrainCount, l.TestCount)));
        Assert.Equal(
            AllExamples(Source, original.Id).Select(e => (e.Sha256, e.Label, e.Set, e.OriginalName, e.Source, e.Width, e.Height, e.Added)).Order(),
            AllExamples(target, imported.Id).Select(e => (e.Sha256, e.Label, e.Set, e.OriginalName, e.Source, e.Width, e.Height, e.Added)).Order());
        foreach (var example in AllExamples(target, imported.Id))
        {
            using var image = target.OpenImage(example.Id).Content;
            Assert.Equal(example.Sha256, Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(image)));
        }

        // Runs with their requests and epochs; versions with their kinds, runs and evaluations; the same current model.
        var runs = target.ListRuns(imported.Id);
        var run = Assert.Single(runs);
        Assert.Equal(2, run.Request.Epochs);
        Assert.Equal("completed", run.State);
        Assert.Equal(Source.ListRuns(fixture.Project)[0].Epochs, run.Epochs);
        var versions = target.ListModelVersions(imported.Id);
        Assert.Equal(Source.ListModelVersions(fixture.Project).Select(v => (v.Kind, v.IsCurrent, v.Accuracy, v.Created)),
            versions.Select(v => (v.Kind, v.IsCurrent, v.Accuracy, v.Created)));
        var current = versions.Single(v => v.IsCurrent);
        Assert.Equal(run.ModelVersionId, current.Id);
        Assert.Equal(run.Id, current.RunId);
        Assert.NotEqual(fixture.VersionId, current.Id);
        Assert.Equal(current.Id, imported.CurrentVersionId);
        Assert.Equal(File.ReadAllBytes(Source.ModelFile(fixture.VersionId)), File.ReadAllBytes(target.ModelFile(current.Id)));
        Assert.Equal(original.Labels.Select(l => l.Name), target.LoadModel(imported.Id).Spec.Labels.Names.Take(original.Labels.Count));

        // The evaluation speaks of the new project's examples and labels.
        var evaluation = target.StoredEvaluation(imported.Id, current.Id)!;
        var ids = AllExamples(target, imported.Id).Select(e => e.Id).ToHashSet();
        Assert.Equal(current.Id, evaluation.VersionId);
        Assert.Equal(15, evaluation.Rows.Count);
        Assert.All(evaluation.Rows, r => Assert.Contains(r.ExampleId, ids));
        Assert.All(evaluation.PerLabel, l => Assert.Contains(l.LabelId, imported.Labels.Select(x => x.Id)));

        // A network run continues from the imported model with its epoch numbering.
        Assert.Equal(Source.PriorEpochs(fixture.Project), target.PriorEpochs(imported.Id));
        Assert.Equal(2, target.PriorEpochs(imported.Id).Count);
        Assert.True(reports.Count > 0 && reports[^1].Done == reports[^1].Total);
    }

    [Fact]
    public void ProjectFile_OfANewerFormat_IsRefusedNamingTheVersions_AndNothingIsWritten()
    {
        string file = RewriteManifest(fixture.ProjectFile, m => m["version"] = Tailor.Studio.Workspace.ProjectFileVersion + 1);
        using var target = Tailor.Studio.Workspace.Open(fixture.NewFolder());
        var e = Assert.Throws<TailorException>(() => target.ImportProject(file, null, null, CancellationToken.None, "new.tailor"));
        Assert.Contains($"format version {Tailor.Studio.Workspace.ProjectFileVersion + 1}", e.Message);
        Assert.Contains($"reads versions up to {Tailor.Studio.Workspace.ProjectFileVersion}", e.Message);
        Assert.Contains("'new.tailor'", e.Message);
        AssertEmpty(target);
    }

    [Fact]
    public void ProjectFile_WithADamagedPhoto_IsRefusedNamingIt_AndLeavesNoFileBehind()
    {
        string file = fixture.TempFile("damaged.tailor");
        File.Copy(fixture.ProjectFile, file);
        string hash;
        using (var zip = ZipFile.Open(file, ZipArchiveMode.Update))
        {
            // The last photo (the files before it are written, then swept).
            var entry = zip.Entries.Where(e => e.FullName.StartsWith("images/", StringComparison.Ordinal)).Last();
            hash = entry.FullName["images/".Length..];
            byte[] bytes;
            using (var s = entry.Open()) { using var m = new MemoryStream(); s.CopyTo(m); bytes = m.ToArray(); }
            bytes[^10] ^= 0xFF;
            entry.Delete();
            using var w = zip.CreateEntry("images/" + hash).Open();
            w.Write(bytes);
        }
        using var target = Tailor.Studio.Workspace.Open(fixture.NewFolder());
        var e = Assert.Throws<TailorException>(() => target.ImportProject(file, null, null, CancellationToken.None));
        Assert.Contains("damaged Tailor project file", e.Message);
        Assert.Contains($"images/{hash} does not match its SHA-256", e.Message);
        AssertEmpty(target);
    }

    [Fact]
    public void ProjectFile_WithAMissingModel_OrNotAProjectFile_IsRefusedClearly()
    {
        string file = fixture.TempFile("nomodel.tailor");
        File.Copy(fixture.ProjectFile, file);
        using (var zip = ZipFile.Open(file, ZipArchiveMode.Update))
            zip.Entries.First(e => e.FullName.StartsWith("models/", StringComparison.Ordinal)).Delete();
        using var target = Tailor.Studio.Workspace.Open(fixture.NewFolder());
        var e = Assert.Throws<TailorException>(() => target.ImportProject(file, null, null, CancellationToken.None));
        Assert.Matches(@"damaged Tailor project file: the model file of version \d+ \(models/\d+\.onnx\) is missing", e.Message);

        string photos = MakeZip(("cat/a.png", TestImages.Png(new Tailor.Images.RgbImage(4, 4))));
        e = Assert.Throws<TailorException>(() => target.ImportProject(photos, null, null, CancellationToken.None, "photos.zip"));
        Assert.Contains("'photos.zip' is not a Tailor project file: it has no manifest.json", e.Message);
        string text = fixture.TempFile("text.tailor");
        File.WriteAllText(text, "hello");
        e = Assert.Throws<TailorException>(() => target.ImportProject(text, null, null, CancellationToken.None, "text.tailor"));
        Assert.Contains("'text.tailor' is not a zip archive", e.Message);
        AssertEmpty(target);
    }

    [Fact]
    public void ProjectFile_ImportFailingInItsTransaction_LeavesNoProjectRowOrFile()
    {
        using var target = Tailor.Studio.Workspace.Open(fixture.NewFolder());
        target.AfterImportFilesMoved = _ => throw new IOException("disk full (simulated)");
        var e = Assert.Throws<TailorException>(() => target.ImportProject(fixture.ProjectFile, null, null, CancellationToken.None));
        Assert.Contains("disk full (simulated)", e.Message);
        AssertEmpty(target);
        target.AfterImportFilesMoved = null;
        var imported = target.ImportProject(fixture.ProjectFile, "again", null, CancellationToken.None);
        Assert.Equal("again", imported.Name);
        Assert.Equal(45, imported.Labels.Sum(l => l.TrainCount + l.TestCount));
    }

    [Fact]
    public void ImagesZip_ListsTrainAndTestPerLabel_WithIdNamedFiles_AndImportsBackToTheSameSets()
    {
        string file = fixture.TempFile("photos.zip");
        using (var output = File.Create(file)) Assert.Equal(45, Source.ExportImages(fixture.Project, output));
        var examples = AllExamples(Source, fixture.Project).ToList();
        using (var zip = ZipFile.OpenRead(file))
        {
            var expected = examples.Select(e => $"{(e.Set == ExampleSet.Train ? "train" : "test")}/{e.Label}/{e.Id}-{Path.GetFileNameWithoutExtension(e.OriginalName)}.jpg");
            Assert.Equal(expected.Order(StringComparer.Ordinal), zip.Entries.Select(e => e.FullName).Order(StringComparer.Ordinal));
        }
        using var target = Tailor.Studio.Workspace.Open(fixture.NewFolder());
        var project = target.ImportZip(file, null, null, null, CancellationToken.None, displayName: "photos.zip");
        Assert.Equal("photos", project.Name);
        Assert.Equal(examples.Select(e => (e.Sha256, e.Label, e.Set)).Order(), AllExamples(target, project.Id).Select(e => (e.Sha256, e.Label, e.Set)).Order());
    }

    [Fact]
    public void PhotosZip_InOneTopFolder_WithOrWithoutTrainAndTest_NewOrIntoAProject()
    {
        var photo = (string label, int seed) => TestImages.Png(Solid(seed));
        string split = MakeZip(("hands/train/rock/1.png", photo("rock", 1)), ("hands/train/paper/2.png", photo("paper", 2)),
            ("hands/test/rock/3.png", photo("rock", 3)), ("hands/.DS_Store", [1]), ("__MACOSX/hands/._1.png", [1]), ("hands/README.txt", [1]));
        using var target = Tailor.Studio.Workspace.Open(fixture.NewFolder());
        var reports = new List<ImportProgress>();
        var project = target.ImportZip(split, "split", null, new SyncProgress<ImportProgress>(reports.Add), CancellationToken.None);
        Assert.Equal(["paper", "rock"], project.Labels.Select(l => l.Name).Order(StringComparer.Ordinal));
        Assert.Equal((1, 1), project.Labels.Where(l => l.Name == "rock").Select(l => (l.TrainCount, l.TestCount)).Single());
        Assert.Equal((1, 0), project.Labels.Where(l => l.Name == "paper").Select(l => (l.TrainCount, l.TestCount)).Single());
        Assert.Equal(1, reports[^1].Refused);   // README.txt, not in a label folder under train/ or test/
        Assert.Contains("README.txt", reports[^1].LastRefusal);

        string flat = MakeZip(("rock/4.png", photo("rock", 4)), ("scissors/5.png", photo("scissors", 5)), ("scissors/notes.txt", Encoding.UTF8.GetBytes("hi")));
        reports.Clear();
        project = target.ImportZip(flat, null, project.Id, new SyncProgress<ImportProgress>(reports.Add), CancellationToken.None);
        Assert.Equal(["paper", "rock", "scissors"], project.Labels.Select(l => l.Name).Order(StringComparer.Ordinal));
        Assert.Equal((2, 1), project.Labels.Where(l => l.Name == "rock").Select(l => (l.TrainCount, l.TestCount)).Single());
        Assert.Equal((2, 1, 1), (reports[^1].Added, reports[^1].Refused, target.ListProjects().Count));
        Assert.Contains("notes.txt", reports[^1].LastRefusal);
        Assert.Contains("not an image", reports[^1].LastRefusal);
    }

    [Theory]
    [InlineData("../evil/x.png", "climbs out of the archive with '..'")]
    [InlineData("train/../../x.png", "climbs out of the archive with '..'")]
    [InlineData("/etc/x.png", "is an absolute path")]
    [InlineData("C:/x/y.png", "is an absolute path")]
    [InlineData("cat/x\0.png", "contains a NUL character")]
    public void PhotosZip_WithAHostileEntryName_IsRefusedNamingIt_BeforeAnythingIsWritten(string name, string why)
    {
        string zip = MakeZip(("cat/ok.png", TestImages.Png(Solid(1))), (name, TestImages.Png(Solid(2))));
        using var target = Tailor.Studio.Workspace.Open(fixture.NewFolder());
        var e = Assert.Throws<TailorException>(() => target.ImportZip(zip, null, null, null, CancellationToken.None, displayName: "evil.zip"));
        Assert.Contains($"'evil.zip' has an entry whose name {why}", e.Message);
        Assert.Contains(name.Replace("\0", "\\0", StringComparison.Ordinal), e.Message);
        AssertEmpty(target);
    }

    [Fact]
    public void PhotosZip_OverTheLimits_IsRefusedNamingTheLimit()
    {
        using var target = Tailor.Studio.Workspace.Open(fixture.NewFolder());
        var files = Enumerable.Range(0, 6).Select(i => ($"cat/{i}.png", TestImages.Png(Solid(i)))).ToArray();
        var e = Assert.Throws<TailorException>(() => target.ImportZip(MakeZip(files), null, null, null, CancellationToken.None,
            new ZipImportLimits { MaxEntries = 5 }, "many.zip"));
        Assert.Contains("'many.zip' has 6 entries; a zip of photos may have at most 5 (ZipImportLimits.MaxEntries)", e.Message);

        // A bomb: 20 MiB of zeros deflate to about 20 KiB.
        string bomb = MakeZip(("cat/ok.png", TestImages.Png(Solid(1))), ("cat/bomb.png", new byte[20 << 20]));
        e = Assert.Throws<TailorException>(() => target.ImportZip(bomb, null, null, null, CancellationToken.None, displayName: "bomb.zip"));
        Assert.Contains("'cat/bomb.png' in 'bomb.zip' expands", e.Message);
        Assert.Contains("(ZipImportLimits.MaxCompressionRatio): the archive looks like a zip bomb", e.Message);

        e = Assert.Throws<TailorException>(() => target.ImportZip(MakeZip(files), null, null, null, CancellationToken.None,
            new ZipImportLimits { MaxTotalBytes = files.Take(3).Sum(f => f.Item2.Length) }, "big.zip"));
        Assert.Contains("'big.zip' holds more than", e.Message);
        Assert.Contains("(ZipImportLimits.MaxTotalBytes)", e.Message);
        AssertEmpty(target);

        // One file over the per-file cap is refused; the others go on.
        var reports = new List<ImportProgress>();
        var noise = new Tailor.Images.RgbImage(64, 64);
        new Random(1).NextBytes(noise.Pixels);
        byte[] large = TestImages.Png(noise), small = TestImages.Png(Solid(3));
        Assert.True(large.Length > small.Length);
        var project = target.ImportZip(MakeZip(("cat/small.png", small), ("cat/large.png", large)), null, null,
            new SyncProgress<ImportProgress>(reports.Add), CancellationToken.None, new ZipImportLimits { MaxFileBytes = large.Length - 1 }, "mixed.zip");
        Assert.Equal(1, project.Labels.Single().TrainCount);
        Assert.Equal(1, reports[^1].Refused);
        Assert.Contains("cat/large.png", reports[^1].LastRefusal);
        Assert.Contains("(ZipImportLimits.MaxFileBytes", reports[^1].LastRefusal);
    }

    [Fact]
    public void SafeSegment_AndExportFileNames_NeverMakePathsOrCollide()
    {
        Assert.Equal("a_b_c", Tailor.Studio.Workspace.SafeSegment("a/b\\c"));
        Assert.Equal("_", Tailor.Studio.Workspace.SafeSegment(".."));
        Assert.Equal("_", Tailor.Studio.Workspace.SafeSegment(""));
        Assert.Equal("✌️", Tailor.Studio.Workspace.SafeSegment("✌️"));
        var example = new ExampleInfo(7, 1, "x", ExampleSet.Train, new string('a', 64), 1, 1, 1, "upload", "../../etc/passwd", false, null, DateTimeOffset.UnixEpoch);
        Assert.Equal("7-passwd.png", Tailor.Studio.Workspace.ExportFileName(example, "png"));
        Assert.Equal("8-camera.jpg", Tailor.Studio.Workspace.ExportFileName(example with { Id = 8, OriginalName = null, Source = "camera" }, "jpeg"));
        Assert.Equal("9-IMG.jpeg", Tailor.Studio.Workspace.ExportFileName(example with { Id = 9, OriginalName = "IMG.jpeg" }, "jpeg"));
    }

    // ---- helpers ----

    private static Tailor.Images.RgbImage Solid(int seed)
    {
        var image = new Tailor.Images.RgbImage(8, 8);
        var pixels = image.Pixels;
        for (int i = 0; i < pixels.Length; i++) pixels[i] = (byte)(seed * 37 + i);
        return image;
    }

    private string MakeZip(params (string Name, byte[] Bytes)[] files)
    {
        string path = fixture.TempFile("photos.zip");
        using var zip = ZipFile.Open(path, ZipArchiveMode.Create);
        foreach (var (name, bytes) in files)
        {
            using var s = zip.CreateEntry(name, CompressionLevel.Optimal).Open();
            s.Write(bytes);
        }
        return path;
    }

    private string RewriteManifest(string file, Action<System.Text.Json.Nodes.JsonObject> change)
    {
        string copy = fixture.TempFile("changed.tailor");
        File.Copy(file, copy);
        using var zip = ZipFile.Open(copy, ZipArchiveMode.Update);
        var entry = zip.GetEntry("manifest.json")!;
        System.Text.Json.Nodes.JsonObject manifest;
        using (var s = entry.Open()) manifest = System.Text.Json.Nodes.JsonNode.Parse(s)!.AsObject();
        change(manifest);
        entry.Delete();
        using var w = zip.CreateEntry("manifest.json").Open();
        JsonSerializer.Serialize(w, manifest);
        return copy;
    }

    /// <summary>No project, and no file in images/, thumbs/, models/ or bases/.</summary>
    private static void AssertEmpty(Tailor.Studio.Workspace ws)
    {
        Assert.Empty(ws.ListProjects());
        foreach (string sub in new[] { "images", "thumbs", "models", "bases" })
            Assert.Empty(Directory.GetFiles(Path.Combine(ws.Directory, sub), "*", SearchOption.AllDirectories));
    }
}
