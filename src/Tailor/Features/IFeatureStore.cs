namespace Tailor.Features;

/// <summary>
/// Keeps one feature row per (prefix fingerprint, image) across trainings: <see cref="FeatureCache.Build"/> reads the
/// rows it holds instead of running the frozen prefix again (<see cref="FeatureCacheOptions.Store"/>).
/// </summary>
/// <remarks>A store is a cache: a row it cannot give back exactly (absent, short, damaged) is reported as absent and
/// computed again, and a row it cannot keep (disk full, over its size limit) is dropped. Neither may throw for such
/// reasons. Implementations are called from one thread at a time per build.</remarks>
public interface IFeatureStore
{
    /// <summary>Fills <paramref name="row"/> (exactly its length in floats) with the row kept for the image at
    /// <paramref name="imagePath"/> under <paramref name="fingerprint"/> (<see cref="FeatureExtractor.Fingerprint"/>);
    /// false when there is none, or what is kept is not exactly one such row.</summary>
    bool TryRead(string fingerprint, string imagePath, Span<float> row);

    /// <summary>Keeps <paramref name="row"/> for the image at <paramref name="imagePath"/> under
    /// <paramref name="fingerprint"/>.</summary>
    void Write(string fingerprint, string imagePath, ReadOnlySpan<float> row);
}
