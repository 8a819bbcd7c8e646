namespace Tailor.Images;

/// <summary>What happened to one file of a batch: it was loaded into its slot, or it failed and
/// <see cref="Error"/> says why in plain words (the same message a single load would throw).</summary>
/// <param name="Path">The file, as it was given.</param>
/// <param name="Index">Its position in the batch (and its slot in the batch buffer).</param>
/// <param name="Error">Null when the file was loaded; otherwise the reason it was not (its slot is zero-filled).</param>
public sealed record ImageLoadResult(string Path, int Index, string? Error)
{
    /// <summary>True when the file was decoded and written into its slot.</summary>
    public bool Succeeded => Error is null;
}
