using System.Runtime.InteropServices;
using Tailor.Images;

namespace Tailor.Features;

/// <summary>Progress of feature extraction: images done out of the total (variants included).</summary>
public readonly record struct FeatureProgress(int Done, int Total);

/// <summary>
/// The frozen prefix's output for every training example (and each of its augmented variants), computed
/// once with ONNX Runtime and reused every epoch. Rows live in memory up to
/// <see cref="FeatureCacheOptions.MemoryLimitBytes"/>; beyond that they spill to a temporary file that is
/// read back row by row (and deleted on dispose).
/// </summary>
/// <remarks>Row <c>r = example × Variants + variant</c>. Variant 0 is always the image as it is; variants
/// 1…K−1 are augmented copies drawn by <see cref="Augmenter"/> from (seed, example, variant), so the same
/// seed gives the same cache.</remarks>
public sealed class FeatureCache : IDisposable
{
    private readonly float[]? _memory;
    private readonly FileStream? _file;
    private readonly string? _filePath;

    private readonly int[] _segmentOffsets;

    private FeatureCache(int rows, IReadOnlyList<int> segmentLengths, int variants, long memoryLimit, string? directory)
    {
        Rows = rows;
        SegmentLengths = [.. segmentLengths];
        _segmentOffsets = new int[segmentLengths.Count];
        for (int s = 1; s < _segmentOffsets.Length; s++) _segmentOffsets[s] = _segmentOffsets[s - 1] + segmentLengths[s - 1];
        int rowLength = segmentLengths.Sum();
        RowLength = rowLength;
        Variants = variants;
        long bytes = (long)rows * rowLength * sizeof(float);
        if (bytes <= memoryLimit)
            _memory = new float[(long)rows * rowLength];
        else
        {
            _filePath = Path.Combine(directory ?? Path.GetTempPath(), $"tailor-features-{Environment.ProcessId}-{Guid.NewGuid():N}.bin");
            _file = new FileStream(_filePath, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, 1 << 16, FileOptions.DeleteOnClose | FileOptions.RandomAccess);
            _file.SetLength(bytes);
        }
    }

    /// <summary>Rows (examples × variants).</summary>
    public int Rows { get; }

    /// <summary>Floats per row (all cut tensors of one example, concatenated).</summary>
    public int RowLength { get; }

    /// <summary>Floats of each cut tensor within a row (<see cref="FeatureExtractor.Lengths"/>): a row is these
    /// segments back to back, in the order of <see cref="GraphCut.CutTensors"/>.</summary>
    public IReadOnlyList<int> SegmentLengths { get; }

    /// <summary>Variants per example (1 without augmentation).</summary>
    public int Variants { get; }

    /// <summary>True when the rows are in a temporary file rather than in memory.</summary>
    public bool IsOnDisk => _file is not null;

    /// <summary>Copies row <paramref name="row"/> into <paramref name="destination"/>.</summary>
    public void Read(int row, Span<float> destination)
    {
        if (_memory is not null)
            _memory.AsSpan((int)((long)row * RowLength), RowLength).CopyTo(destination);
        else
            RandomAccess.Read(_file!.SafeFileHandle, MemoryMarshal.AsBytes(destination[..RowLength]), (long)row * RowLength * sizeof(float));
    }

    /// <summary>Copies segment <paramref name="segment"/> (one cut tensor) of row <paramref name="row"/> into
    /// <paramref name="destination"/>: a training batch reads each cut tensor straight into its graph input.</summary>
    public void Read(int row, int segment, Span<float> destination)
    {
        int length = SegmentLengths[segment];
        long start = (long)row * RowLength + _segmentOffsets[segment];
        if (_memory is not null)
            _memory.AsSpan((int)start, length).CopyTo(destination);
        else
            RandomAccess.Read(_file!.SafeFileHandle, MemoryMarshal.AsBytes(destination[..length]), start * sizeof(float));
    }

    private void Write(int row, ReadOnlySpan<float> values)
    {
        if (_memory is not null)
            values.CopyTo(_memory.AsSpan((int)((long)row * RowLength), RowLength));
        else
            RandomAccess.Write(_file!.SafeFileHandle, MemoryMarshal.AsBytes(values), (long)row * RowLength * sizeof(float));
    }

    /// <summary>An in-memory cache of <paramref name="values"/> (rows × the segments' total length), one variant per
    /// example: features that did not come from a prefix (benchmarks of the training step).</summary>
    internal static FeatureCache InMemory(IReadOnlyList<int> segmentLengths, ReadOnlySpan<float> values)
    {
        int rowLength = segmentLengths.Sum();
        var cache = new FeatureCache(values.Length / rowLength, segmentLengths, 1, long.MaxValue, null);
        for (int r = 0; r < cache.Rows; r++) cache.Write(r, values.Slice(r * rowLength, rowLength));
        return cache;
    }

    /// <summary>Overwrites rows from <paramref name="firstRow"/> on with <paramref name="values"/> (whole rows back to back).</summary>
    internal void WriteRows(int firstRow, ReadOnlySpan<float> values)
    {
        for (int r = 0; r < values.Length / RowLength; r++) Write(firstRow + r, values.Slice(r * RowLength, RowLength));
    }

    /// <summary>A failure to read one example.</summary>
    public sealed record Failure(int Example, string Path, string Reason);

    /// <summary>Rows read from <see cref="FeatureCacheOptions.Store"/> rather than computed by the prefix.</summary>
    public int RowsFromStore { get; private set; }

    /// <summary>Rows the prefix computed (examples read from the store and unreadable ones excluded).</summary>
    public int RowsComputed { get; private set; }

    /// <summary>
    /// Decodes each image (and its augmented variants) on all cores, runs the prefix in batches and
    /// stores the rows; the next batch is decoded while the prefix runs on the current one. Unreadable images
    /// are returned as failures; their rows stay zero. Rows <see cref="FeatureCacheOptions.Store"/> holds for an example
    /// (see there) are read instead of computed, and every example computed is written to it.
    /// </summary>
    public static (FeatureCache Cache, IReadOnlyList<Failure> Failures) Build(
        FeatureExtractor extractor, IReadOnlyList<string> paths, AugmentationOptions augmentation, int seed,
        FeatureCacheOptions? options = null, IProgress<FeatureProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        options ??= new FeatureCacheOptions();
        int variants = VariantsFor(augmentation);
        var cache = new FeatureCache(paths.Count * variants, extractor.Lengths, variants, options.MemoryLimitBytes, options.Directory);
        var failures = new List<Failure>();
        Task? decoding = null;
        try
        {
            // The examples to compute: all of them, or (with a store) those the store does not hold. Un-augmented, a
            // photo's row is kept under the extractor's fingerprint. Augmented, an example's rows (the photo and its
            // variants) are kept together under a fingerprint that also names the augmentation and the seed, headed by
            // the example's position: a variant is drawn from (seed, position, variant), so rows kept for the photo at
            // another position are not this example's (they are computed again, and replace them).
            // An augmented set bigger than AugmentedStoreMaxBytes is not kept: it would push other rows out of a bounded store.
            var store = variants == 1 || (long)paths.Count * variants * extractor.FeatureLength * sizeof(float) <= options.AugmentedStoreMaxBytes
                ? options.Store : null;
            string? storeFingerprint = store is null ? null
                : variants == 1 ? extractor.Fingerprint : AugmentedFingerprint(extractor.Fingerprint, augmentation, seed, variants);
            int featureLength = extractor.FeatureLength, storedHeader = variants == 1 ? 0 : 1;
            var stored = store is null ? [] : new float[storedHeader + variants * featureLength];
            var todo = new List<int>(paths.Count);
            if (store is null)
                for (int i = 0; i < paths.Count; i++) todo.Add(i);
            else
            {
                for (int i = 0; i < paths.Count; i++)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    if (store.TryRead(storeFingerprint!, paths[i], stored) && (variants == 1 || BitConverter.SingleToInt32Bits(stored[0]) == i)
                        && AllFinite(stored.AsSpan(storedHeader)))
                    {
                        for (int v = 0; v < variants; v++)
                            cache.Write(i * variants + v, stored.AsSpan(storedHeader + v * featureLength, featureLength));
                        cache.RowsFromStore += variants;
                    }
                    else todo.Add(i);
                }
            }
            var augmenter = variants > 1 ? new Augmenter(augmentation, seed) : null;
            var pre = extractor.Model.Spec.Preprocessing;
            int imageLength = extractor.ImageLength;
            int examplesPerBatch = Math.Max(1, options.BatchSize / variants);
            // Two image buffers: the next batch is decoded while ONNX Runtime runs the prefix on this one.
            var images = new[] { new float[examplesPerBatch * variants * imageLength], new float[examplesPerBatch * variants * imageLength] };
            var errors = new[] { new string?[examplesPerBatch], new string?[examplesPerBatch] };
            var features = new float[examplesPerBatch * variants * extractor.FeatureLength];
            int total = paths.Count * variants, done = cache.RowsFromStore;
            if (done > 0) progress?.Report(new FeatureProgress(done, total));
            var parallel = new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount, CancellationToken = cancellationToken };

            void Decode(int start, int buffer)
            {
                int count = Math.Min(examplesPerBatch, todo.Count - start);
                float[] batch = images[buffer];
                string?[] batchErrors = errors[buffer];
                Parallel.For(0, count, parallel, i =>
                {
                    batchErrors[i] = null;
                    string path = paths[todo[start + i]];
                    try
                    {
                        if (variants == 1)
                        {
                            ImageLoader.LoadInto(path, pre, batch.AsSpan(i * imageLength, imageLength));
                            return;
                        }
                        // Decoded only as large as augmentation needs (a 12 MP JPEG at 1/4 for a 224 input), brought to
                        // the working size (2× the input), and augmented there, never at camera resolution.
                        using RgbImage image = ImageLoader.Load(path, pre);
                        ImageLoader.LoadInto(image, pre, batch.AsSpan(i * variants * imageLength, imageLength));
                        var working = ImageLoader.ToWorkingSize(image, pre);
                        try
                        {
                            for (int v = 1; v < variants; v++)
                            {
                                using var augmented = augmenter!.Apply(working, todo[start + i], v);
                                ImageLoader.LoadInto(augmented, pre, batch.AsSpan((i * variants + v) * imageLength, imageLength));
                            }
                        }
                        finally
                        {
                            if (!ReferenceEquals(working, image)) working.Dispose();
                        }
                    }
                    catch (TailorException e)
                    {
                        batchErrors[i] = e.Message;
                        batch.AsSpan(i * variants * imageLength, variants * imageLength).Clear();
                    }
                });
            }

            if (todo.Count > 0) decoding = Task.Run(() => Decode(0, 0), cancellationToken);
            for (int start = 0, buffer = 0; start < todo.Count; start += examplesPerBatch, buffer ^= 1)
            {
                decoding!.GetAwaiter().GetResult();
                decoding = null;
                cancellationToken.ThrowIfCancellationRequested();
                int count = Math.Min(examplesPerBatch, todo.Count - start), next = start + examplesPerBatch;
                if (next < todo.Count)
                {
                    int nextBuffer = buffer ^ 1;
                    decoding = Task.Run(() => Decode(next, nextBuffer), cancellationToken);
                }
                extractor.Extract(images[buffer], count * variants, features);
                for (int i = 0; i < count; i++)
                {
                    int example = todo[start + i];
                    if (errors[buffer][i] is { } error) { failures.Add(new Failure(example, paths[example], error)); continue; }
                    for (int v = 0; v < variants; v++)
                        cache.Write(example * variants + v, features.AsSpan((i * variants + v) * extractor.FeatureLength, extractor.FeatureLength));
                    cache.RowsComputed += variants;
                    if (store is null) continue;
                    if (variants > 1) stored[0] = BitConverter.Int32BitsToSingle(example);
                    features.AsSpan(i * variants * featureLength, variants * featureLength).CopyTo(stored.AsSpan(storedHeader));
                    store.Write(storeFingerprint!, paths[example], stored);
                }
                done += count * variants;
                progress?.Report(new FeatureProgress(done, total));
            }
            return (cache, failures);
        }
        catch
        {
            // A decode still running would write into buffers nobody reads; let it finish (it stops at cancellation).
            try { decoding?.Wait(CancellationToken.None); } catch (AggregateException) { }
            cache.Dispose();
            throw;
        }
    }

    /// <summary>A stored row with a NaN or an infinity is not trusted (the prefix never gives one for a readable image).</summary>
    private static bool AllFinite(ReadOnlySpan<float> row)
    {
        foreach (float v in row)
            if (!float.IsFinite(v)) return false;
        return true;
    }

    /// <summary>A cache holding this one's rows, then <paramref name="examples"/> more examples of
    /// <see cref="Variants"/> rows each, filled by <paramref name="readExample"/>(example, destination of
    /// Variants × RowLength floats) — the kept examples a training replays. This cache is disposed.</summary>
    internal FeatureCache Append(int examples, Action<int, Span<float>> readExample, FeatureCacheOptions? options = null)
    {
        options ??= new FeatureCacheOptions();
        var combined = new FeatureCache(Rows + examples * Variants, SegmentLengths, Variants, options.MemoryLimitBytes, options.Directory);
        try
        {
            var buffer = new float[Variants * RowLength];
            for (int r = 0; r < Rows; r++)
            {
                Read(r, buffer);
                combined.Write(r, buffer.AsSpan(0, RowLength));
            }
            for (int e = 0; e < examples; e++)
            {
                readExample(e, buffer);
                for (int v = 0; v < Variants; v++)
                    combined.Write(Rows + e * Variants + v, buffer.AsSpan(v * RowLength, RowLength));
            }
        }
        catch
        {
            combined.Dispose();
            throw;
        }
        Dispose();
        return combined;
    }

    /// <summary>Variants per example: 1 without augmentation; with transforms, <c>variants:K</c> or 4 when
    /// K is left at 1 (one variant would be the original alone, i.e. no augmentation).</summary>
    /// <summary>Bump when the augmentation code changes what a (seed, position, variant) draws: augmented rows kept in a
    /// store under the old fingerprint are then not read.</summary>
    private const int AugmentedRowsVersion = 1;

    /// <summary>The store's key for augmented rows: the extractor's fingerprint, the augmentation, the seed and the variant
    /// count (64 lowercase hex digits).</summary>
    internal static string AugmentedFingerprint(string fingerprint, AugmentationOptions augmentation, int seed, int variants) =>
        Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(
            string.Create(System.Globalization.CultureInfo.InvariantCulture,
                $"{fingerprint}\naugmented v{AugmentedRowsVersion}\n{augmentation}\nseed {seed}\nvariants {variants}"))));

    public static int VariantsFor(AugmentationOptions augmentation) =>
        augmentation.IsIdentity ? 1 : augmentation.VariantsPerExample > 1 ? augmentation.VariantsPerExample : 4;

    public void Dispose() => _file?.Dispose();
}

/// <summary>Where the feature cache lives.</summary>
public sealed record FeatureCacheOptions
{
    /// <summary>Rows beyond this many bytes go to a temporary file. Default 1 GiB.</summary>
    public long MemoryLimitBytes { get; init; } = 1L << 30;

    /// <summary>Folder for the temporary file. Default: the system temp folder.</summary>
    public string? Directory { get; init; }

    /// <summary>Rows kept across trainings (null: none). Without augmentation, <see cref="FeatureCache.Build"/> reads
    /// each example's row from here when the store holds it for the extractor's <see cref="FeatureExtractor.Fingerprint"/>
    /// and the image, and writes each row it computes — so training again after adding 10 photos runs the prefix on
    /// those 10. With augmentation, an example's rows (the photo's and its variants') are kept together under a
    /// fingerprint that also names the augmentation and the seed, and read back only for the same position in the list
    /// of examples (each variant is drawn from the seed, the position and the variant number): training again on the
    /// same photos reads them all; a photo whose position moved is computed again. See <see cref="DirectoryFeatureStore"/>.</summary>
    public IFeatureStore? Store { get; init; }

    /// <summary>With augmentation, rows go to <see cref="Store"/> only when all the examples' rows and variants take at
    /// most this many bytes: a bigger augmented set (thousands of photos × four variants of a fine-tuning cut's 200 KB
    /// rows) would push every other row out of a bounded store. Default 1 GiB, half of
    /// <see cref="DirectoryFeatureStore"/>'s default bound; 0 keeps no augmented rows.</summary>
    public long AugmentedStoreMaxBytes { get; init; } = 1L << 30;

    /// <summary>Images per ONNX Runtime run of the prefix (an example's augmented variants go in the same run, so a
    /// run holds at least one example's). ONNX Runtime's activation memory grows with it: on ResNet18 the default, 16, peaks
    /// about 160 MB above 4, at much the same speed on a CPU. Default 16.</summary>
    /// <exception cref="TailorException">Set below 1.</exception>
    public int BatchSize
    {
        get;
        init => field = value >= 1 ? value : throw new TailorException($"FeatureCacheOptions.BatchSize = {value}: give at least 1 image per ONNX Runtime run.");
    } = 16;
}
