using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using Tailor.Data;

namespace Tailor.Features;

/// <summary>
/// Training examples kept beside a model as the cut features training read (<c>MODEL.examples</c>), so a later
/// training can replay them and a label can be added with only its own photos (DESIGN decision 8).
/// </summary>
/// <remarks>
/// <para>A sidecar file rather than part of the ONNX model: plain ONNX Runtime reads every byte of a model it
/// loads, and these features are large (a fine-tuned ResNet18 convolution reads 256×14×14 floats, 200 kB, per
/// photo and augmented variant: 24 MB for the 30 hands photos × 4 variants) — an app that only predicts should
/// not carry them; an initializer no node uses makes ONNX Runtime warn, and a metadata string would be
/// base64. Apart, the file is also easy to leave out when the model is shipped: the features are derived from
/// the user's photos.</para>
/// <para>Layout (little-endian): "TAILORKX", version (int32), the feature fingerprint and the cut's description
/// (length-prefixed UTF-8), floats per variant, variants per example, example count; per example its label,
/// the SHA-256 of its file (so a photo given again is not replayed twice) and its path; then every example's
/// variants as float32 rows. Written by <see cref="AtomicFile"/>.</para>
/// <para>The file is replayed only when it matches the model: its fingerprint must equal the cut's
/// (<see cref="FeatureExtractor.Fingerprint"/>: the same frozen prefix, weights, preprocessing and cut), and its
/// labels and counts must equal the model's <see cref="Spec.UpdateSpec.TrainedExamples"/> (the model was not
/// retrained or prepared again since the file was written).</para>
/// </remarks>
internal sealed class KeptExamples
{
    private static ReadOnlySpan<byte> Magic => "TAILORKX"u8;
    private const int Version = 1;

    /// <summary>One kept example: its label, the SHA-256 of its file (hex) and where it was read from.</summary>
    internal sealed record Entry(string Label, string Hash, string Source);

    private KeptExamples(string path, string fingerprint, string cut, int rowLength, int variants, IReadOnlyList<Entry> entries, long dataOffset)
    {
        Path = path;
        Fingerprint = fingerprint;
        Cut = cut;
        RowLength = rowLength;
        Variants = variants;
        Entries = entries;
        _dataOffset = dataOffset;
    }

    private readonly long _dataOffset;

    public string Path { get; }

    public string Fingerprint { get; }

    /// <summary>The cut tensors and their shapes, as <see cref="FeatureExtractor.Description"/> gave them.</summary>
    public string Cut { get; }

    public int RowLength { get; }

    public int Variants { get; }

    public IReadOnlyList<Entry> Entries { get; }

    /// <summary>Examples per label, labels in first-seen order.</summary>
    public IReadOnlyDictionary<string, int> Counts
    {
        get
        {
            var counts = new Dictionary<string, int>();
            foreach (var e in Entries) counts[e.Label] = counts.GetValueOrDefault(e.Label) + 1;
            return counts;
        }
    }

    /// <summary>The conventional place of a model's kept examples: <c>MODEL.examples</c>.</summary>
    public static string PathFor(string modelPath) => modelPath + ".examples";

    /// <summary>SHA-256 of a file's bytes (hex), or null when it cannot be read.</summary>
    public static string? HashFile(string path)
    {
        if (RegularFile.SpecialKind(path) is not null) return null;   // a pipe would block; the loader reports it
        try
        {
            using var stream = File.OpenRead(path);
            return Convert.ToHexStringLower(SHA256.HashData(stream));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>Reads the header (not the features).</summary>
    /// <exception cref="TailorException">A missing, truncated or foreign file.</exception>
    public static KeptExamples Open(string path)
    {
        if (!File.Exists(path))
            throw new TailorException($"The kept examples '{path}' do not exist; a training with KeepExamplesPath set writes them.");
        RegularFile.Check(path, "a file of kept examples");
        try
        {
            using var stream = File.OpenRead(path);
            using var reader = new BinaryReader(stream, Encoding.UTF8);
            Span<byte> magic = stackalloc byte[8];
            if (stream.Read(magic) != 8 || !magic.SequenceEqual(Magic))
                throw new TailorException($"'{path}' is not a file of kept examples (it does not start with TAILORKX).");
            int version = reader.ReadInt32();
            if (version != Version)
                throw new TailorException($"'{path}' holds kept examples in format version {version}; this Tailor reads version {Version}.");
            string fingerprint = reader.ReadString(), cut = reader.ReadString();
            int rowLength = reader.ReadInt32(), variants = reader.ReadInt32(), count = reader.ReadInt32();
            if (rowLength < 1 || variants < 1 || count < 0)
                throw new TailorException($"'{path}' is damaged: {count} examples of {variants} variants of {rowLength} floats.");
            var entries = new Entry[count];
            for (int i = 0; i < count; i++) entries[i] = new Entry(reader.ReadString(), reader.ReadString(), reader.ReadString());
            long offset = stream.Position, expected = offset + (long)count * variants * rowLength * sizeof(float);
            if (stream.Length != expected)
                throw new TailorException($"'{path}' is truncated or damaged: {stream.Length} bytes where {count} kept examples take {expected}.");
            return new KeptExamples(path, fingerprint, cut, rowLength, variants, entries, offset);
        }
        catch (EndOfStreamException e)
        {
            throw new TailorException($"'{path}' is truncated: its header ends early.", e);
        }
        catch (IOException e)
        {
            throw new TailorException($"'{path}' cannot be read: {e.Message}", e);
        }
    }

    /// <summary>Checks that the file can be replayed into <paramref name="extractor"/>'s cut of a model whose
    /// record of trained labels is <paramref name="trained"/>.</summary>
    /// <exception cref="TailorException">Another cut or backbone, or a model trained since without keeping.</exception>
    public void CheckMatches(FeatureExtractor extractor, IReadOnlyDictionary<string, int>? trained)
    {
        if (Fingerprint != extractor.Fingerprint || RowLength != extractor.FeatureLength)
            throw new TailorException(
                $"The kept examples '{Path}' were cut from another backbone or cut ({Cut}, fingerprint {Fingerprint[..12]}) than this training reads " +
                $"({extractor.Description}, fingerprint {extractor.Fingerprint[..12]}): their features would not mean the same here. " +
                "Each head keeps the features it trains from (the network head those before its first updatable layer; logistic regression the classifier's input), " +
                "and fine-tuning changes the latter. Delete or move the file and include the old photos, or set Forget.");
        if (!SameCounts(Counts, trained))
            throw new TailorException(
                $"The kept examples '{Path}' ({Describe(Counts)}) do not match what the model was last trained on ({(trained is null ? "nothing recorded" : Describe(trained))}): " +
                "the model was trained again, or prepared again, without keeping its examples. Delete or move the file, and include the old photos or set Forget.");
    }

    private static bool SameCounts(IReadOnlyDictionary<string, int> kept, IReadOnlyDictionary<string, int>? trained) =>
        trained is not null && kept.Count == trained.Count &&
        kept.All(p => trained.Any(t => LabelComparer.Instance.Equals(t.Key, p.Key) && t.Value == p.Value));

    internal static string Describe(IReadOnlyDictionary<string, int> counts) => string.Join(", ", counts.Select(p => $"{p.Key} {p.Value}"));

    /// <summary>Reads example <paramref name="index"/>'s rows as <paramref name="variants"/> variants into
    /// <paramref name="destination"/> (variants × <see cref="RowLength"/> floats): with fewer variants kept than
    /// asked for, the kept ones repeat (variant 0, the photo as it is, first); with more, the first are used.</summary>
    public void ReadExample(FileStream file, int index, int variants, Span<float> destination)
    {
        for (int v = 0; v < variants; v++)
        {
            long at = _dataOffset + ((long)index * Variants + v % Variants) * RowLength * sizeof(float);
            var row = MemoryMarshal.AsBytes(destination.Slice(v * RowLength, RowLength));
            if (RandomAccess.Read(file.SafeFileHandle, row, at) != row.Length)
                throw new TailorException($"'{Path}' ended early while reading kept example {index}.");
        }
    }

    /// <summary>Writes kept examples atomically: <paramref name="entries"/> and, for each, its
    /// <paramref name="variants"/> rows from <paramref name="readRow"/>(entry, variant, destination).</summary>
    public static void Write(string path, string fingerprint, string cut, int rowLength, int variants, IReadOnlyList<Entry> entries,
        Action<int, int, Span<float>> readRow)
    {
        AtomicFile.Write(path, stream =>
        {
            using var writer = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true);
            writer.Write(Magic);
            writer.Write(Version);
            writer.Write(fingerprint);
            writer.Write(cut);
            writer.Write(rowLength);
            writer.Write(variants);
            writer.Write(entries.Count);
            foreach (var e in entries)
            {
                writer.Write(e.Label);
                writer.Write(e.Hash);
                writer.Write(e.Source);
            }
            writer.Flush();
            var row = new float[rowLength];
            for (int i = 0; i < entries.Count; i++)
                for (int v = 0; v < variants; v++)
                {
                    readRow(i, v, row);
                    stream.Write(MemoryMarshal.AsBytes(row.AsSpan()));
                }
        });
    }
}
