using Tailor.Data;
using Tailor.Features;
using Tailor.Images;
using Tailor.Tests.Images;

namespace Tailor.Tests.Features;

/// <summary>The cache of prefix outputs: in memory or spilled to disk, the same rows; seeded variants;
/// unreadable files reported; nothing left behind.</summary>
[Trait("Category", "Slow")]
public sealed class FeatureCacheTests : IDisposable
{
    private readonly TempFolder _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <summary>A model whose cut is the 512 pooled features (the default fine-tunes a convolution, whose
    /// input is 256×14×14).</summary>
    private static UpdatableModel ClassifierOnly() =>
        Tailor.Building.ModelBuilder.Prepare(new Tailor.Building.PrepareOptions { Labels = ["✊", "✋", "✌️"], UpdatableLayers = ["classifier"] });

    private static IReadOnlyList<string> Photos(int count) =>
        LabeledFolder.Scan(TestData.HandsTrain).Examples.Take(count).Select(e => e.Path).ToList();

    private static float[] AllRows(FeatureCache cache)
    {
        var rows = new float[cache.Rows * cache.RowLength];
        for (int r = 0; r < cache.Rows; r++) cache.Read(r, rows.AsSpan(r * cache.RowLength, cache.RowLength));
        return rows;
    }

    /// <summary>The studio runs the prefix on batches of 4 images to keep ONNX Runtime's activation memory down: the
    /// rows are those of the default batch, bit for bit (so the batch is a memory setting, not a result one).</summary>
    [Fact]
    public void BatchSize_ChangesNoRow_AndBelowOneIsRefusedNamingTheOption()
    {
        var model = ClassifierOnly();
        using var extractor = new FeatureExtractor(model, GraphCut.Compute(model));
        var paths = Photos(6);
        var augmentation = AugmentationOptions.Parse("flip,rotate:20,variants:2");

        var (whole, _) = FeatureCache.Build(extractor, paths, augmentation, seed: 5);
        var (small, _) = FeatureCache.Build(extractor, paths, augmentation, seed: 5, new FeatureCacheOptions { BatchSize = 4 });
        using (whole)
        using (small)
            Assert.Equal(AllRows(whole), AllRows(small));

        var e = Assert.Throws<TailorException>(() => new FeatureCacheOptions { BatchSize = 0 });
        Assert.Contains("FeatureCacheOptions.BatchSize = 0", e.Message);
    }

    [Fact]
    public void SpilledToDisk_GivesTheSameRowsAsInMemory_AndTheFileGoesAwayOnDispose()
    {
        var model = ClassifierOnly();
        using var extractor = new FeatureExtractor(model, GraphCut.Compute(model));
        var paths = Photos(3);
        var augmentation = AugmentationOptions.Parse("flip,rotate:20,variants:3");

        var (memory, f1) = FeatureCache.Build(extractor, paths, augmentation, seed: 5);
        float[] inMemory;
        using (memory)
        {
            Assert.False(memory.IsOnDisk);
            Assert.Empty(f1);
            Assert.Equal(9, memory.Rows);
            Assert.Equal(3, memory.Variants);
            Assert.Equal(512, memory.RowLength);
            inMemory = AllRows(memory);
        }

        string spill = Directory.CreateDirectory(Path.Combine(_dir.Path, "spill")).FullName;
        var (disk, f2) = FeatureCache.Build(extractor, paths, augmentation, seed: 5, new FeatureCacheOptions { MemoryLimitBytes = 0, Directory = spill });
        using (disk)
        {
            Assert.True(disk.IsOnDisk);
            Assert.Empty(f2);
            Assert.Single(Directory.GetFiles(spill));
            Assert.Equal(inMemory, AllRows(disk));
        }
        Assert.Empty(Directory.GetFiles(spill));

        // Variant 0 is the photo as it is; the augmented variants see other pixels, so other features.
        var row0 = inMemory.AsSpan(0, 512).ToArray();
        Assert.NotEqual(row0, inMemory.AsSpan(512, 512).ToArray());
        Assert.NotEqual(row0, inMemory.AsSpan(1024, 512).ToArray());
        // And a different seed draws different variants but the same originals.
        var (other, _) = FeatureCache.Build(extractor, paths, augmentation, seed: 6);
        using (other)
        {
            var rows = AllRows(other);
            Assert.Equal(row0, rows.AsSpan(0, 512).ToArray());
            Assert.NotEqual(inMemory.AsSpan(512, 512).ToArray(), rows.AsSpan(512, 512).ToArray());
        }
    }

    [Fact]
    public void UnreadableFile_IsReportedWithItsIndexAndPath_AndProgressReachesTheTotal()
    {
        var model = ClassifierOnly();
        using var extractor = new FeatureExtractor(model, GraphCut.Compute(model));
        string bad = _dir.File("bad.jpg");
        File.WriteAllBytes(bad, [0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10]); // a JPEG header and nothing else
        var paths = new List<string>(Photos(2)) { bad };
        var reports = new List<FeatureProgress>();

        var (cache, failures) = FeatureCache.Build(extractor, paths, AugmentationOptions.None, seed: 1, progress: new SyncProgress(reports.Add));
        using (cache)
        {
            var failure = Assert.Single(failures);
            Assert.Equal(2, failure.Example);
            Assert.Equal(bad, failure.Path);
            Assert.Contains("bad.jpg", failure.Reason);
            var rows = AllRows(cache);
            Assert.All(rows.AsSpan(2 * 512, 512).ToArray(), v => Assert.Equal(0f, v));
            Assert.Contains(rows.AsSpan(0, 512).ToArray(), v => v != 0);
        }
        Assert.Equal(new FeatureProgress(3, 3), reports[^1]);
    }

    [Fact]
    public void Cancelled_Build_Throws_AndLeavesNoSpillFile()
    {
        var model = ClassifierOnly();
        using var extractor = new FeatureExtractor(model, GraphCut.Compute(model));
        string spill = Directory.CreateDirectory(Path.Combine(_dir.Path, "cancelled")).FullName;
        using var cts = new CancellationTokenSource();
        cts.Cancel();
        Assert.ThrowsAny<OperationCanceledException>(() =>
            FeatureCache.Build(extractor, Photos(2), AugmentationOptions.None, 1, new FeatureCacheOptions { MemoryLimitBytes = 0, Directory = spill }, null, cts.Token));
        Assert.Empty(Directory.GetFiles(spill));
    }

    private sealed class SyncProgress(Action<FeatureProgress> report) : IProgress<FeatureProgress>
    {
        public void Report(FeatureProgress value) => report(value);
    }
}
