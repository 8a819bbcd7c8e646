using System.Buffers.Binary;
using SkiaSharp;
using Tailor.Studio;
using Tailor.Studio.Runs;
using Tailor.Training;

namespace Tailor.Tests.Studio.Workspace;

/// <summary>Labels and examples: images stored by content hash (never a user's name), checked by content and declared size
/// before decoding, duplicates found, corrupt images marked and kept out of runs; labels renamed in their slot, deleted
/// freeing it; examples moved.</summary>
public sealed class WorkspaceExampleTests(WorkspaceFixture fixture) : IClassFixture<WorkspaceFixture>
{
    private Tailor.Studio.Workspace Ws => fixture.Workspace;

    private static string[] HandPhotos(string label) =>
        Directory.GetFiles(Path.Combine(TestData.HandsTrain, label)).Order(StringComparer.Ordinal).ToArray();

    private static MemoryStream Bytes(byte[] bytes) => new(bytes);

    private static byte[] Png(int width, int height)
    {
        using var bitmap = new SKBitmap(width, height);
        bitmap.Erase(new SKColor(200, 30, 30));
        using var data = bitmap.Encode(SKEncodedImageFormat.Png, 100);
        return data.ToArray();
    }



    private string[] FilesUnder(string sub) =>
        Directory.Exists(Path.Combine(fixture.Directory, sub))
            ? Directory.GetFiles(Path.Combine(fixture.Directory, sub), "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(fixture.Directory, f)).ToArray()
            : [];

    [Fact]
    public void SameBytesTwice_StoreOneFileNamedByTheirHash_AndTheSecondIsReportedAsADuplicate()
    {
        var project = fixture.NewProject();
        var label = Ws.AddLabel(project.Id, "✊");
        byte[] photo = File.ReadAllBytes(HandPhotos("✊")[0]);
        string hash = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(photo));

        var first = Ws.AddExample(project.Id, label.Id, ExampleSet.Train, Bytes(photo), "upload", "IMG_1.jpg");
        var second = Ws.AddExample(project.Id, label.Id, ExampleSet.Test, Bytes(photo), "upload", "copy of IMG_1.jpg");

        Assert.False(first.Duplicate);
        Assert.True(second.Duplicate);
        Assert.Equal(first.Example.Id, second.Example.Id);
        Assert.Equal(hash, first.Example.Sha256);
        Assert.Equal("IMG_1.jpg", first.Example.OriginalName);
        Assert.Equal(photo.Length, first.Example.Bytes);
        Assert.True(first.Example.Width > 0 && first.Example.Height > 0);
        Assert.Equal(1, Ws.ListExamples(project.Id, null, null, 0, 100).Total);
        Assert.Equal(photo, File.ReadAllBytes(Path.Combine(fixture.Directory, "images", hash[..2], hash)));
        Assert.Single(FilesUnder("images"), f => f.EndsWith(hash, StringComparison.Ordinal));

        // The thumbnail was made once, is a JPEG and at most 256 px a side.
        var (thumb, type) = Ws.OpenThumbnail(first.Example.Id);
        using (thumb)
        {
            Assert.Equal("image/jpeg", type);
            using var decoded = SKBitmap.Decode(thumb);
            Assert.True(Math.Max(decoded.Width, decoded.Height) <= Tailor.Studio.Workspace.ThumbnailSide);
            Assert.True(Math.Max(decoded.Width, decoded.Height) >= Tailor.Studio.Workspace.ThumbnailSide / 2);
        }
        var (image, imageType) = Ws.OpenImage(first.Example.Id);
        using (image)
        {
            Assert.Equal("image/jpeg", imageType);
            using var copy = new MemoryStream();
            image.CopyTo(copy);
            Assert.Equal(photo, copy.ToArray());
        }
    }

    [Fact]
    public void HostileLabelAndFileNames_NeverReachAPath()
    {
        var project = fixture.NewProject();
        string parent = Path.GetDirectoryName(fixture.Directory)!;
        var outside = Directory.GetFileSystemEntries(parent).Order().ToArray();
        var names = new[] { "../../etc/passwd", "a/b\\c:*?", "\u202Eevil\u202C.jpg", "..", "/" };
        var photos = HandPhotos("✋");
        for (int i = 0; i < names.Length; i++)
        {
            var label = Ws.AddLabel(project.Id, names[i]);
            Assert.Equal(names[i], label.Name);
            Ws.AddExample(project.Id, label.Id, ExampleSet.Train, Bytes(File.ReadAllBytes(photos[i])), "upload", "../../" + names[i]);
        }
        var nul = Assert.Throws<TailorException>(() => Ws.AddLabel(project.Id, "nul\0label"));
        Assert.Contains("control character (U+0000)", nul.Message);

        // Renaming to a hostile name writes only the model file.
        var first = Ws.GetProject(project.Id).Labels[0];
        Ws.RenameLabel(project.Id, first.Id, "../../../tmp/x\u202E");

        Assert.Equal(outside, Directory.GetFileSystemEntries(parent).Order().ToArray());
        var hex = new System.Text.RegularExpressions.Regex("^[0-9a-f]{64}$");
        foreach (string file in Directory.GetFiles(fixture.Directory, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(fixture.Directory, f)))
        {
            string[] parts = file.Split(Path.DirectorySeparatorChar);
            bool ok = parts switch
            {
                ["images", var ab, var name] => hex.IsMatch(name) && name[..2] == ab,
                ["thumbs", var ab, var name] => name.EndsWith(".jpg", StringComparison.Ordinal) && hex.IsMatch(name[..^4]) && name[..2] == ab,
                ["models", var name] => System.Text.RegularExpressions.Regex.IsMatch(name, "^[0-9]+\\.onnx$"),
                [var name] => name is "workspace.db" or "workspace.db-wal" or "workspace.db-shm" or "workspace.lock" or "workspace.owner",
                _ => false,
            };
            Assert.True(ok, $"unexpected file '{file}'");
        }
    }

    [Fact]
    public void ContentDecides_APngNamedJpgIsAPng_AndTextNamedJpgIsRefused()
    {
        var project = fixture.NewProject();
        var label = Ws.AddLabel(project.Id, "red");
        var png = Ws.AddExample(project.Id, label.Id, ExampleSet.Train, Bytes(Png(40, 30)), "upload", "photo.jpg");
        Assert.False(png.Example.Corrupt);
        Assert.Equal((40, 30), (png.Example.Width, png.Example.Height));
        Assert.Equal("image/png", Ws.OpenImage(png.Example.Id).ContentType);

        var e = Assert.Throws<TailorException>(() =>
            Ws.AddExample(project.Id, label.Id, ExampleSet.Train, Bytes("hello, I am not a picture"u8.ToArray()), "upload", "notes.jpg"));
        Assert.Contains("'notes.jpg'", e.Message);
        Assert.Contains("content", e.Message);
        Assert.Equal(1, Ws.ListExamples(project.Id, null, null, 0, 10).Total);
    }

    [Fact]
    public void AHeaderClaiming20000x20000Pixels_IsRefusedBeforeDecoding()
    {
        var project = fixture.NewProject();
        var label = Ws.AddLabel(project.Id, "big");
        byte[] bomb = Tailor.Tests.Images.TestImages.PngHeaderOnly(20000, 20000);
        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<TailorException>(() => Ws.AddExample(project.Id, label.Id, ExampleSet.Train, Bytes(bomb), "upload", "bomb.png"));
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Contains("20000×20000", e.Message);
        Assert.Contains("'bomb.png'", e.Message);
        // Decoding would take 20000 × 20000 × 4 bytes = 1.6 GB; the refusal allocates well under a megabyte.
        Assert.True(allocated < 1 << 20, $"allocated {allocated} bytes");
        Assert.Equal(0, Ws.ListExamples(project.Id, null, null, 0, 10).Total);
        string hash = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(bomb));
        Assert.DoesNotContain(FilesUnder("images"), f => f.EndsWith(hash, StringComparison.Ordinal));
    }

    [Fact]
    public void ATruncatedJpeg_IsStoredMarkedCorrupt_AndLeftOutOfLoadData()
    {
        var project = fixture.NewProject();
        var label = Ws.AddLabel(project.Id, "✌️");
        var photos = HandPhotos("✌️");
        byte[] whole = File.ReadAllBytes(photos[0]);
        byte[] truncated = whole[..(whole.Length / 2)];
        var good = Ws.AddExample(project.Id, label.Id, ExampleSet.Train, Bytes(File.ReadAllBytes(photos[1])), "upload", "good.jpg");
        var bad = Ws.AddExample(project.Id, label.Id, ExampleSet.Train, Bytes(truncated), "upload", "half.jpg");

        Assert.False(good.Example.Corrupt);
        Assert.True(bad.Example.Corrupt);
        Assert.Contains("truncated", bad.Example.CorruptReason);
        Assert.DoesNotContain(fixture.Directory, bad.Example.CorruptReason);
        Assert.Equal("image/svg+xml", Ws.OpenThumbnail(bad.Example.Id).ContentType);
        Assert.Equal(2, Ws.GetProject(project.Id).Labels.Single().TrainCount);

        var (train, test) = Ws.LoadData(project.Id);
        Assert.Null(test);
        var example = Assert.Single(train.Examples);
        Assert.EndsWith(good.Example.Sha256, example.Path);
        Assert.Equal("✌️", example.Label);
    }

    [Fact]
    public void AFileAboveTheCap_IsRefused()
    {
        var project = fixture.NewProject();
        var label = Ws.AddLabel(project.Id, "huge");
        var bytes = new byte[Tailor.Studio.Workspace.MaxUploadBytes + 1];
        bytes[0] = 0xFF; bytes[1] = 0xD8; bytes[2] = 0xFF;
        var e = Assert.Throws<TailorException>(() => Ws.AddExample(project.Id, label.Id, ExampleSet.Train, Bytes(bytes), "upload", "huge.jpg"));
        Assert.Contains("'huge.jpg' is larger than 25 MiB", e.Message);
        Assert.Contains("MaxUploadBytes", e.Message);
        Assert.Equal(0, Ws.ListExamples(project.Id, null, null, 0, 10).Total);
        // Exactly at the cap is read and judged by its content: a JPEG start and zeros, so a damaged JPEG, stored corrupt.
        var atCap = Ws.AddExample(project.Id, label.Id, ExampleSet.Train, Bytes(bytes[..^1]), "upload", "cap.jpg");
        Assert.True(atCap.Example.Corrupt);
        Assert.Equal(Tailor.Studio.Workspace.MaxUploadBytes, atCap.Example.Bytes);
    }

    [Fact]
    public void Rename_KeepsTheSlot_AndTheCurrentModelFileHasTheNewName()
    {
        var project = fixture.NewProject();
        var rock = Ws.AddLabel(project.Id, "rock");
        var paper = Ws.AddLabel(project.Id, "paper");
        var renamed = Ws.RenameLabel(project.Id, rock.Id, "🪨 stone");

        Assert.Equal(rock.Slot, renamed.Slot);
        Assert.Equal("🪨 stone", renamed.Name);
        var model = UpdatableModel.Load(Ws.ModelFile(Ws.GetProject(project.Id).CurrentVersionId!.Value));
        Assert.Equal("🪨 stone", model.Spec.Labels.Names[rock.Slot]);
        Assert.Equal("paper", model.Spec.Labels.Names[paper.Slot]);
        Assert.False(model.Spec.Labels.IsPlaceholder(rock.Slot));
        Assert.Equal(-1, model.Spec.Labels.IndexOf("rock"));

        var e = Assert.Throws<TailorException>(() => Ws.RenameLabel(project.Id, paper.Id, "🪨 stone"));
        Assert.Contains("already has a label '🪨 stone'", e.Message);
    }

    [Fact]
    public void DeleteLabel_DeletesItsExamples_AndFreesItsSlot()
    {
        var project = fixture.NewProject();
        var keep = Ws.AddLabel(project.Id, "keep");
        var gone = Ws.AddLabel(project.Id, "gone");
        byte[] photo = File.ReadAllBytes(HandPhotos("✋")[7]);
        string hash = Ws.AddExample(project.Id, gone.Id, ExampleSet.Train, Bytes(photo), "camera", null).Example.Sha256;
        Assert.Equal(fixture.Workspace.GetProject(project.Id).Capacity - 2, Ws.GetProject(project.Id).FreeSlots);

        Ws.DeleteLabel(project.Id, gone.Id);

        var after = Ws.GetProject(project.Id);
        Assert.Equal([keep.Id], after.Labels.Select(l => l.Id));
        Assert.Equal(after.Capacity - 1, after.FreeSlots);
        Assert.Equal(0, Ws.ListExamples(project.Id, null, null, 0, 10).Total);
        Assert.DoesNotContain(FilesUnder("images"), f => f.EndsWith(hash, StringComparison.Ordinal));
        var model = Ws.LoadModel(project.Id);
        Assert.True(model.Spec.Labels.IsPlaceholder(gone.Slot));
        Assert.Equal(gone.Slot, Ws.AddLabel(project.Id, "new").Slot);
    }

    [Fact]
    public void NoFreeSlot_IsAClearErrorWithTheCapacity()
    {
        var project = fixture.NewProject();
        for (int i = 0; i < project.Capacity; i++) Ws.AddLabel(project.Id, $"label {i}");
        var e = Assert.Throws<TailorException>(() => Ws.AddLabel(project.Id, "one too many"));
        Assert.Contains($"all {project.Capacity} slots", e.Message);
        Assert.Contains($"capacity {project.Capacity}", e.Message);
        Assert.Contains("'one too many'", e.Message);
    }

    [Fact]
    public void MoveExample_BetweenLabelsAndSets()
    {
        var project = fixture.NewProject();
        var a = Ws.AddLabel(project.Id, "a");
        var b = Ws.AddLabel(project.Id, "b");
        var example = Ws.AddExample(project.Id, a.Id, ExampleSet.Train, Bytes(File.ReadAllBytes(HandPhotos("✊")[3])), "paste", null).Example;

        var moved = Ws.MoveExample(project.Id, example.Id, b.Id, null);
        Assert.Equal((b.Id, "b", ExampleSet.Train), (moved.LabelId, moved.Label, moved.Set));
        moved = Ws.MoveExample(project.Id, example.Id, null, ExampleSet.Test);
        Assert.Equal((b.Id, ExampleSet.Test), (moved.LabelId, moved.Set));
        var labels = Ws.GetProject(project.Id).Labels;
        Assert.Equal((0, 0), (labels[0].TrainCount, labels[0].TestCount));
        Assert.Equal((0, 1), (labels[1].TrainCount, labels[1].TestCount));
        Assert.Equal(1, Ws.ListExamples(project.Id, b.Id, ExampleSet.Test, 0, 10).Total);
        Assert.Equal(0, Ws.ListExamples(project.Id, a.Id, null, 0, 10).Total);

        var other = fixture.NewProject();
        var foreign = Ws.AddLabel(other.Id, "elsewhere");
        var e = Assert.Throws<NotFoundException>(() => Ws.MoveExample(project.Id, example.Id, foreign.Id, null));
        Assert.Contains($"has no label {foreign.Id}", e.Message);
    }

    [Fact]
    public void ConcurrentUploads_OfTheSameBytes_AddEachImageOnce()
    {
        var project = fixture.NewProject();
        var label = Ws.AddLabel(project.Id, "many");
        var photos = HandPhotos("✊").Take(4).Select(File.ReadAllBytes).ToArray();
        var results = new AddResult[16];
        Parallel.For(0, 16, new ParallelOptions { MaxDegreeOfParallelism = 8 }, i =>
            results[i] = Ws.AddExample(project.Id, label.Id, ExampleSet.Train, Bytes(photos[i % 4]), "upload", $"{i}.jpg"));

        Assert.Equal(4, results.Count(r => !r.Duplicate));
        Assert.Equal(4, Ws.ListExamples(project.Id, label.Id, null, 0, 100).Total);
        Assert.Equal(4, results.Select(r => r.Example.Id).Distinct().Count());
    }

    [Fact]
    public void AddLabel_WritesItsNameIntoTheCurrentModelFile()
    {
        var project = fixture.NewProject();
        var label = Ws.AddLabel(project.Id, "👍 thumbs up");
        var model = UpdatableModel.Load(Ws.ModelFile(Ws.GetProject(project.Id).CurrentVersionId!.Value));
        Assert.Equal("👍 thumbs up", model.Spec.Labels.Names[label.Slot]);
        Assert.False(model.Spec.Labels.IsPlaceholder(label.Slot));
    }

    [Fact]
    public void RunIdsAreNeverReused_SoAProjectsEpochHistorySurvivesDeletingAnotherProject()
    {
        var a = fixture.NewProject();
        var b = fixture.NewProject();
        long runA = Ws.BeginRun(a.Id, new RunRequest());
        Ws.MakeCurrent(b.Id, Ws.GetProject(b.Id).CurrentVersionId!.Value);   // b's history starts after runA
        Ws.DeleteProject(a.Id);

        long runB = Ws.BeginRun(b.Id, new RunRequest());
        Assert.True(runB > runA);
        Ws.RecordEpoch(runB, new EpochRecord(1, 0.9, 0.8, 0.5, 0.7, 0.6, 0.001, 2));
        long version = Ws.CommitModel(b.Id, runB, Ws.LoadCurrentModel(b.Id));
        Assert.Equal(1, Assert.Single(Ws.PriorEpochs(b.Id)).Epoch);
        Assert.True(File.Exists(Ws.ModelFile(version)));
    }
}
