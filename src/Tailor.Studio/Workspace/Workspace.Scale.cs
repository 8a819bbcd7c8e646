using Tailor.Features;
using Tailor.Spec;
using Tailor.Studio.Runs;

namespace Tailor.Studio;

public sealed partial class Workspace
{
    /// <summary>The most bytes the kept feature rows (<c>features/</c>) may take: 2 GiB — 5,000 photos' rows at the
    /// network's default cut (256×14×14 floats, 196 KiB each) take about 1 GiB, at the pooled features (512 floats) 10 MiB.
    /// Beyond it the rows of the fingerprint least recently written are removed first.</summary>
    public const long FeatureStoreMaxBytes = 2L << 30;

    private readonly Lock _featuresGate = new();
    private DirectoryFeatureStore? _features;

    private readonly Lock _specsGate = new();
    private readonly Dictionary<long, (long Version, UpdateSpec Spec)> _specs = [];

    /// <summary>The update spec of the project's current model version (its settings' allowed values, head, layers,
    /// preprocessing), without its labels. Kept per project for its current version: the model file (tens of MB) is parsed
    /// once per version, not on every screen that asks for the settings.</summary>
    /// <exception cref="TailorException">No such project, or it has no current version.</exception>
    public UpdateSpec CurrentSpec(long projectId)
    {
        long version = Read(() =>
        {
            string project = ProjectName(projectId, null);
            return Scalar<long?>("SELECT current_version FROM projects WHERE id = $p;", null, ("$p", projectId))
                ?? throw new TailorException($"Project '{Shown.Label(project)}' has no current model version.");
        });
        lock (_specsGate)
            if (_specs.TryGetValue(projectId, out var kept) && kept.Version == version) return kept.Spec;
        // Version ids are never reused (AUTOINCREMENT): a kept spec is never another model's. The model is let go, its spec kept.
        var spec = LoadModel(projectId, version).Spec;
        lock (_specsGate) _specs[projectId] = (version, spec);
        return spec;
    }

    /// <summary>The rows of the frozen prefix kept per (fingerprint, image) across runs, in <c>features/&lt;fingerprint&gt;/ab/&lt;sha256&gt;.f32</c>.
    /// Images are keyed by their content hash, which is their file name in <c>images/</c>.</summary>
    internal DirectoryFeatureStore Features
    {
        get
        {
            lock (_featuresGate)
                return _features ??= new DirectoryFeatureStore(FullPath("features"), FeatureStoreMaxBytes, ImageKey);
        }
    }

    /// <inheritdoc/>
    /// <remarks>Each fingerprint a project's runs use is recorded (table <c>feature_sets</c>); rows of fingerprints no
    /// project uses any more (its projects deleted) are removed when a run begins and when a project is deleted.</remarks>
    public IFeatureStore? FeatureStore(long projectId)
    {
        SweepFeatures();
        return new ProjectFeatures(this, projectId);
    }

    /// <summary>Removes the kept rows of every fingerprint no project has used.</summary>
    internal void SweepFeatures()
    {
        var used = Read(() => Query("SELECT DISTINCT fingerprint FROM feature_sets;", r => r.GetString(0)).ToHashSet(StringComparer.Ordinal));
        var store = Features;
        foreach (string fingerprint in store.Fingerprints())
            if (!used.Contains(fingerprint)) store.Delete(fingerprint);
    }

    private void UseFingerprint(long projectId, string fingerprint) => Write(transaction =>
        Execute("""
            INSERT INTO feature_sets (project, fingerprint, used) VALUES ($p, $f, $now)
            ON CONFLICT (project, fingerprint) DO UPDATE SET used = excluded.used;
            """, transaction, ("$p", projectId), ("$f", fingerprint), ("$now", Now())));

    /// <summary>The file name of a workspace image (its SHA-256); any other path (never given by the workspace) by its content.</summary>
    private string ImageKey(string path)
    {
        string images = FullPath("images") + Path.DirectorySeparatorChar;
        if (Path.GetFullPath(path).StartsWith(images, StringComparison.Ordinal)) return Path.GetFileName(path);
        using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(stream));
    }

    /// <summary>The workspace's store as one project's runs use it: records the fingerprints they use.</summary>
    private sealed class ProjectFeatures(Workspace workspace, long projectId) : IFeatureStore
    {
        private string? _recorded;

        public bool TryRead(string fingerprint, string imagePath, Span<float> row)
        {
            Record(fingerprint);
            return workspace.Features.TryRead(fingerprint, imagePath, row);
        }

        public void Write(string fingerprint, string imagePath, ReadOnlySpan<float> row)
        {
            Record(fingerprint);
            workspace.Features.Write(fingerprint, imagePath, row);
        }

        private void Record(string fingerprint)
        {
            if (_recorded == fingerprint) return;
            try
            {
                workspace.UseFingerprint(projectId, fingerprint);
                _recorded = fingerprint;
            }
            catch (Microsoft.Data.Sqlite.SqliteException)
            {
                // The project was deleted during the run: its rows go at the next sweep.
            }
        }
    }
}
