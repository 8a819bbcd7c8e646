using System.Globalization;
using Tailor.Training;

namespace Tailor.Tests.Training;

public sealed class TrainingHistoryTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("tailor-history").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    internal static TrainingHistory Sample(int epochs, bool validation)
    {
        var h = new TrainingHistory();
        for (int e = 1; e <= epochs; e++)
            h.Add(new EpochRecord(e, 1.0 / e, 1.2 / e, 0.5 + 0.04 * e, validation ? 1.1 / e + 0.1 : null, validation ? 0.4 + 0.05 * e : null, 0.01 * Math.Pow(0.9, e - 1), 0.012 * e));
        return h;
    }

    [Fact]
    public void JsonRoundTrip_KeepsEveryField()
    {
        var h = Sample(5, validation: true);
        h.Add(new EpochRecord(6, double.NaN, double.PositiveInfinity, 0.1, null, null, 0.001, 0.5)); // a diverged epoch
        string path = Path.Combine(_dir, "history.json");
        h.SaveJson(path);
        var loaded = TrainingHistory.Load(path);
        Assert.Equal(h.Epochs, loaded.Epochs); // record equality, bit-exact doubles (NaN equals NaN in records)
        Assert.Contains("\"train_loss_last_batch\"", File.ReadAllText(path));
    }

    [Fact]
    public void KeptEpoch_RoundTrips_AndAHistoryWrittenWithoutItLoads()
    {
        var h = Sample(5, validation: true);
        h.KeptEpoch = 3;
        string path = Path.Combine(_dir, "kept.json");
        h.SaveJson(path);
        Assert.Contains("\"kept_epoch\": 3", File.ReadAllText(path));
        Assert.Equal(3, TrainingHistory.Load(path).KeptEpoch);

        // Histories from before keep-best have no kept_epoch.
        File.WriteAllText(path, "{\"format_version\":1,\"epochs\":[]}");
        Assert.Null(TrainingHistory.Load(path).KeptEpoch);

        // Resuming before the kept epoch forgets it: that epoch will run again.
        h.TruncateAfter(2);
        Assert.Null(h.KeptEpoch);
    }

    [Fact]
    public void Csv_HasHeaderAndInvariantNumbers()
    {
        var saved = CultureInfo.CurrentCulture;
        try
        {
            CultureInfo.CurrentCulture = new CultureInfo("de-DE"); // decimal comma must not leak in
            var h = new TrainingHistory();
            h.Add(new EpochRecord(1, 0.5, 0.25, 0.75, null, null, 0.001, 1.5));
            h.Add(new EpochRecord(2, 0.4, 0.3, 0.8, 0.45, 0.7, 0.001, 1.25));
            string csv = Path.Combine(_dir, "history.csv");
            h.Save(Path.Combine(_dir, "h.json"), csv);
            Assert.Equal(
                TrainingHistory.CsvHeader + "\n1,0.5,0.25,0.75,,,0.001,1.5\n2,0.4,0.3,0.8,0.45,0.7,0.001,1.25\n",
                File.ReadAllText(csv));
            Assert.Equal(2, TrainingHistory.Load(Path.Combine(_dir, "h.json")).Epochs.Count);
        }
        finally
        {
            CultureInfo.CurrentCulture = saved;
        }
    }

    [Fact]
    public void EpochsMustIncrease()
    {
        var h = Sample(3, false);
        var e = Assert.Throws<ArgumentException>(() => h.Add(new EpochRecord(3, 0, 0, 0, null, null, 0, 0)));
        Assert.Contains("Epoch 3 comes after epoch 3; epochs must increase.", e.Message);
        Assert.Contains("Epoch numbers start at 1; got 0.", Assert.Throws<ArgumentException>(() => new TrainingHistory().Add(new EpochRecord(0, 0, 0, 0, null, null, 0, 0))).Message);
    }

    [Fact]
    public void TruncateAfter_KeepsEpochsUpToTheCheckpoint()
    {
        var h = Sample(8, false);
        h.TruncateAfter(5);
        Assert.Equal([1, 2, 3, 4, 5], h.Epochs.Select(e => e.Epoch));
        h.Add(new EpochRecord(6, 0.1, 0.1, 0.9, null, null, 0.01, 1));
    }

    [Theory]
    [InlineData("not json at all", "it is not a Tailor training history")]
    [InlineData("{\"format_version\":2,\"epochs\":[]}", "format version 2; this version of Tailor reads version 1")]
    [InlineData("{\"format_version\":1}", "it is not a Tailor training history")]
    [InlineData("{\"format_version\":1,\"epochs\":[{\"epoch\":1}]}", "it is not a Tailor training history")]
    [InlineData("{\"format_version\":1,\"epochs\":[{\"epoch\":2,\"train_loss_mean\":1,\"train_loss_last_batch\":1,\"train_accuracy\":1,\"validation_loss\":null,\"validation_accuracy\":null,\"learning_rate\":1,\"seconds\":1},{\"epoch\":1,\"train_loss_mean\":1,\"train_loss_last_batch\":1,\"train_accuracy\":1,\"validation_loss\":null,\"validation_accuracy\":null,\"learning_rate\":1,\"seconds\":1}]}", "Epoch 1 comes after epoch 2")]
    public void BadFile_ThrowsNamingTheFile(string content, string expected)
    {
        string path = Path.Combine(_dir, "bad.json");
        File.WriteAllText(path, content);
        var e = Assert.Throws<TailorException>(() => TrainingHistory.Load(path));
        Assert.Contains($"Cannot read training history '{path}'", e.Message);
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void Truncated_Throws()
    {
        string path = Path.Combine(_dir, "t.json");
        Sample(3, true).SaveJson(path);
        byte[] bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes.AsSpan(0, bytes.Length / 2).ToArray());
        Assert.Contains("it is not a Tailor training history", Assert.Throws<TailorException>(() => TrainingHistory.Load(path)).Message);
    }

    [Fact]
    public void CsvHeader_IsTheRecordsJsonKeys_InOrder()
    {
        // One declaration of the epoch record: the CSV's columns are its JSON keys (the CLI's --json epoch lines too).
        var json = TrainingHistory.ToJson(new EpochRecord(1, 0.5, 0.25, 0.75, null, null, 0.001, 1.5));
        Assert.Equal(TrainingHistory.CsvHeader, string.Join(",", json.Select(p => p.Key)));
    }
}
