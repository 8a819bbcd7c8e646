using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Tailor.Training;

/// <summary>What one epoch of training measured.</summary>
/// <param name="Epoch">The epoch's number, 1 for the first. It equals the epochs completed when the epoch
/// ends, so it matches <see cref="Checkpoint.EpochsCompleted"/> of a checkpoint written then. (Schedules take
/// the 0-based index, <c>Epoch − 1</c>.)</param>
/// <param name="TrainLossMean">The training loss averaged over every example of the epoch (each mini-batch's
/// mean loss weighted by its size). This is the number to plot.</param>
/// <param name="TrainLossLastBatch">The mean loss of the epoch's last mini-batch alone — what Core ML reports
/// as "the" epoch loss. Noisy; kept for comparison, not for decisions.</param>
/// <param name="TrainAccuracy">Fraction of the epoch's training examples classified correctly, in [0, 1],
/// measured as the weights changed during the epoch.</param>
/// <param name="ValidationLoss">Mean loss on the validation set after the epoch, or null without one.</param>
/// <param name="ValidationAccuracy">Validation accuracy after the epoch, in [0, 1], or null.</param>
/// <param name="LearningRate">The learning rate the epoch used.</param>
/// <param name="Seconds">Wall-clock seconds the epoch took.</param>
public sealed record EpochRecord(
    int Epoch,
    double TrainLossMean,
    double TrainLossLastBatch,
    double TrainAccuracy,
    double? ValidationLoss,
    double? ValidationAccuracy,
    double LearningRate,
    double Seconds);

/// <summary>
/// The per-epoch record of a training run, saved after each epoch as JSON (to load back) and CSV (for
/// spreadsheets), both written atomically so a crash never leaves a half-written history.
/// </summary>
/// <remarks>
/// JSON layout: <c>{"format_version":1,"epochs":[{"epoch":1,"train_loss_mean":…,"train_loss_last_batch":…,
/// "train_accuracy":…,"validation_loss":… or null,"validation_accuracy":… or null,"learning_rate":…,"seconds":…},…],
/// "kept_epoch":… or null}</c>.
/// A NaN or infinite loss is written as the string <c>"NaN"</c> / <c>"Infinity"</c> so a diverged run can
/// still be saved and inspected. Not thread-safe.
/// </remarks>
public sealed class TrainingHistory
{
    /// <summary>The JSON format version this build writes and reads.</summary>
    public const int FormatVersion = 1;

    /// <summary>The CSV header line.</summary>
    public const string CsvHeader = "epoch,train_loss_mean,train_loss_last_batch,train_accuracy,validation_loss,validation_accuracy,learning_rate,seconds";

    private static readonly JsonSerializerOptions JsonOptions = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower, // the same keys as tailor train --json
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        RespectRequiredConstructorParameters = true,
        RespectNullableAnnotations = true,
        WriteIndented = true,
    };

    private readonly List<EpochRecord> _epochs = [];

    /// <summary>One epoch as the history's JSON writes it (the same keys as <c>tailor train --json</c>'s epoch lines).</summary>
    internal static System.Text.Json.Nodes.JsonObject ToJson(EpochRecord record) =>
        (System.Text.Json.Nodes.JsonObject)JsonSerializer.SerializeToNode(record, JsonOptions)!;

    /// <summary>The epochs recorded, in order.</summary>
    public IReadOnlyList<EpochRecord> Epochs => _epochs;

    /// <summary>The epoch whose weights the trained model holds (the last one, or with keep-best the one with the
    /// lowest validation loss); null while training runs or when no epoch completed. Saved as <c>kept_epoch</c>.</summary>
    public int? KeptEpoch { get; set; }

    /// <summary>Appends an epoch.</summary>
    /// <exception cref="ArgumentException">Its <see cref="EpochRecord.Epoch"/> is not greater than the last
    /// one recorded, or is below 1.</exception>
    public void Add(EpochRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        if (Problem(record) is { } problem)
            throw new ArgumentException(problem, nameof(record));
        _epochs.Add(record);
    }

    /// <summary>Why <paramref name="record"/> cannot follow the epochs recorded, or null if it can.</summary>
    private string? Problem(EpochRecord record)
    {
        if (record.Epoch < 1)
            return $"Epoch numbers start at 1; got {record.Epoch}.";
        if (_epochs.Count > 0 && record.Epoch <= _epochs[^1].Epoch)
            return $"Epoch {record.Epoch} comes after epoch {_epochs[^1].Epoch}; epochs must increase.";
        return null;
    }

    /// <summary>Drops the epochs numbered above <paramref name="epochsCompleted"/>: on resuming from a
    /// checkpoint, the history may hold epochs that ran after it and will run again.</summary>
    public void TruncateAfter(int epochsCompleted)
    {
        _epochs.RemoveAll(e => e.Epoch > epochsCompleted);
        if (KeptEpoch > epochsCompleted) KeptEpoch = null;
    }

    /// <summary>Writes the JSON to <paramref name="jsonPath"/> and, if given, the CSV to
    /// <paramref name="csvPath"/>, each atomically. Call after each epoch.</summary>
    /// <exception cref="TailorException">A file cannot be written.</exception>
    public void Save(string jsonPath, string? csvPath = null)
    {
        SaveJson(jsonPath);
        if (csvPath is not null)
            SaveCsv(csvPath);
    }

    /// <summary>Writes the history as JSON, atomically.</summary>
    /// <exception cref="TailorException">The file cannot be written.</exception>
    public void SaveJson(string path)
    {
        byte[] json = JsonSerializer.SerializeToUtf8Bytes(new Document(FormatVersion, _epochs, KeptEpoch), JsonOptions);
        AtomicFile.WriteAllBytes(path, json);
    }

    /// <summary>Writes the history as CSV (invariant culture, empty cells for missing validation), atomically.</summary>
    /// <exception cref="TailorException">The file cannot be written.</exception>
    public void SaveCsv(string path) => AtomicFile.WriteAllText(path, ToCsv());

    /// <summary>The history as CSV text: <see cref="CsvHeader"/>, then one line per epoch: the cells of the record's
    /// JSON (<see cref="ToJson"/>) in order, numbers round-trippable, an empty cell for a missing validation.</summary>
    public string ToCsv()
    {
        var sb = new StringBuilder(CsvHeader).Append('\n');
        foreach (EpochRecord e in _epochs)
        {
            bool first = true;
            foreach (var (_, value) in ToJson(e))
            {
                if (!first) sb.Append(',');
                first = false;
                // NaN and infinities are JSON strings ("NaN", "Infinity"): the same text in the CSV.
                if (value is not null)
                    sb.Append(value.GetValueKind() == JsonValueKind.String ? value.GetValue<string>() : value.GetValue<double>().ToString("R", CultureInfo.InvariantCulture));
            }
            sb.Append('\n');
        }
        return sb.ToString();
    }

    /// <summary>Reads a history saved by <see cref="SaveJson"/>.</summary>
    /// <exception cref="TailorException">The file is missing, is not a history, has another format version,
    /// or its epochs do not increase; the message names the file.</exception>
    public static TrainingHistory Load(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        RegularFile.Check(path, "a training history");
        Document? doc;
        try
        {
            using FileStream stream = File.OpenRead(path);
            doc = JsonSerializer.Deserialize<Document>(stream, JsonOptions);
        }
        catch (FileNotFoundException e)
        {
            throw new TailorException($"Cannot read training history '{path}': the file does not exist.", e);
        }
        catch (JsonException e)
        {
            throw new TailorException($"Cannot read training history '{path}': it is not a Tailor training history ({e.Message}).", e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new TailorException($"Cannot read training history '{path}': {e.Message}", e);
        }
        if (doc is null)
            throw new TailorException($"Cannot read training history '{path}': it holds JSON null.");
        if (doc.FormatVersion != FormatVersion)
            throw new TailorException($"Cannot read training history '{path}': it has format version {doc.FormatVersion}; this version of Tailor reads version {FormatVersion}.");
        var history = new TrainingHistory { KeptEpoch = doc.KeptEpoch };
        foreach (EpochRecord? e in doc.Epochs)
        {
            if (e is null)
                throw new TailorException($"Cannot read training history '{path}': an epoch entry is null.");
            if (history.Problem(e) is { } problem)
                throw new TailorException($"Cannot read training history '{path}': {problem}");
            history._epochs.Add(e);
        }
        return history;
    }

    // kept_epoch is optional: histories written before it load with null.
    private sealed record Document(int FormatVersion, IReadOnlyList<EpochRecord?> Epochs, int? KeptEpoch = null);
}
