using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using Microsoft.ML.OnnxRuntime;
using Tailor.Data;
using Tailor.Training;

namespace Tailor.Bench;

/// <summary>
/// Peak memory of one workload in a fresh process: the <c>train</c> benchmark starts this program again with the hidden
/// command <c>memory-probe</c>, which runs the workload and prints its peak resident set (VmHWM). A process
/// that has run other phases first keeps the memory they touched (neither the GC nor the native allocators hand
/// everything back), so an in-process peak would measure the benchmark's history, not the workload.
/// </summary>
internal static class MemoryProbe
{
    /// <summary>What the "ort" probe runs: the prefix model, its input, and the decoded images stored next to it.</summary>
    internal sealed record OrtWorkload(string PrefixPath, string ImagesPath, string Input, string[] Outputs, long[] ExampleShape, int Count, int Batch);

    /// <summary>Peak resident memory of this process so far, in MiB (VmHWM on Linux).</summary>
    public static double PeakMb()
    {
        using var self = Process.GetCurrentProcess();
        return self.PeakWorkingSet64 / (1024.0 * 1024);
    }

    /// <summary>Runs <c>memory-probe ARGS</c> in a new process and returns the peak it reports.</summary>
    /// <exception cref="TailorException">The probe failed or printed no figure.</exception>
    public static double Run(IReadOnlyList<string> args, CancellationToken cancellationToken)
    {
        // Always through the dotnet host and this program's own assembly: this works the same under `dotnet Tailor.Bench.dll`,
        // the apphost and `dotnet run`.
        string host = Environment.ProcessPath is { } p && Path.GetFileNameWithoutExtension(p) == "dotnet"
            ? p : Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet";
        var psi = new ProcessStartInfo(host) { RedirectStandardOutput = true, StandardOutputEncoding = Encoding.UTF8 };
        psi.ArgumentList.Add(typeof(MemoryProbe).Assembly.Location);
        psi.ArgumentList.Add("memory-probe");
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var process = Process.Start(psi) ?? throw new TailorException($"Could not start {host} for the memory probe.");
        using var registration = cancellationToken.Register(() => { try { process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { } });
        string output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        cancellationToken.ThrowIfCancellationRequested();
        if (process.ExitCode != 0 || !double.TryParse(output.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out double peak))
            throw new TailorException($"The memory probe '{string.Join(" ", args)}' failed (exit {process.ExitCode}): {output.Trim()}");
        return peak;
    }

    /// <summary>The hidden <c>memory-probe</c> command: <c>train MODEL DATA EPOCHS</c> or <c>ort WORKLOAD.json</c>.</summary>
    public static Command CreateCommand()
    {
        var args = new Argument<string[]>("ARGS") { Arity = ArgumentArity.OneOrMore };
        var command = new Command("memory-probe", "Internal: runs one workload and prints its peak memory in MiB.") { Hidden = true };
        command.Add(args);
        command.SetAction((parse, ct) =>
        {
            var a = parse.GetValue(args)!;
            switch (a)
            {
                case ["train", var model, var data, var epochs]:
                    var options = new TrainingOptions { Epochs = int.Parse(epochs, CultureInfo.InvariantCulture), Augmentation = Images.AugmentationOptions.None };
                    var result = new UpdateTask(UpdatableModel.Load(model), LabeledFolder.Scan(data), null, options).Run(ct);
                    if (result.State != TrainingState.Completed) throw new TailorException($"Training {result.State}: {result.Reason}");
                    break;
                case ["ort", var workload]:
                    RunOrt(JsonSerializer.Deserialize<OrtWorkload>(File.ReadAllText(workload)) ?? throw new TailorException($"'{workload}' is empty."));
                    break;
                default:
                    throw new TailorException($"memory-probe: '{string.Join(" ", a)}' is not 'train MODEL DATA EPOCHS' or 'ort WORKLOAD.json'.");
            }
            Console.Out.WriteLine(PeakMb().ToString("F1", CultureInfo.InvariantCulture));
            return Task.FromResult(0);
        });
        return command;
    }

    /// <summary>ONNX Runtime alone: the prefix session with FeatureExtractor's options, every image once in batches.</summary>
    private static void RunOrt(OrtWorkload w)
    {
        var images = MemoryMarshal.Cast<byte, float>(File.ReadAllBytes(w.ImagesPath)).ToArray();
        int imageLength = images.Length / w.Count;
        using var options = Tailor.Onnx.OnnxSessions.CreateOptions();
        using var session = new InferenceSession(w.PrefixPath, options);
        using var runOptions = new RunOptions();
        for (int start = 0; start < w.Count; start += w.Batch)
        {
            int count = Math.Min(w.Batch, w.Count - start);
            using var input = OrtValue.CreateTensorValueFromMemory(images.AsSpan(start * imageLength, count * imageLength).ToArray(), [count, .. w.ExampleShape]);
            using var outputs = session.Run(runOptions, [w.Input], [input], w.Outputs);
        }
    }
}
