using Tailor.Data;
using Tailor.Features;
using Tailor.Heads;
using Tailor.Images;
using Tailor.Tests.Images;

namespace Tailor.Tests.Features;

/// <summary>The per-example feature store (<see cref="FeatureCacheOptions.Store"/>): a second build reads every row and
/// computes none, bit for bit what a fresh computation gives; another prefix, preprocessing or cut shares nothing; a short
/// or damaged row is computed again; augmented rows are read back only for the same augmentation, seed and position; the
/// heads' and the update task's options pass it through.</summary>
[Trait("Category", "Slow")]
public sealed class FeatureStoreTests : IDisposable
{
    private readonly TempFolder _dir = new();

    public void Dispose() => _dir.Dispose();

    private static UpdatableModel ClassifierOnly() =>
        Tailor.Building.ModelBuilder.Prepare(new Tailor.Building.PrepareOptions { Labels = ["✊", "✋", "✌️"], UpdatableLayers = ["classifier"] });

    private static List<string> Photos(int count) =>
        LabeledFolder.Scan(TestData.HandsTrain).Examples.Take(count).Select(e => e.Path).ToList();

    private static float[] AllRows(FeatureCache cache)
    {
        var rows = new float[cache.Rows * cache.RowLength];
        for (int r = 0; r < cache.Rows; r++) cache.Read(r, rows.AsSpan(r * cache.RowLength, cache.RowLength));
        return rows;
    }

    private static float[] Fresh(FeatureExtractor extractor, IReadOnlyList<string> paths)
    {
        var (cache, failures) = FeatureCache.Build(extractor, paths, AugmentationOptions.None, seed: 1);
        using (cache)
        {
            Assert.Empty(failures);
            return AllRows(cache);
        }
    }

    private (FeatureCache Cache, IReadOnlyList<FeatureCache.Failure> Failures) BuildWith(FeatureExtractor extractor, IReadOnlyList<string> paths, IFeatureStore store) =>
        FeatureCache.Build(extractor, paths, AugmentationOptions.None, seed: 1, new FeatureCacheOptions { Store = store });

    [Fact]
    public void SecondBuild_ReadsEveryRowFromTheStore_ComputesNone_AndGivesTheFreshRows()
    {
        var model = ClassifierOnly();
        var paths = Photos(5);
        var store = new DirectoryFeatureStore(_dir.File("store"));
        float[] fresh;
        using (var extractor = new FeatureExtractor(model, GraphCut.Compute(model)))
        {
            fresh = Fresh(extractor, paths);
            var (first, _) = BuildWith(extractor, paths, store);
            using (first)
            {
                Assert.Equal(5, first.RowsComputed);
                Assert.Equal(0, first.RowsFromStore);
                Assert.Equal(fresh, AllRows(first));
            }
            Assert.Equal(5, store.RowsWritten);
            Assert.Equal(5, Directory.GetFiles(Path.Combine(store.Directory, extractor.Fingerprint), "*.f32", SearchOption.AllDirectories).Length);
        }

        // Another extractor on another copy of the model (as the next training makes): the same fingerprint, every row read.
        var again = ClassifierOnly();
        using var second = new FeatureExtractor(again, GraphCut.Compute(again));
        var counting = new CountingStore(new DirectoryFeatureStore(_dir.File("store")));
        var (cache, failures) = BuildWith(second, paths.Append(Photos(6)[5]).ToList(), counting);
        using (cache)
        {
            Assert.Empty(failures);
            Assert.Equal(5, cache.RowsFromStore);
            Assert.Equal(1, cache.RowsComputed);
            Assert.Equal(1, counting.Writes);
            Assert.Equal(fresh, AllRows(cache).AsSpan(0, fresh.Length).ToArray());
        }
    }

    [Fact]
    public void AnotherCut_Preprocessing_OrPrefixWeight_GivesAnotherFingerprint_AndReusesNothing()
    {
        var paths = Photos(3);
        var store = new DirectoryFeatureStore(_dir.File("store"));
        var model = ClassifierOnly();
        string fingerprint;
        using (var extractor = new FeatureExtractor(model, GraphCut.Compute(model)))
        {
            fingerprint = extractor.Fingerprint;
            Assert.Matches("^[0-9a-f]{64}$", fingerprint);
            BuildWith(extractor, paths, store).Cache.Dispose();
        }

        // The default model fine-tunes the last convolution: its cut is that layer's input.
        var otherCut = Tailor.Building.ModelBuilder.Prepare(new Tailor.Building.PrepareOptions { Labels = ["✊", "✋", "✌️"] });
        // The same cut, images padded rather than stretched.
        var otherPreprocessing = ClassifierOnly();
        otherPreprocessing.SetSpec(otherPreprocessing.Spec with { Preprocessing = otherPreprocessing.Spec.Preprocessing with { Resize = Tailor.Spec.ResizeMode.Pad } });
        // The same cut and preprocessing, one weight of the frozen prefix changed (as fine-tuning a layer then cutting after it).
        var otherWeights = ClassifierOnly();
        string conv = otherWeights.Proto.Graph.Initializer.First(i => i.Dims.Count == 4).Name;
        var w = otherWeights.GetParameter(conv);
        w[0] += 0.5f;
        otherWeights.SetParameter(conv, w);

        var seen = new HashSet<string> { fingerprint };
        foreach (var other in new[] { otherCut, otherPreprocessing, otherWeights })
        {
            using var extractor = new FeatureExtractor(other, GraphCut.Compute(other));
            Assert.True(seen.Add(extractor.Fingerprint), "two different prefixes share a fingerprint");
            var (cache, _) = BuildWith(extractor, paths, store);
            using (cache)
            {
                Assert.Equal(0, cache.RowsFromStore);
                Assert.Equal(3, cache.RowsComputed);
                Assert.Equal(Fresh(extractor, paths), AllRows(cache));
            }
        }
        Assert.Equal(4, store.Fingerprints().Count);
    }

    [Fact]
    public void ShortOrDamagedRow_IsComputedAgain_NotTrusted()
    {
        var model = ClassifierOnly();
        var paths = Photos(4);
        var store = new DirectoryFeatureStore(_dir.File("store"));
        using var extractor = new FeatureExtractor(model, GraphCut.Compute(model));
        var fresh = Fresh(extractor, paths);
        BuildWith(extractor, paths, store).Cache.Dispose();
        var files = Directory.GetFiles(Path.Combine(store.Directory, extractor.Fingerprint), "*.f32", SearchOption.AllDirectories).Order().ToList();
        Assert.Equal(4, files.Count);

        // One cut short (a write torn by a power cut), one with a float changed (a flipped bit), one replaced by a row of
        // another length (another cut's row under this name), one left alone.
        using (var s = new FileStream(files[0], FileMode.Open)) s.SetLength(s.Length - 7);
        var bytes = File.ReadAllBytes(files[1]);
        bytes[100] ^= 0x10;
        File.WriteAllBytes(files[1], bytes);
        File.WriteAllBytes(files[2], File.ReadAllBytes(files[3]).AsSpan(0, 1000).ToArray());

        var (cache, failures) = BuildWith(extractor, paths, store);
        using (cache)
        {
            Assert.Empty(failures);
            Assert.Equal(1, cache.RowsFromStore);
            Assert.Equal(3, cache.RowsComputed);
            Assert.Equal(fresh, AllRows(cache));
        }
        // The damaged rows were written again: a third build reads all four.
        var (third, _) = BuildWith(extractor, paths, store);
        using (third) Assert.Equal(4, third.RowsFromStore);
    }

    private static float[] FreshAugmented(FeatureExtractor extractor, IReadOnlyList<string> paths, AugmentationOptions augmentation, int seed)
    {
        var (cache, failures) = FeatureCache.Build(extractor, paths, augmentation, seed);
        using (cache)
        {
            Assert.Empty(failures);
            return AllRows(cache);
        }
    }

    [Fact]
    public void AugmentedBuild_KeepsAnExamplesVariantsTogether_AndReadsThemBackOnlyForTheSameSeedAndPosition()
    {
        var model = ClassifierOnly();
        var paths = Photos(3);
        var augmentation = AugmentationOptions.Parse("flip,rotate:15,variants:2");
        using var extractor = new FeatureExtractor(model, GraphCut.Compute(model));
        var counting = new CountingStore(new DirectoryFeatureStore(_dir.File("store")));
        var options = new FeatureCacheOptions { Store = counting };
        float[] fresh = FreshAugmented(extractor, paths, augmentation, seed: 1);

        var (first, _) = FeatureCache.Build(extractor, paths, augmentation, seed: 1, options);
        using (first)
        {
            Assert.Equal((6, 0), (first.RowsComputed, first.RowsFromStore));
            Assert.Equal(fresh, AllRows(first));
        }
        Assert.Equal(3, counting.Writes);   // one entry per example: the photo's row and its variant's

        // The same photos, augmentation and seed (training again): every row read, bit for bit the computed ones.
        var (second, _) = FeatureCache.Build(extractor, paths, augmentation, seed: 1, options);
        using (second)
        {
            Assert.Equal((0, 6), (second.RowsComputed, second.RowsFromStore));
            Assert.Equal(fresh, AllRows(second));
        }

        // Another seed draws other variants: nothing read.
        var (reseeded, _) = FeatureCache.Build(extractor, paths, augmentation, seed: 2, options);
        using (reseeded)
        {
            Assert.Equal((6, 0), (reseeded.RowsComputed, reseeded.RowsFromStore));
            Assert.Equal(FreshAugmented(extractor, paths, augmentation, seed: 2), AllRows(reseeded));
        }
        Assert.NotEqual(fresh, FreshAugmented(extractor, paths, augmentation, seed: 2));

        // An augmented set bigger than AugmentedStoreMaxBytes (here 3 photos × 2 rows × 512 floats) is neither read nor kept.
        int touched = counting.Reads + counting.Writes;
        var (tooBig, _) = FeatureCache.Build(extractor, paths, augmentation, seed: 1, options with { AugmentedStoreMaxBytes = 3 * 2 * 512 * 4 - 1 });
        using (tooBig) Assert.Equal((6, 0), (tooBig.RowsComputed, tooBig.RowsFromStore));
        Assert.Equal(touched, counting.Reads + counting.Writes);

        // The list reversed: the middle photo keeps its position and is read; the two that moved are computed again.
        var reversed = paths.AsEnumerable().Reverse().ToList();
        var (moved, _) = FeatureCache.Build(extractor, reversed, augmentation, seed: 1, options);
        using (moved)
        {
            Assert.Equal((4, 2), (moved.RowsComputed, moved.RowsFromStore));
            Assert.Equal(FreshAugmented(extractor, reversed, augmentation, seed: 1), AllRows(moved));
        }
    }

    [Fact]
    public void AFullStore_DropsRowsInsteadOfGrowing()
    {
        var model = ClassifierOnly();
        var paths = Photos(3);
        using var extractor = new FeatureExtractor(model, GraphCut.Compute(model));
        // Room for two rows (512 floats + 40 bytes each): the third is dropped, and the folder stays within the bound.
        var small = new DirectoryFeatureStore(_dir.File("small"), maxBytes: 2 * (512 * 4 + 40));
        BuildWith(extractor, paths, small).Cache.Dispose();
        Assert.Equal(2, small.RowsWritten);
        Assert.True(small.Bytes <= small.MaxBytes);
        // A new fingerprint needing room pushes out the old one's rows.
        var other = Tailor.Building.ModelBuilder.Prepare(new Tailor.Building.PrepareOptions { Labels = ["a", "b"], UpdatableLayers = ["classifier"] });
        other.SetSpec(other.Spec with { Preprocessing = other.Spec.Preprocessing with { Resize = Tailor.Spec.ResizeMode.Pad } });
        using var otherExtractor = new FeatureExtractor(other, GraphCut.Compute(other));
        BuildWith(otherExtractor, paths[..1], small).Cache.Dispose();
        Assert.Equal([otherExtractor.Fingerprint], small.Fingerprints());
        Assert.True(small.Bytes <= small.MaxBytes);
    }

    [Fact]
    public void HeadsAndUpdateTask_PassTheStoreThrough()
    {
        var data = LabeledFolder.Scan(_dir.HandsSubset("data", ("✊", "✊", 2), ("✋", "✋", 2)));
        var store = new CountingStore(new DirectoryFeatureStore(_dir.File("store")));
        var cache = new FeatureCacheOptions { Store = store };
        HeadTrainer.TrainKnn(TwoLabels(), data, new KnnTrainingOptions { Cache = cache });
        Assert.Equal(4, store.Writes);
        HeadTrainer.TrainLogisticRegression(TwoLabels(), data, new LogisticRegressionTrainingOptions { Cache = cache });
        // The same cut (the pooled features) and the same prefix: logistic regression reads what k-NN computed.
        Assert.Equal(4, store.Hits);

        var model = TwoLabels();
        new Tailor.Training.UpdateTask(model, data, data, new Tailor.Training.TrainingOptions { Cache = cache, Epochs = 1, Augmentation = AugmentationOptions.None }).Run();
        // The training and the validation set are read from the store.
        Assert.Equal(4 + 8, store.Hits);
        // Augmented (the network's default): the training set's rows and variants are computed and kept, the validation
        // set read; a second run with the same seed reads both.
        new Tailor.Training.UpdateTask(TwoLabels(), data, data, new Tailor.Training.TrainingOptions { Cache = cache, Epochs = 1 }).Run();
        Assert.Equal(4 + 8 + 4, store.Hits);
        Assert.Equal(4 + 4, store.Writes);
        new Tailor.Training.UpdateTask(TwoLabels(), data, data, new Tailor.Training.TrainingOptions { Cache = cache, Epochs = 1 }).Run();
        Assert.Equal(4 + 8 + 4 + 8, store.Hits);
        Assert.Equal(4 + 4, store.Writes);
    }

    private static UpdatableModel TwoLabels() =>
        Tailor.Building.ModelBuilder.Prepare(new Tailor.Building.PrepareOptions { Labels = ["✊", "✋"], UpdatableLayers = ["classifier"] });

    private sealed class CountingStore(IFeatureStore inner) : IFeatureStore
    {
        public int Reads, Hits, Writes;

        public bool TryRead(string fingerprint, string imagePath, Span<float> row)
        {
            Reads++;
            bool hit = inner.TryRead(fingerprint, imagePath, row);
            if (hit) Hits++;
            return hit;
        }

        public void Write(string fingerprint, string imagePath, ReadOnlySpan<float> row)
        {
            Writes++;
            inner.Write(fingerprint, imagePath, row);
        }
    }
}
