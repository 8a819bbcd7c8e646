using System.Buffers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Tailor.Training.Optimizers;

namespace Tailor.Training;

/// <summary>One parameter as stored in a checkpoint.</summary>
/// <param name="Name">The ONNX initializer name.</param>
/// <param name="Shape">The shape, row-major.</param>
/// <param name="Values">The values; as many as the shape's product.</param>
public sealed record CheckpointParameter(string Name, IReadOnlyList<int> Shape, float[] Values);

/// <summary>
/// Everything needed to continue a training run exactly where it stopped: the epochs completed, the
/// shuffle seed, the parameters, the optimizer state and the hyperparameters.
/// </summary>
/// <remarks>
/// <para>
/// No random-generator state is stored. The example order of epoch e is
/// <see cref="EpochShuffle.Permutation(long, int, Span{int})"/>(seed, e), a pure function of the seed and the
/// epoch, so resuming after <see cref="EpochsCompleted"/> = k continues with the shuffle of epoch k — the same
/// one the uninterrupted run used. Learning-rate schedules are pure functions of the epoch too. Together with
/// the optimizer's moment buffers and step counts this makes a resumed run bit-identical to an uninterrupted
/// one on the same machine and build.
/// </para>
/// <para>
/// File format, version 2 (all integers and floats little-endian; strings as .NET <see cref="BinaryWriter"/>
/// writes them, a 7-bit-encoded byte length then UTF-8):
/// <code>
/// "TAILORCK"                         8 ASCII bytes, the magic
/// int32   format version             2
/// int32   epochs completed
/// int64   shuffle seed
/// string  hyperparameters            JSON object {"optimizer": {…}, "training": {…} or null}
/// int32   parameter count
///   string name, int32 rank, int32 × rank dims, int32 value count, float32 × count
/// int32   optimizer state length in bytes, then the bytes (<see cref="Optimizer.SaveState"/>)
/// "TAILOREND"                        9 ASCII bytes, so a truncated file is always detected
/// 32 bytes SHA-256 of everything above (magic to end marker)
/// </code>
/// Files are written only through <see cref="AtomicFile"/>: a crash while saving leaves the previous
/// checkpoint intact. <see cref="Read"/> verifies the checksum before it trusts any of the contents, so a flipped
/// byte, a truncated file or appended bytes are refused as damaged instead of resumed from. Version 1 is the same
/// without the checksum; it is still read (without that check).
/// </para>
/// </remarks>
public sealed class Checkpoint
{
    /// <summary>The format version this build writes and reads.</summary>
    public const int FormatVersion = 2;

    private const int ChecksumLength = 32; // SHA-256

    private static ReadOnlySpan<byte> Magic => "TAILORCK"u8;
    private static ReadOnlySpan<byte> EndMagic => "TAILOREND"u8;
    private const int MaxRank = 32;

    private readonly byte[] _optimizerState;

    private Checkpoint(string path, int epochsCompleted, long shuffleSeed, JsonObject hyperparameters,
        IReadOnlyList<CheckpointParameter> parameters, byte[] optimizerState, string optimizerKind)
    {
        Path = path;
        EpochsCompleted = epochsCompleted;
        ShuffleSeed = shuffleSeed;
        Hyperparameters = hyperparameters;
        Parameters = parameters;
        _optimizerState = optimizerState;
        OptimizerKind = optimizerKind;
    }

    /// <summary>The file this checkpoint was read from.</summary>
    public string Path { get; }

    /// <summary>Epochs fully trained; the resumed run starts at this (0-based) epoch.</summary>
    public int EpochsCompleted { get; }

    /// <summary>The run's shuffle seed; epoch e's order is <see cref="EpochShuffle.Permutation(long, int, int)"/>(seed, e, n).</summary>
    public long ShuffleSeed { get; }

    /// <summary><c>{"optimizer": {…}, "training": {…} or null}</c>, as written.</summary>
    public JsonObject Hyperparameters { get; }

    /// <summary>The parameters, in the order they were written.</summary>
    public IReadOnlyList<CheckpointParameter> Parameters { get; }

    /// <summary>The <see cref="Optimizer.Kind"/> whose state the checkpoint holds (<c>sgd</c>, <c>adam</c>).</summary>
    public string OptimizerKind { get; }

    /// <summary>
    /// Writes a checkpoint to <paramref name="path"/> atomically (temporary file, then move).
    /// </summary>
    /// <param name="path">The destination; its folder must exist.</param>
    /// <param name="epochsCompleted">Epochs fully trained, ≥ 0.</param>
    /// <param name="shuffleSeed">The run's shuffle seed.</param>
    /// <param name="parameters">The trainable parameters; names must be unique.</param>
    /// <param name="optimizer">The optimizer whose state and hyperparameters are saved.</param>
    /// <param name="training">Other hyperparameters to record (epochs, batch size, schedule…), or null.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="epochsCompleted"/> is negative.</exception>
    /// <exception cref="ArgumentException">Two parameters share a name, or a shape does not match the value count.</exception>
    /// <exception cref="TailorException">The file cannot be written.</exception>
    public static void Write(string path, int epochsCompleted, long shuffleSeed, IReadOnlyList<ITrainableParameter> parameters,
        Optimizer optimizer, JsonObject? training = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentNullException.ThrowIfNull(optimizer);
        if (epochsCompleted < 0)
            throw new ArgumentOutOfRangeException(nameof(epochsCompleted), $"epochs completed must be ≥ 0; got {epochsCompleted}.");
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (ITrainableParameter p in parameters)
        {
            if (!names.Add(p.Name))
                throw new ArgumentException($"Two parameters are named '{p.Name}'; a checkpoint stores them by name.", nameof(parameters));
            long product = Product(p.Shape);
            if (product != p.Value.Length)
                throw new ArgumentException($"Parameter '{p.Name}' has shape [{string.Join(", ", p.Shape)}] ({product} values) but holds {p.Value.Length}.", nameof(parameters));
        }

        var hyperparameters = new JsonObject
        {
            ["optimizer"] = optimizer.DescribeHyperparameters(),
            ["training"] = training?.DeepClone(),
        };
        byte[] optimizerState;
        using (var ms = new MemoryStream())
        {
            using (var w = new BinaryWriter(ms, Encoding.UTF8, leaveOpen: true))
                optimizer.SaveState(w);
            optimizerState = ms.ToArray();
        }

        AtomicFile.Write(path, stream =>
        {
            using var sha = SHA256.Create();
            using (var hashing = new CryptoStream(stream, sha, CryptoStreamMode.Write, leaveOpen: true))
            using (var w = new BinaryWriter(hashing, Encoding.UTF8, leaveOpen: true))
            {
                w.Write(Magic);
                w.Write(FormatVersion);
                w.Write(epochsCompleted);
                w.Write(shuffleSeed);
                w.Write(hyperparameters.ToJsonString());
                w.Write(parameters.Count);
                foreach (ITrainableParameter p in parameters)
                {
                    w.Write(p.Name);
                    w.Write(p.Shape.Count);
                    foreach (int d in p.Shape)
                        w.Write(d);
                    w.Write(p.Value.Length);
                    BinaryFloats.Write(w, p.Value);
                }
                w.Write(optimizerState.Length);
                w.Write(optimizerState);
                w.Write(EndMagic);
                w.Flush();
                hashing.FlushFinalBlock();
            }
            stream.Write(sha.Hash!);
        });
    }

    /// <summary>Reads a checkpoint written by <see cref="Write"/> (format version 2, or an older version 1 file).</summary>
    /// <exception cref="TailorException">The file is missing, unreadable, truncated, damaged (its checksum does not
    /// match), not a Tailor checkpoint, or of another format version; the message names the file and what was wrong.</exception>
    public static Checkpoint Read(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        RegularFile.Check(path, "a checkpoint");
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
            using var r = new BinaryReader(stream, Encoding.UTF8);
            long length = stream.Length;

            Span<byte> magic = stackalloc byte[Magic.Length];
            if (stream.ReadAtLeast(magic, magic.Length, throwOnEndOfStream: false) != magic.Length || !magic.SequenceEqual(Magic))
                throw Bad(path, "it is not a Tailor checkpoint (the file does not start with 'TAILORCK')");
            int version = r.ReadInt32();
            if (version is not (1 or FormatVersion))
                throw Bad(path, $"it has format version {version}; this version of Tailor reads versions 1 and {FormatVersion}");
            long headerEnd = stream.Position;
            bool hasChecksum = version >= 2;
            if (hasChecksum)
            {
                long minimum = headerEnd + EndMagic.Length + ChecksumLength;
                if (length < minimum)
                    throw Bad(path, $"it is truncated ({length} bytes; a checkpoint has at least {minimum})");
                if (!ChecksumMatches(stream, length))
                {
                    stream.Position = headerEnd;
                    throw Bad(path, DiagnoseMismatch(stream, r, length));
                }
                stream.Position = headerEnd;
            }
            try
            {
                return Parse(path, stream, r, length, hasChecksum);
            }
            catch (FormatError e)
            {
                throw Bad(path, e.Message, e.InnerException);
            }
        }
        catch (EndOfStreamException e)
        {
            throw Bad(path, "it is truncated (the data ends early)", e);
        }
        catch (FileNotFoundException e)
        {
            throw Bad(path, "the file does not exist", e);
        }
        catch (DirectoryNotFoundException e)
        {
            throw Bad(path, "its folder does not exist", e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or DecoderFallbackException or FormatException)
        {
            throw Bad(path, e.Message, e);
        }
    }

    /// <summary>Whether the SHA-256 in the last <see cref="ChecksumLength"/> bytes is that of everything before them.</summary>
    private static bool ChecksumMatches(Stream stream, long length)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        byte[] buffer = ArrayPool<byte>.Shared.Rent(1 << 16);
        try
        {
            stream.Position = 0;
            long left = length - ChecksumLength;
            while (left > 0)
            {
                int n = stream.Read(buffer, 0, (int)Math.Min(buffer.Length, left));
                if (n == 0)
                    throw new EndOfStreamException();
                hash.AppendData(buffer, 0, n);
                left -= n;
            }
            Span<byte> stored = stackalloc byte[ChecksumLength];
            stream.ReadExactly(stored);
            Span<byte> actual = stackalloc byte[ChecksumLength];
            hash.GetHashAndReset(actual);
            return actual.SequenceEqual(stored);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>
    /// The message for a checksum mismatch: the structure is parsed (never trusted) only to say more, e.g. that
    /// the file ends early or has bytes appended.
    /// </summary>
    private static string DiagnoseMismatch(Stream stream, BinaryReader r, long length)
    {
        const string mismatch = "it is damaged: checksum mismatch";
        try
        {
            Parse("", stream, r, length, hasChecksum: true);
            return $"{mismatch} (the SHA-256 stored in it does not match its contents: it was changed after it was written)";
        }
        catch (FormatError e)
        {
            return $"{mismatch}; {e.Message}";
        }
        catch (EndOfStreamException)
        {
            return $"{mismatch}; it is truncated (the data ends early)";
        }
        catch (Exception e) when (e is not (IOException or UnauthorizedAccessException))
        {
            return $"{mismatch} (the SHA-256 stored in it does not match its contents)";
        }
    }

    private static Checkpoint Parse(string path, Stream stream, BinaryReader r, long length, bool hasChecksum)
    {
        int epochs = r.ReadInt32();
        if (epochs < 0)
            throw new FormatError($"it records {epochs} epochs completed");
        long seed = r.ReadInt64();
        string json = r.ReadString();
        JsonObject hyperparameters;
        try
        {
            hyperparameters = JsonNode.Parse(json) as JsonObject ?? throw new FormatError("its hyperparameters are not a JSON object");
        }
        catch (JsonException e)
        {
            throw new FormatError($"its hyperparameters are not valid JSON ({e.Message})", e);
        }

        int count = r.ReadInt32();
        if (count < 0)
            throw new FormatError($"it lists {count} parameters");
        var parameters = new List<CheckpointParameter>(Math.Min(count, 4096));
        var names = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < count; i++)
        {
            string name = r.ReadString();
            if (!names.Add(name))
                throw new FormatError($"it lists parameter '{name}' twice");
            int rank = r.ReadInt32();
            if (rank < 0 || rank > MaxRank)
                throw new FormatError($"parameter '{name}' has rank {rank}; allowed 0 to {MaxRank}");
            var shape = new int[rank];
            for (int d = 0; d < rank; d++)
            {
                shape[d] = r.ReadInt32();
                if (shape[d] < 0)
                    throw new FormatError($"parameter '{name}' has a negative dimension {shape[d]}");
            }
            int n = r.ReadInt32();
            if (n != Product(shape))
                throw new FormatError($"parameter '{name}' has shape [{string.Join(", ", shape)}] but {n} values");
            // Check against the bytes left before allocating, so a damaged count cannot ask for gigabytes.
            if ((long)n * sizeof(float) > length - stream.Position)
                throw new FormatError($"it is truncated (parameter '{name}' needs {(long)n * sizeof(float)} bytes, {length - stream.Position} remain)");
            var values = new float[n];
            BinaryFloats.Read(r, values);
            parameters.Add(new CheckpointParameter(name, shape, values));
        }

        int stateLength = r.ReadInt32();
        if (stateLength < 0 || stateLength > length - stream.Position)
            throw new FormatError($"it is truncated (the optimizer state needs {stateLength} bytes, {length - stream.Position} remain)");
        byte[] state = r.ReadBytes(stateLength);
        Span<byte> end = stackalloc byte[EndMagic.Length];
        if (stream.ReadAtLeast(end, end.Length, throwOnEndOfStream: false) != end.Length || !end.SequenceEqual(EndMagic))
            throw new FormatError("it is truncated or damaged (the end marker is missing)");
        long trailing = length - stream.Position - (hasChecksum ? ChecksumLength : 0);
        if (trailing < 0)
            throw new FormatError($"it is truncated (the checksum after the end marker needs {ChecksumLength} bytes, {length - stream.Position} remain)");
        if (trailing > 0)
            throw new FormatError($"it has {trailing} unexpected bytes after the {(hasChecksum ? "checksum" : "end marker")}");

        string kind;
        using (var sr = new BinaryReader(new MemoryStream(state), Encoding.UTF8))
            kind = sr.ReadString();
        return new Checkpoint(path, epochs, seed, hyperparameters, parameters, state, kind);
    }

    /// <summary>What is wrong with a checkpoint's contents; <see cref="Read"/> turns it into a <see cref="TailorException"/> naming the file.</summary>
    private sealed class FormatError(string message, Exception? inner = null) : Exception(message, inner);

    /// <summary>
    /// Copies the stored values into <paramref name="parameters"/> (matched by name) and loads the optimizer
    /// state into <paramref name="optimizer"/>, restoring its hyperparameters too. Everything is checked
    /// before anything changes: on failure the parameters and the optimizer are left as they were.
    /// </summary>
    /// <exception cref="TailorException">A parameter is missing from the checkpoint or has another shape, the
    /// checkpoint holds a parameter not in <paramref name="parameters"/>, or the optimizer state is for another
    /// optimizer kind or damaged; the message names the file and the parameter.</exception>
    public void RestoreInto(IReadOnlyList<ITrainableParameter> parameters, Optimizer optimizer)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentNullException.ThrowIfNull(optimizer);
        var stored = Parameters.ToDictionary(p => p.Name, StringComparer.Ordinal);
        var matched = new CheckpointParameter[parameters.Count];
        for (int i = 0; i < parameters.Count; i++)
        {
            ITrainableParameter p = parameters[i];
            if (!stored.Remove(p.Name, out CheckpointParameter? s))
                throw Bad(Path, $"it has no parameter '{p.Name}' (it holds {string.Join(", ", Parameters.Select(q => $"'{q.Name}'"))})");
            if (!s.Shape.SequenceEqual(p.Shape) || s.Values.Length != p.Value.Length)
                throw Bad(Path, $"parameter '{p.Name}' has shape [{string.Join(", ", s.Shape)}] in the checkpoint but [{string.Join(", ", p.Shape)}] in the model");
            matched[i] = s;
        }
        if (stored.Count > 0)
            throw Bad(Path, $"it holds parameters the model does not train: {string.Join(", ", stored.Keys.Select(k => $"'{k}'"))}");
        if (OptimizerKind != optimizer.Kind)
            throw Bad(Path, $"it holds '{OptimizerKind}' optimizer state, but the optimizer is '{optimizer.Kind}'");

        try
        {
            using var r = new BinaryReader(new MemoryStream(_optimizerState, writable: false), Encoding.UTF8);
            optimizer.LoadState(r); // leaves the optimizer unchanged on failure
        }
        catch (Exception e) when (e is InvalidDataException or EndOfStreamException)
        {
            throw Bad(Path, $"its optimizer state cannot be loaded: {e.Message}", e);
        }
        for (int i = 0; i < parameters.Count; i++)
            matched[i].Values.CopyTo(parameters[i].Value);
    }

    private static long Product(IReadOnlyList<int> shape)
    {
        // −1 for a negative dimension or a product beyond long: never equal to a real value count.
        long n = 1;
        foreach (int d in shape)
        {
            if (d < 0)
                return -1;
            try { n = checked(n * d); }
            catch (OverflowException) { return -1; }
        }
        return n;
    }

    private static TailorException Bad(string path, string what, Exception? inner = null) =>
        inner is null
            ? new TailorException($"Cannot read checkpoint '{path}': {what.TrimEnd('.')}.")
            : new TailorException($"Cannot read checkpoint '{path}': {what.TrimEnd('.')}.", inner);
}
