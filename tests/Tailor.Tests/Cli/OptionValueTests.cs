using Tailor.Spec;
using Tailor.Tests.Images;

namespace Tailor.Tests.Cli;

/// <summary>
/// Bad option values as a user types them — negative, zero, huge (1e308, 3e9, beyond int), NaN, infinity, empty, the
/// wrong kind, inverted ranges — in every command: each is a usage error (exit code 2) naming the option and what it
/// takes, before any work, with no stack trace and nothing written.
/// </summary>
[Trait("Category", "Slow")]
public sealed class OptionValueTests(PreparedModelFixture fixture) : IClassFixture<PreparedModelFixture>, IDisposable
{
    private readonly TempFolder _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <summary>Command line ({model}: a prepared model, {train}: the hands training folder, {image}: one photo, {out}:
    /// a file that must not appear) → text the error must contain.</summary>
    public static TheoryData<string, string> Cases => new()
    {
        // prepare: the allowed values of a hyperparameter (a range must be finite and not inverted) and its default.
        { "prepare --allowed-lr 1..0 --out {out}", "--allowed-lr: the range 1..0 is inverted; give MIN..MAX with MIN ≤ MAX, e.g. 0..1" },
        { "prepare --allowed-lr [1,0] --out {out}", "--allowed-lr: the range [1,0] is inverted" },
        { "prepare --allowed-lr 0..Infinity --out {out}", "--allowed-lr: 'Infinity' is not a finite number" },
        { "prepare --allowed-lr 0..1e309 --out {out}", "--allowed-lr: '1e309' is not a finite number" },
        { "prepare --allowed-lr NaN..1 --out {out}", "--allowed-lr: 'NaN' is not a finite number" },
        { "prepare --allowed-lr 1..2..3 --out {out}", "--allowed-lr: '1..2..3' is not a range such as 0..1" },
        { "prepare --allowed-lr -1..1 --out {out}", "--allowed-lr: -1 is not possible; every allowed value is a finite number ≥ 0" },
        { "prepare --allowed-momentum 0..1e308 --optimizer sgd --out {out}", "--allowed-momentum: 1E+308 is not possible; every allowed value is a number in [0, 1)" },
        { "prepare --allowed-batch 0,8 --out {out}", "--allowed-batch: 0 is not possible; every allowed value is a whole number ≥ 1" },
        { "prepare --allowed-batch 2.5 --out {out}", "--allowed-batch: 2.5 is not possible" },
        { "prepare --allowed-epochs 1..1e308 --out {out}", "--allowed-epochs: 1E+308 is not possible; every allowed value is a whole number from 1 to 1,000,000" },
        { "prepare --allowed-seed NaN --out {out}", "--allowed-seed: 'NaN' is not a finite number" },
        { "prepare --allowed-batch 8,16 --out {out}", "--allowed-batch 8,16: the default 32 (--batch) is not among them" },
        { "prepare --lr NaN --out {out}", "--lr: 'NaN' is not a finite number" },
        { "prepare --lr Infinity --out {out}", "--lr: 'Infinity' is not a finite number" },
        { "prepare --lr -1 --out {out}", "--lr -1: give a finite number ≥ 0" },
        { "prepare --lr 1e308 --out {out}", "--lr 1e308 is outside the allowed values, in [0, 1]" },
        { "prepare --batch 0 --out {out}", "--batch 0: give a whole number ≥ 1" },
        { "prepare --batch 3e9 --out {out}", "--batch 3000000000: give a whole number ≥ 1" },
        { "prepare --epochs 3e9 --out {out}", "--epochs 3000000000: give a whole number from 1 to 1,000,000" },
        { "prepare --epochs 20000 --out {out}", "--epochs 20000 is outside the allowed values, in [1, 10000]; give a value in [1, 10000], or widen them with --allowed-epochs" },
        { "prepare --seed -1 --out {out}", "--seed -1: give a whole number from 0 to 2,147,483,647" },
        { "prepare --beta1 1 --out {out}", "--beta1 1: give a number in [0, 1)" },
        { "prepare --weight-decay Infinity --out {out}", "--weight-decay: 'Infinity' is not a finite number" },
        // prepare: the capacity's documented bound, and the other numbers.
        { "prepare --capacity 0 --out {out}", "--capacity: '0' is not allowed; give a whole number from 1 to 100,000 (the classifier holds capacity × feature-size floats" },
        { "prepare --capacity 100000000 --out {out}", "--capacity: '100000000' is not allowed; give a whole number from 1 to 100,000" },
        { "prepare --capacity 3e9 --out {out}", "--capacity: '3e9' is not allowed; give a whole number from 1 to 100,000" },
        { "prepare --capacity 99999999999 --out {out}", "--capacity: '99999999999' is not allowed" },
        { "prepare --from {model} --capacity 100001 --out {out}", "--capacity: '100001' is not allowed; give a whole number from 1 to 100,000" },
        { "prepare --init-seed 1e308 --out {out}", "--init-seed: '1e308' is not allowed; give a whole number from -2,147,483,648 to 2,147,483,647" },
        { "prepare --scale NaN --out {out}", "--scale: 'NaN' is not allowed; give a finite number more than 0" },
        { "prepare --scale Infinity --out {out}", "--scale: 'Infinity' is not allowed" },
        { "prepare --scale 0 --out {out}", "--scale: '0' is not allowed" },
        { "prepare --size 100000x100000 --out {out}", "--size: '100000x100000' is not WIDTHxHEIGHT such as 224x224, each from 1 to 4096" },
        { "prepare --mean 1e39,0,0 --out {out}", "--mean: 1E+39 is too large for a 32-bit float" },
        { "prepare --std 0,0,0 --out {out}", "--std: 0,0,0: every value must be more than 0" },
        { "prepare --augment variants:3e9 --out {out}", "--augment: Augmentation 'variants:3e9'" },
        { "prepare --schedule step:0:2 --out {out}", "--schedule: Learning-rate schedule 'step:0:2': step size must be ≥ 1 epoch; got 0." },
        { "prepare --optimizer sgd --nesterov maybe --out {out}", "--nesterov: 'maybe' is not true or false" },
        // train: numbers checked as the command line is parsed, then against the model's allowed values.
        { "train {model} --data {train} --out {out} --epochs 0", "--epochs: '0' is not allowed; give a whole number from 1 to 2,147,483,647" },
        { "train {model} --data {train} --out {out} --epochs 3e9", "--epochs: '3e9' is not allowed" },
        { "train {model} --data {train} --out {out} --epochs 20000", "--epochs 20000: the model '{model}' allows epochs in [1, 10000] (tailor prepare --allowed-epochs sets them)" },
        { "train {model} --data {train} --out {out} --lr NaN", "--lr: 'NaN' is not allowed; give a finite number ≥ 0" },
        { "train {model} --data {train} --out {out} --lr Infinity", "--lr: 'Infinity' is not allowed" },
        { "train {model} --data {train} --out {out} --lr -1", "--lr: '-1' is not allowed" },
        { "train {model} --data {train} --out {out} --lr 1e308", "--lr 1E+308: the model '{model}' allows learning_rate in [0, 1]" },
        { "train {model} --data {train} --out {out} --batch 0", "--batch: '0' is not allowed; give a whole number from 1 to 2,147,483,647" },
        { "train {model} --data {train} --out {out} --batch 3", "--batch 3: the model '{model}' allows batch_size one of {1, 2, 4, 8, 16, 32, 64}" },
        { "train {model} --data {train} --out {out} --momentum 1", "--momentum: '1' is not allowed; give a finite number from 0 up to (not including) 1" },
        { "train {model} --data {train} --out {out} --weight-decay -1", "--weight-decay: '-1' is not allowed; give a finite number ≥ 0" },
        { "train {model} --data {train} --out {out} --seed 3e9", "--seed: '3e9' is not allowed; give a whole number from 0 to 2,147,483,647" },
        { "train {model} --data {train} --out {out} --validation-split NaN", "--validation-split NaN: give the fraction of each label's photos to hold out" },
        { "train {model} --data {train} --out {out} --validation-split 1e308", "--validation-split 1E+308: give the fraction" },
        { "train {model} --data {train} --out {out} --patience -1", "--patience: '-1' is not allowed; give a whole number from 0 to 2,147,483,647" },
        { "train {model} --data {train} --out {out} --checkpoint-every -1", "--checkpoint-every: '-1' is not allowed" },
        { "train {model} --data {train} --out {out} --schedule cosine:Infinity", "--schedule: Learning-rate schedule 'cosine:Infinity': 'Infinity' is not a number" },
        { "train {model} --data {train} --out {out} --augment rotate:NaN", "--augment: Augmentation 'rotate:NaN'" },
        { "train {model} --data {train} --out {out} --head knn --k 0", "--k: '0' is not allowed; give a whole number from 1 to 100" },
        { "train {model} --data {train} --out {out} --head knn --k 1e308", "--k: '1e308' is not allowed" },
        { "train {model} --data {train} --out {out} --head logreg --l2 NaN", "--l2: 'NaN' is not a finite number" },
        { "train {model} --data {train} --out {out} --head logreg --l2 Infinity", "--l2: 'Infinity' is not a finite number" },
        { "train {model} --data {train} --out {out} --head logreg --l2 -1", "--l2 -1: an L2 strength must be a finite number ≥ 0" },
        { "train {model} --data {train} --out {out} --head logreg --l2 ,", "--l2: give a number or a comma-separated list of numbers" },
        { "train {model} --data {train} --out {out} --head tree", "--head: 'tree' is not one of nn, logreg, knn" },
        { "train {model} --out {out}", "Option '--data' is required" },
        // predict, reset, bench, info, evaluate.
        { "predict {model} {image} --top 0", "--top: '0' is not allowed; give a whole number from 1 to 2,147,483,647" },
        { "predict {model} {image} --top 3e9", "--top: '3e9' is not allowed" },
        { "predict {model} {image} --top many", "--top: 'many' is not allowed" },
        { "predict {model} {image} --format xml", "--format: 'xml' is not one of table, csv, json" },
        { "reset {model} --out {out} --init-seed 3e9", "--init-seed: '3e9' is not allowed" },
        { "reset {model} --out {out} --init ones", "--init: 'ones' is not one of kaiming, zeros" },
        { "bench train --epochs 0", "--epochs: '0' is not allowed; give a whole number from 1 to 2,147,483,647" },
        { "bench train --tasks 3e9", "--tasks: '3e9' is not allowed" },
        { "bench train --repeats NaN", "--repeats: 'NaN' is not allowed" },
        { "info {model} --verbose", "Unrecognized command or argument '--verbose'" },
        { "evaluate {model} --data {train} --strict maybe", "Unrecognized command or argument 'maybe'" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void BadValue_IsAUsageError_NamingTheOptionAndWhatItTakes(string commandLine, string expected)
    {
        string output = _dir.File("never.onnx");
        string image = Directory.GetFiles(Directory.GetDirectories(TestData.HandsTest)[0])[0];
        string Fill(string s) => s.Replace("{model}", fixture.Path).Replace("{train}", TestData.HandsTrain).Replace("{image}", image).Replace("{out}", output);
        byte[] model = File.ReadAllBytes(fixture.Path);

        var r = CliRunner.Run(commandLine.Split(' ').Select(Fill).ToArray());

        Assert.True(r.ExitCode == 2, $"exit {r.ExitCode}\n{r.Stdout}\n{r.Stderr}");
        Assert.Contains("error: " + Fill(expected), r.Stderr.ReplaceLineEndings(" "));
        Assert.DoesNotContain("   at ", r.Stderr);   // no stack trace
        Assert.DoesNotContain("Unhandled", r.Stderr);
        Assert.False(File.Exists(output));
        Assert.Empty(Directory.GetFileSystemEntries(_dir.Path));
        Assert.Equal(model, File.ReadAllBytes(fixture.Path));
    }

    [Fact]
    public void Help_StillExitsZero_AndStatesTheCapacityBound()
    {
        var r = CliRunner.Run("prepare", "--help");
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Contains("Output slots of the classifier, 1 to 100,000", r.Stdout.ReplaceLineEndings(" "));
    }

    [Fact]
    public void DataErrors_StillExitOne()
    {
        var r = CliRunner.Run("evaluate", fixture.Path, "--data", _dir.File("nowhere"));
        Assert.True(r.ExitCode == 1, $"exit {r.ExitCode}\n{r.Stderr}");
        Assert.Contains("nowhere", r.Stderr);
    }

    [Fact]
    public void Capacity_IsBounded_AndTheLargestIsBuiltWithItsPlaceholders()
    {
        var labels = ClassLabels.Create(["✊", "✋"], ClassLabels.MaxCapacity);
        Assert.Equal(ClassLabels.MaxCapacity, labels.Capacity);
        Assert.Equal(["✊", "✋"], labels.InUse);
        Assert.False(labels.IsPlaceholder(1));
        Assert.True(labels.IsPlaceholder(ClassLabels.MaxCapacity - 1));
        Assert.Equal(1, labels.IndexOf("✋"));
        var e = Assert.Throws<TailorException>(() => ClassLabels.Create([], ClassLabels.MaxCapacity + 1));
        Assert.Contains("Capacity must be from 1 to 100,000; got 100,001", e.Message);
    }
}
