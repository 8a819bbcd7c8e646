using System.Diagnostics;
using System.Globalization;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Onnx;
using Tailor.Building;
using Tailor.Data;
using Tailor.Features;
using Tailor.Engine;
using Tailor.Engine.Kernels;
using Tailor.Engine.Losses;
using Conv = Tailor.Engine.Ops.Conv;
using ConvAlgorithm = Tailor.Engine.Ops.ConvAlgorithm;
using Tailor.Onnx;
using Tailor.Training;
using Tailor.Training.Optimizers;

namespace Tailor.Bench;

/// <summary>
/// GEMM and engine train steps on the shapes of DESIGN.md's performance targets, each as GFLOP/s and as a
/// percentage of a Vector256 FMA peak loop measured in the same process minutes apart. "One core" runs in a child
/// process with DOTNET_PROCESSOR_COUNT=1, where the GEMM never splits work (exactly what Tailor does on a one-core
/// machine); "all cores" runs here.
/// </summary>
internal static class KernelBenchmarks
{
    /// <summary>One GEMM call as the engine makes it: C[m,n] += op(A)[m,k]·op(B)[k,n].</summary>
    internal sealed record GemmShape(string Id, string Name, int M, int N, int K, bool TransA, bool TransB)
    {
        public double Flop => 2.0 * M * N * K;
    }

    /// <summary>The GEMM calls of DESIGN.md's train-step targets.</summary>
    internal static readonly GemmShape[] Shapes =
    [
        new("linear8-forward", "Linear 512→10, batch 8: forward X·Wᵀ", 8, 10, 512, false, true),
        new("linear8-dW", "Linear 512→10, batch 8: dW = dYᵀ·X", 10, 512, 8, true, false),
        new("linear32-forward", "Linear 512→10, batch 32: forward X·Wᵀ", 32, 10, 512, false, true),
        new("linear32-dW", "Linear 512→10, batch 32: dW = dYᵀ·X", 10, 512, 32, true, false),
        new("conv1x1-forward", "1×1 conv 512→1000, 13×13, per image: forward W·X", 1000, 169, 512, false, false),
        new("conv1x1-dW", "1×1 conv 512→1000, 13×13, per image: dW += dY·Xᵀ", 1000, 512, 169, false, true),
        new("conv1x1-dX", "1×1 conv 512→1000, 13×13, per image: dX = Wᵀ·dY (fine-tuning below it)", 512, 169, 1000, true, false),
    ];

    /// <summary>One of the 36 GEMMs per pass of the default fine-tuning's Winograd convolution (Conv387, 512→512 on 7×7,
    /// batch 32: 128 tiles of 4×4).</summary>
    internal static readonly GemmShape[] WinogradShapes =
    [
        new("winograd-forward", "Winograd 512→512, 128 tiles, per position: forward M = V·Uᵀ", 128, 512, 512, false, true),
        new("winograd-dW", "Winograd 512→512, 128 tiles, per position: dU += dMᵀ·V", 512, 512, 128, true, false),
        new("winograd-dX", "Winograd 512→512, 128 tiles, per position: dV = dM·U", 128, 512, 512, false, false),
    ];

    internal sealed record Figure(string Name, double Seconds, double Gflops, double PercentOfPeak, double Spread);

    internal sealed record StepFigure(string Name, double Seconds, double Gflops, double PercentOfPeak, double Spread, double? PlainSeconds);

    internal sealed record Results(int Threads, double PeakGflops, double PeakMedianGflops, Figure[] Gemm, StepFigure[] Steps);

    public static int Run(bool json, bool child)
    {
        Measure.WarnIfDebug();
        if (!Fma.IsSupported || !Avx.IsSupported)
        {
            Console.Error.WriteLine("This CPU has no AVX/FMA: Tailor's GEMM runs its scalar path and there is no Vector256 FMA peak to compare with.");
            return 1;
        }
        if (Environment.GetEnvironmentVariable("TAILOR_BENCH_KERNEL_ONLY") is { } kbText)
        {
            // Tuning aid: the 6×32 register tile alone on operands in L1/L2 (kb deep), as % of the peak.
            var peak = PeakGflops(1).Gflops;
            int kb = int.Parse(kbText, CultureInfo.InvariantCulture), panels = 28;
            unsafe
            {
                float* a = (float*)NativeMemory.AlignedAlloc((nuint)(panels * kb * 6 * 4 + 64), 64);
                float* b = (float*)NativeMemory.AlignedAlloc((nuint)(kb * 32 * 4), 64);
                float* c = (float*)NativeMemory.AlignedAlloc((nuint)(panels * 6 * 32 * 4), 64);
                for (int i = 0; i < panels * kb * 6; i++) a[i] = 1e-3f;
                for (int i = 0; i < kb * 32; i++) b[i] = 1e-3f;
                for (int i = 0; i < panels * 6 * 32; i++) c[i] = 0;
                var times = new double[2000];
                for (int r = 0; r < times.Length; r++)
                {
                    long t0 = Stopwatch.GetTimestamp();
                    for (int q = 0; q < panels; q++)
                        Gemm.Kernel6x32(kb, a + (long)q * kb * 6, b, b + (long)kb * 16, c + q * 6 * 32, 32, false);
                    times[r] = Stopwatch.GetElapsedTime(t0).TotalSeconds;
                }
                Array.Sort(times);
                double gf = 2.0 * panels * 6 * 32 * kb / times[0] / 1e9;
                Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"kernel 6×32, kb {kb}, {panels} panels: {gf:F1} GF/s, {100 * gf / peak:F0}% of {peak:F1}"));
            }
            return 0;
        }
        if (Environment.GetEnvironmentVariable("TAILOR_BENCH_GEMM_ONLY") == "1")
        {
            // Tuning aid: the conv GEMM shapes (the 1×1 convolution's and the Winograd's) on this process's threads, % of the peak.
            var peak = PeakGflops(Environment.ProcessorCount).Gflops;
            Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"peak {peak:F1} GF/s on {Environment.ProcessorCount} thread(s)"));
            string? only = Environment.GetEnvironmentVariable("TAILOR_BENCH_GEMM_SHAPE");
            foreach (var shape in Shapes.Skip(4).Concat(WinogradShapes).Where(s => only is null || s.Id == only))
            {
                // On a loaded machine: many single calls, the fastest tenth (a call the scheduler did not interrupt).
                var call = GemmCall(shape);
                for (int i = 0; i < 20; i++) call();
                var times = new double[300];
                for (int i = 0; i < times.Length; i++)
                {
                    long t0 = Stopwatch.GetTimestamp();
                    call();
                    times[i] = Stopwatch.GetElapsedTime(t0).TotalSeconds;
                }
                Array.Sort(times);
                double best = times[0], p10 = times[times.Length / 10], gf = shape.Flop / p10 / 1e9;
                Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {shape.Name,-72} min {best * 1e3,7:F3} ms p10 {p10 * 1e3,7:F3} ms {gf,6:F1} GF/s {100 * gf / peak,4:F0}% median {times[times.Length / 2] * 1e3,7:F3} ms; Measure.Time {TimeGemm(shape).Median * 1e3,7:F3} ms"));
            }
            return 0;
        }
        if (Environment.GetEnvironmentVariable("TAILOR_BENCH_STEP") is { } stepId)
        {
            // Tuning aid on a loaded machine: single steps, timed one by one; the fastest tenth is what the step costs
            // when no neighbour interrupts it. conv8 or finetune32, on this process's threads.
            Timing Singles(Action step)
            {
                for (int i = 0; i < 10; i++) step();
                var times = new double[stepId == "conv8" ? 200 : 60];
                for (int i = 0; i < times.Length; i++)
                {
                    long t0 = Stopwatch.GetTimestamp();
                    step();
                    times[i] = Stopwatch.GetElapsedTime(t0).TotalSeconds;
                }
                Array.Sort(times);
                Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{stepId} {Environment.ProcessorCount} thread(s): min {times[0] * 1e3:F2} ms, p10 {times[times.Length / 10] * 1e3:F2} ms, median {times[times.Length / 2] * 1e3:F2} ms"));
                return new Timing(times[times.Length / 2], times[0], times[^1], times.Length, 1);
            }
            if (stepId == "conv8")
            {
                var rng = new Random(4);
                var suffix = SuffixGraph.Build(ConvGraph(rng), ["x"], ["prob"], new HashSet<string> { "conv.w", "conv.b", "fc.w" }, 13,
                    new Dictionary<string, int[]> { ["x"] = [512, 13, 13] });
                Singles(EngineStep(suffix, new Sgd(0.001), Random(rng, 8 * 512 * 169), [.. Enumerable.Range(0, 8).Select(i => i % 10)], 8, 10));
            }
            else
                DefaultFineTuningStep(32, Singles);
            return 0;
        }
        if (Environment.GetEnvironmentVariable("TAILOR_BENCH_FINETUNE_ONLY") == "1")
        {
            // Profiling aid: only the default fine-tuning step, on this process's threads (a profiler attaches to it).
            // Process CPU time per step as well as wall time: on a loaded machine the wall time mostly measures the
            // scheduler, the CPU time the step (with DOTNET_PROCESSOR_COUNT=1, one thread does all of it).
            // Both convolution paths, alternately (Winograd, direct, Winograd, direct): a neighbour's load falls on both.
            var cpus = new Dictionary<ConvAlgorithm, List<double>> { [ConvAlgorithm.Auto] = [], [ConvAlgorithm.Direct] = [] };
            var walls = new Dictionary<ConvAlgorithm, List<double>> { [ConvAlgorithm.Auto] = [], [ConvAlgorithm.Direct] = [] };
            // TAILOR_BENCH_CONV=winograd or direct: one path only (a profile of it alone).
            ConvAlgorithm[] paths = Environment.GetEnvironmentVariable("TAILOR_BENCH_CONV") switch
            {
                "winograd" => [ConvAlgorithm.Auto],
                "direct" => [ConvAlgorithm.Direct],
                _ => [ConvAlgorithm.Auto, ConvAlgorithm.Direct],
            };
            for (int round = 0; round < 2; round++)
                foreach (var algorithm in paths)
                {
                    Conv.Forced = algorithm;
                    var t = DefaultFineTuningStep(32, step =>
                    {
                        for (int i = 0; i < 3; i++) step();
                        var process = Process.GetCurrentProcess();
                        for (int s = 0; s < 7; s++)
                        {
                            process.Refresh();
                            var c0 = process.TotalProcessorTime;
                            for (int i = 0; i < 5; i++) step();
                            process.Refresh();
                            cpus[algorithm].Add((process.TotalProcessorTime - c0).TotalSeconds / 5);
                        }
                        return Measure.Time(step, sampleSeconds: 0.3, samples: 7);
                    });
                    walls[algorithm].Add(t.Median);
                    Conv.Forced = ConvAlgorithm.Auto;
                }
            double Median(List<double> v) { v.Sort(); return v[v.Count / 2]; }
            foreach (var (algorithm, label) in new[] { (ConvAlgorithm.Auto, "Winograd"), (ConvAlgorithm.Direct, "direct  ") })
                if (cpus[algorithm].Count > 0)
                    Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"finetune32 {Environment.ProcessorCount} thread(s), conv {label}: CPU median {Median(cpus[algorithm]) * 1e3:F2} ms (min {cpus[algorithm].Min() * 1e3:F2}, max {cpus[algorithm].Max() * 1e3:F2}); wall medians {string.Join(", ", walls[algorithm].Select(w => (w * 1e3).ToString("F2", CultureInfo.InvariantCulture)))} ms"));
            if (paths.Length == 2)
                Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"finetune32: Winograd / direct CPU time = {Median(cpus[ConvAlgorithm.Auto]) / Median(cpus[ConvAlgorithm.Direct]):F2}"));
            return 0;
        }
        if (child)
        {
            Console.Out.WriteLine(JsonSerializer.Serialize(MeasureAll(Console.Error), Measure.Json));
            return 0;
        }
        // PyTorch, when Debian's python3-torch is installed: the same steps timed right before and right after Tailor's
        // (the faster median of the two is kept: a neighbour busy during one run does not flatter Tailor).
        string? torchMissing = PyTorchPeer.Unavailable();
        string work = Directory.CreateTempSubdirectory("tailor-kernels-").FullName;
        try
        {
            JsonObject? request = torchMissing is null ? TorchRequest(work) : null;
            var torchBefore = request is null ? null : RunTorch(request);
            Console.Error.WriteLine("kernels: one core (a child process with DOTNET_PROCESSOR_COUNT=1)…");
            var one = RunSingleCoreChild();
            Console.Error.WriteLine($"kernels: all {Environment.ProcessorCount} cores…");
            var all = MeasureAll(Console.Error);
            var torchAfter = request is null ? null : RunTorch(request);
            var peer = torchBefore is null || torchAfter is null ? null : PeerRows(one, all, torchBefore, torchAfter);
            string torch = TorchSharpStatus();
            if (json)
            {
                Console.Out.WriteLine(JsonSerializer.Serialize(new
                {
                    one_core = one, all_cores = all, torchsharp = torch,
                    pytorch = peer is null ? (object)new { status = torchMissing } : new { version = torchAfter!.Version, blas = torchAfter.Blas, target_ratio = TargetRatio, rows = peer },
                }, Measure.Json));
                return 0;
            }
            Print(one, all, torch);
            PrintPeer(peer, torchAfter, torchMissing);
            return 0;
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    // ---- PyTorch as the peer -------------------------------------------------------------------------------------

    /// <summary>The target: each engine step at most this fraction of PyTorch's time for the same step.</summary>
    internal const double TargetRatio = 0.8;

    /// <summary>The ids of the engine steps, in the order <see cref="MeasureAll"/> measures them.</summary>
    private static readonly string[] StepIds = ["linear8", "linear32", "conv8", "finetune32", "finetune32"];

    internal sealed record TorchFigures(string Version, string Blas, Dictionary<int, Dictionary<string, double>> Medians);

    internal sealed record PeerRow(string Step, int Threads, double TailorSeconds, double PytorchSeconds, double Ratio, bool MeetsTarget);

    /// <summary>The steps as PyTorch runs them: the same graphs written as ONNX files, with the cut shapes, trainable
    /// tensors, batch, loss and optimizer of <see cref="MeasureAll"/>'s steps.</summary>
    private static JsonObject TorchRequest(string dir)
    {
        static JsonArray Strings(IEnumerable<string> v) => new([.. v.Select(x => (JsonNode)x)]);
        static JsonArray Shapes(IEnumerable<int[]> v) => new([.. v.Select(s => (JsonNode)new JsonArray([.. s.Select(d => (JsonNode)d)]))]);
        string Write(string name, GraphProto graph)
        {
            var model = new ModelProto { IrVersion = 8, ProducerName = "Tailor.Bench", Graph = graph };
            model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 13 });
            string path = Path.Combine(dir, name + ".onnx");
            OnnxModelFile.Write(model, path);
            return path;
        }
        var steps = new JsonArray();
        var r2 = new Random(2);
        string linear = Write("linear", LinearGraph(Random(r2, 5120, 0.05f), Random(r2, 10, 0.05f)));
        foreach (int batch in new[] { 8, 32 })
            steps.Add(new JsonObject
            {
                ["id"] = $"linear{batch}", ["model"] = linear, ["cut"] = Strings(["features"]), ["cut_shapes"] = Shapes([[512]]),
                ["output"] = "prob", ["trainable"] = Strings(["fc.w", "fc.b"]), ["batch"] = batch, ["classes"] = 10,
                ["optimizer"] = "sgd", ["lr"] = 0.01, ["warmup_seconds"] = 2.0,
            });
        steps.Add(new JsonObject
        {
            ["id"] = "conv8", ["model"] = Write("pointwise", ConvGraph(new Random(4))), ["cut"] = Strings(["x"]), ["cut_shapes"] = Shapes([[512, 13, 13]]),
            ["output"] = "prob", ["trainable"] = Strings(["conv.w", "conv.b", "fc.w"]), ["batch"] = 8, ["classes"] = 10,
            ["optimizer"] = "sgd", ["lr"] = 0.001, ["sample_seconds"] = 0.08, ["samples"] = 9,
        });
        // The default fine-tuning: the prepared model itself, cut where TrainingPlan cuts it, with its Adam settings.
        var prepared = ModelBuilder.Prepare(new PrepareOptions { Labels = ["✊", "✋", "✌️"], Capacity = 10 });
        string finetune = Path.Combine(dir, "finetune.onnx");
        prepared.Save(finetune);
        using (var plan = TrainingPlan.Create(prepared, LabeledFolder.Scan(Path.Combine(SharedData.Hands, "train")),
            new TrainingOptions { BatchSize = 32, Augmentation = Images.AugmentationOptions.None }))
        {
            var h = plan.Settings;
            steps.Add(new JsonObject
            {
                ["id"] = "finetune32", ["model"] = finetune, ["cut"] = Strings(plan.Cut.CutTensors), ["cut_shapes"] = Shapes(plan.CutShapes),
                ["output"] = prepared.Spec.Loss.Input, ["trainable"] = Strings(prepared.Spec.UpdatableLayers.SelectMany(l => l.Parameters)),
                ["batch"] = 32, ["classes"] = 3, ["nonnegative"] = true,
                ["optimizer"] = h.Optimizer == Spec.OptimizerKind.Adam ? "adam" : "sgd", ["lr"] = h.LearningRate, ["beta1"] = h.Beta1, ["beta2"] = h.Beta2,
                ["epsilon"] = h.Epsilon, ["weight_decay"] = h.WeightDecay, ["momentum"] = h.Momentum, ["nesterov"] = h.Nesterov,
                ["sample_seconds"] = 0.3, ["samples"] = 7,
            });
        }
        return new JsonObject { ["threads"] = new JsonArray(1, Environment.ProcessorCount), ["steps"] = steps };
    }

    private static TorchFigures RunTorch(JsonObject request)
    {
        Console.Error.WriteLine("kernels: the same steps in PyTorch (1 thread and all)…");
        var run = PyTorchPeer.RunPython([Path.Combine(PyTorchPeer.ScriptFolder, "torch_steps.py")], request.ToJsonString(), TimeSpan.FromMinutes(20));
        if (run.ExitCode != 0)
            throw new InvalidOperationException($"torch_steps.py failed: {PyTorchPeer.LastLine(run.Stderr)}");
        var result = JsonNode.Parse(run.Stdout)!;
        var medians = new Dictionary<int, Dictionary<string, double>>();
        foreach (var (threads, figures) in result["threads"]!.AsObject())
            medians[int.Parse(threads, CultureInfo.InvariantCulture)] = figures!.AsObject().ToDictionary(f => f.Key, f => (double)f.Value!["median"]!);
        return new TorchFigures((string)result["torch"]!, (string?)result["blas"] ?? "unknown", medians);
    }

    private static PeerRow[] PeerRows(Results one, Results all, TorchFigures before, TorchFigures after)
    {
        var rows = new List<PeerRow>();
        for (int i = 0; i < StepIds.Length; i++)
            foreach (var r in new[] { one, all })
            {
                double torch = Math.Min(before.Medians[r.Threads][StepIds[i]], after.Medians[r.Threads][StepIds[i]]);
                double tailor = r.Steps[i].Seconds;
                rows.Add(new PeerRow(r.Steps[i].Name, r.Threads, tailor, torch, tailor / torch, tailor / torch <= TargetRatio));
            }
        return [.. rows];
    }

    private static void PrintPeer(PeerRow[]? rows, TorchFigures? torch, string? missing)
    {
        var c = CultureInfo.InvariantCulture;
        string Ms(double s) => s >= 1e-3 ? (s * 1e3).ToString("F2", c) + " ms" : (s * 1e6).ToString("F1", c) + " µs";
        Console.Out.WriteLine("");
        if (rows is null)
        {
            Console.Out.WriteLine(missing);
            return;
        }
        Console.Out.WriteLine($"PyTorch {torch!.Version} (Debian's python3-torch), the same steps: the same ONNX graphs run node by node with torch functions " +
            "(bench/parity/onnx_torch.py), torch.set_num_threads = Tailor's threads, timed before and after Tailor's (the faster median kept).");
        Console.Out.WriteLine(string.Create(c, $"Ratio = Tailor time / PyTorch time; target ≤ {TargetRatio:F1}. PyTorch's BLAS (the libblas.so.3 alternative): {torch.Blas}") +
            (torch.Blas.Contains("/blas/libblas", StringComparison.Ordinal) ? " — the reference BLAS, slow; with libopenblas0-pthread installed PyTorch's GEMMs are much faster." : "."));
        int width = rows.Max(r => r.Step.Length);
        Console.Out.WriteLine($"  {"step".PadRight(width)} {"threads",7} {"Tailor",10} {"PyTorch",10} {"ratio",6}  target");
        foreach (var r in rows)
            Console.Out.WriteLine(string.Create(c, $"  {r.Step.PadRight(width)} {r.Threads,7} {Ms(r.TailorSeconds),10} {Ms(r.PytorchSeconds),10} {r.Ratio,6:F2}  {(r.MeetsTarget ? "meets" : "misses")}"));
        Console.Out.WriteLine(string.Create(c, $"{rows.Count(r => r.MeetsTarget)} of {rows.Length} rows meet the target."));
    }

    private static Results RunSingleCoreChild()
    {
        string host = Environment.ProcessPath ?? "dotnet";
        var psi = new ProcessStartInfo(host) { RedirectStandardOutput = true, StandardOutputEncoding = Encoding.UTF8 };
        // Under `dotnet run` the process is the apphost; under `dotnet Tailor.Bench.dll` it is dotnet itself.
        if (Path.GetFileNameWithoutExtension(host) == "dotnet") psi.ArgumentList.Add(typeof(KernelBenchmarks).Assembly.Location);
        psi.ArgumentList.Add("kernels");
        psi.ArgumentList.Add("--single-core-child");
        psi.Environment["DOTNET_PROCESSOR_COUNT"] = "1";
        // On one processor the runtime waits 10× longer (1 s of quiet) before compiling hot methods with full
        // optimization, so the warm-up would time tier-0 code; the multiplier only concerns start-up, not steady state.
        psi.Environment["DOTNET_TC_DelaySingleProcMultiplier"] = "1";
        using var process = Process.Start(psi) ?? throw new InvalidOperationException($"Could not start {host}.");
        string output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0) throw new InvalidOperationException($"The one-core run failed (exit {process.ExitCode}).");
        return JsonSerializer.Deserialize<Results>(output, Measure.Json) ?? throw new InvalidOperationException("The one-core run printed no results.");
    }

    private static Results MeasureAll(TextWriter log)
    {
        int threads = Environment.ProcessorCount;
        log.WriteLine($"kernels:   FMA peak loop on {threads} thread{(threads > 1 ? "s" : "")}…");
        var peakBefore = PeakGflops(threads);
        var gemm = new List<Figure>();
        foreach (var shape in Shapes)
        {
            log.WriteLine($"kernels:   GEMM {shape.Name}…");
            var t = TimeGemm(shape);
            double gflops = shape.Flop / t.Median / 1e9;
            gemm.Add(new Figure(shape.Name, t.Median, gflops, 0, t.Spread));
        }
        var steps = new List<StepFigure>();
        foreach (int batch in new[] { 8, 32 })
        {
            log.WriteLine($"kernels:   engine train step, Linear 512→10, batch {batch}…");
            var (engine, plain) = LinearStep(batch);
            double flop = 4.0 * batch * 512 * 10;
            steps.Add(new StepFigure($"Linear 512→10, batch {batch} (SGD)", engine.Median, flop / engine.Median / 1e9,
                0, engine.Spread, plain.Median));
        }
        log.WriteLine("kernels:   engine train step, 1×1 conv 512→1000 on 13×13 + pool + FC, batch 8…");
        var conv = ConvStep(8);
        // Forward and dW GEMMs of the convolution (the cut input needs no dX); pool and FC are negligible.
        double convFlop = 2 * 2.0 * 8 * 1000 * 512 * 169;
        steps.Add(new StepFigure("1×1 conv 512→1000, 13×13 + pool + FC, batch 8 (SGD)", conv.Median, convFlop / conv.Median / 1e9,
            0, conv.Spread, null));
        log.WriteLine("kernels:   engine train step, the default fine-tuning (ResNet18's last block), batch 32…");
        var block = DefaultFineTuningStep(32);
        // Forward and dW of Convolution387 (3×3, 512→512 on 7×7; the cut input needs no dX); the rest is negligible.
        double blockFlop = 2 * 2.0 * 32 * 512 * (512 * 9) * 49;
        steps.Add(new StepFigure("default fine-tuning: Conv387 3×3 512→512 on 7×7 + BN + Add + ReLU + pool + FC, batch 32 (Adam)",
            block.Median, blockFlop / block.Median / 1e9, 0, block.Spread, null));
        // The same step with the convolution forced to im2col + GEMM: what Winograd saves, measured in the same run.
        log.WriteLine("kernels:   the same step with the direct convolution (no Winograd)…");
        Conv.Forced = ConvAlgorithm.Direct;
        var direct = DefaultFineTuningStep(32);
        Conv.Forced = ConvAlgorithm.Auto;
        steps.Add(new StepFigure("  the same step, Conv387 as im2col + GEMM (Winograd off: the baseline)",
            direct.Median, blockFlop / direct.Median / 1e9, 0, direct.Spread, null));
        // The peak again at the end: a neighbour busy during one of the two measurements does not lower the peak.
        log.WriteLine("kernels:   FMA peak loop again…");
        var peakAfter = PeakGflops(threads);
        double best = Math.Max(peakBefore.Gflops, peakAfter.Gflops);
        return new Results(threads, best, Math.Max(peakBefore.Median, peakAfter.Median),
            [.. gemm.Select(f => f with { PercentOfPeak = 100 * f.Gflops / best })],
            [.. steps.Select(f => f with { PercentOfPeak = 100 * f.Gflops / best })]);
    }

    // ---- FMA peak ----------------------------------------------------------------------------------------------

    /// <summary>FLOPs per iteration of <see cref="FmaLoop"/>: 12 accumulators × 8 lanes × (multiply + add).</summary>
    internal const int FlopPerIteration = 12 * 8 * 2;

    /// <summary>Whether the peak is measured with Vector512 (the GEMM's widest tile runs where the CPU has AVX-512, and
    /// a core with full-width 512-bit FMA units does twice the Vector256 work per cycle).</summary>
    internal static bool WidePeak => Tailor.Engine.Kernels.Gemm.WideAvailable;

    /// <summary><see cref="FmaLoop"/> with Vector512 chains: 12 × 16 lanes × 2 FLOPs per iteration.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    internal static float FmaLoop512(long iterations)
    {
        var a = Vector512.Create(0.9999f);
        var b = Vector512.Create(0.001f);
        Vector512<float> x0 = Vector512.Create(0.0f), x1 = Vector512.Create(0.1f), x2 = Vector512.Create(0.2f), x3 = Vector512.Create(0.3f);
        Vector512<float> x4 = Vector512.Create(0.4f), x5 = Vector512.Create(0.5f), x6 = Vector512.Create(0.6f), x7 = Vector512.Create(0.7f);
        Vector512<float> x8 = Vector512.Create(0.8f), x9 = Vector512.Create(0.9f), x10 = Vector512.Create(1.0f), x11 = Vector512.Create(1.1f);
        for (long i = 0; i < iterations; i++)
        {
            x0 = Avx512F.FusedMultiplyAdd(x0, a, b); x1 = Avx512F.FusedMultiplyAdd(x1, a, b); x2 = Avx512F.FusedMultiplyAdd(x2, a, b); x3 = Avx512F.FusedMultiplyAdd(x3, a, b);
            x4 = Avx512F.FusedMultiplyAdd(x4, a, b); x5 = Avx512F.FusedMultiplyAdd(x5, a, b); x6 = Avx512F.FusedMultiplyAdd(x6, a, b); x7 = Avx512F.FusedMultiplyAdd(x7, a, b);
            x8 = Avx512F.FusedMultiplyAdd(x8, a, b); x9 = Avx512F.FusedMultiplyAdd(x9, a, b); x10 = Avx512F.FusedMultiplyAdd(x10, a, b); x11 = Avx512F.FusedMultiplyAdd(x11, a, b);
        }
        var sum = ((x0 + x1) + (x2 + x3)) + ((x4 + x5) + (x6 + x7)) + ((x8 + x9) + (x10 + x11));
        return Vector512.Sum(sum);
    }

    /// <summary>The peak loop at the width the GEMM uses here: iterations × FLOPs per iteration.</summary>
    internal static float PeakLoop(long iterations) => WidePeak ? FmaLoop512(iterations) : FmaLoop(iterations);

    internal static int PeakFlopPerIteration => WidePeak ? 2 * FlopPerIteration : FlopPerIteration;

    /// <summary>
    /// Twelve independent Vector256 FMA chains: enough to cover FMA latency (4–5 cycles) on two FMA ports, and few
    /// enough (12 + 2 of 16 ymm registers) to stay in registers. x ← x·a + b converges to b/(1 − a), so values stay
    /// normal (no denormal slowdown) however long it runs.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    internal static float FmaLoop(long iterations)
    {
        var a = Vector256.Create(0.9999f);
        var b = Vector256.Create(0.001f);
        Vector256<float> x0 = Vector256.Create(0.0f), x1 = Vector256.Create(0.1f), x2 = Vector256.Create(0.2f), x3 = Vector256.Create(0.3f);
        Vector256<float> x4 = Vector256.Create(0.4f), x5 = Vector256.Create(0.5f), x6 = Vector256.Create(0.6f), x7 = Vector256.Create(0.7f);
        Vector256<float> x8 = Vector256.Create(0.8f), x9 = Vector256.Create(0.9f), x10 = Vector256.Create(1.0f), x11 = Vector256.Create(1.1f);
        for (long i = 0; i < iterations; i++)
        {
            x0 = Fma.MultiplyAdd(x0, a, b); x1 = Fma.MultiplyAdd(x1, a, b); x2 = Fma.MultiplyAdd(x2, a, b); x3 = Fma.MultiplyAdd(x3, a, b);
            x4 = Fma.MultiplyAdd(x4, a, b); x5 = Fma.MultiplyAdd(x5, a, b); x6 = Fma.MultiplyAdd(x6, a, b); x7 = Fma.MultiplyAdd(x7, a, b);
            x8 = Fma.MultiplyAdd(x8, a, b); x9 = Fma.MultiplyAdd(x9, a, b); x10 = Fma.MultiplyAdd(x10, a, b); x11 = Fma.MultiplyAdd(x11, a, b);
        }
        // The sum keeps every chain alive, so the JIT cannot drop any of them.
        var sum = ((x0 + x1) + (x2 + x3)) + ((x4 + x5) + (x6 + x7)) + ((x8 + x9) + (x10 + x11));
        return Vector256.Sum(sum);
    }

    /// <summary>FMA loops on <paramref name="threads"/> dedicated threads started together: GFLOP/s of the whole, the best
    /// of 9 samples (a peak is the most the cores can do; a slower sample only means a neighbour took a core), and the
    /// median sample.</summary>
    private static (double Gflops, double Median) PeakGflops(int threads)
    {
        PeakLoop(1000);
        // Calibrate on one thread: about 40 ms per sample.
        var clock = Stopwatch.StartNew();
        long probe = 1_000_000;
        PeakLoop(probe);
        long iterations = Math.Max(probe, (long)(probe * 0.04 / clock.Elapsed.TotalSeconds));
        var rates = new double[9];
        var sink = new float[threads];
        var starts = new long[threads];
        var ends = new long[threads];
        for (int s = 0; s < rates.Length; s++)
        {
            using var start = new Barrier(threads);
            var workers = new Thread[threads];
            for (int t = 0; t < threads; t++)
            {
                int id = t;
                // Each worker stamps its own start and end: a clock read by a coordinating thread could start late
                // (descheduled on a busy machine) and report more FLOP/s than the cores can do.
                workers[t] = new Thread(() =>
                {
                    start.SignalAndWait();
                    starts[id] = Stopwatch.GetTimestamp();
                    sink[id] += PeakLoop(iterations);
                    ends[id] = Stopwatch.GetTimestamp();
                }) { IsBackground = true };
                workers[t].Start();
            }
            foreach (var w in workers) w.Join();
            double seconds = Stopwatch.GetElapsedTime(starts.Min(), ends.Max()).TotalSeconds;
            rates[s] = threads * (double)iterations * PeakFlopPerIteration / seconds / 1e9;
        }
        Array.Sort(rates);
        return (rates[^1], rates[rates.Length / 2]);
    }

    // ---- GEMM --------------------------------------------------------------------------------------------------

    private static Timing TimeGemm(GemmShape s) => Measure.Time(GemmCall(s));

    /// <summary>One call of the shape on random operands, as the engine makes it.</summary>
    internal static Action GemmCall(GemmShape s)
    {
        var rng = new Random(1);
        float[] a = Random(rng, s.M * s.K), b = Random(rng, s.K * s.N), c = new float[s.M * s.N];
        int lda = s.TransA ? s.M : s.K, ldb = s.TransB ? s.K : s.N;
        // beta = 1 (accumulate), as the engine's dW products do; C grows slowly and stays far from overflow.
        return () => Gemm.Multiply(s.TransA, s.TransB, s.M, s.N, s.K, 1f, a, lda, b, ldb, 1f, c, s.N);
    }

    // ---- engine train steps ------------------------------------------------------------------------------------

    /// <summary>The Linear 512→10 step's graph: Gemm (transB) + Softmax, from the cut input "features".</summary>
    private static GraphProto LinearGraph(float[] w, float[] bias)
    {
        var graph = new GraphProto { Name = "linear" };
        graph.Initializer.Add(OnnxTensors.FromFloats("fc.w", [10, 512], w));
        graph.Initializer.Add(OnnxTensors.FromFloats("fc.b", [10], bias));
        graph.Node.Add(OnnxGraph.Node("Gemm", "fc", ["features", "fc.w", "fc.b"], ["logits"], OnnxGraph.IntAttr("transB", 1)));
        graph.Node.Add(OnnxGraph.Node("Softmax", "softmax", ["logits"], ["prob"], OnnxGraph.IntAttr("axis", 1)));
        return graph;
    }

    /// <summary>The 1×1 conv step's graph: Conv 512→1000 (bias) + GlobalAveragePool + Flatten + Gemm 1000→10 (no bias) + Softmax,
    /// from the cut input "x" [512, 13, 13].</summary>
    private static GraphProto ConvGraph(Random rng)
    {
        var graph = new GraphProto { Name = "pointwise" };
        graph.Initializer.Add(OnnxTensors.FromFloats("conv.w", [1000, 512, 1, 1], Random(rng, 512_000, 0.04f)));
        graph.Initializer.Add(OnnxTensors.FromFloats("conv.b", [1000], Random(rng, 1000, 0.01f)));
        graph.Initializer.Add(OnnxTensors.FromFloats("fc.w", [10, 1000], Random(rng, 10_000, 0.03f)));
        graph.Node.Add(OnnxGraph.Node("Conv", "conv", ["x", "conv.w", "conv.b"], ["c"]));
        graph.Node.Add(OnnxGraph.Node("GlobalAveragePool", "pool", ["c"], ["g"]));
        graph.Node.Add(OnnxGraph.Node("Flatten", "flatten", ["g"], ["f"]));
        graph.Node.Add(OnnxGraph.Node("Gemm", "fc", ["f", "fc.w"], ["logits"], OnnxGraph.IntAttr("transB", 1)));
        graph.Node.Add(OnnxGraph.Node("Softmax", "softmax", ["logits"], ["prob"], OnnxGraph.IntAttr("axis", 1)));
        return graph;
    }

    private static (Timing Engine, Timing Plain) LinearStep(int batch)
    {
        const int inputs = 512, classes = 10;
        var rng = new Random(2);
        float[] w = Random(rng, classes * inputs, 0.05f), bias = Random(rng, classes, 0.05f);
        var suffix = SuffixGraph.Build(LinearGraph(w, bias), ["features"], ["prob"], new HashSet<string> { "fc.w", "fc.b" }, 13,
            new Dictionary<string, int[]> { ["features"] = [inputs] });
        float[] x = Random(rng, batch * inputs);
        int[] labels = Enumerable.Range(0, batch).Select(i => i % classes).ToArray();
        // A longer warm-up: the step calls dozens of engine methods, and with tiered PGO each passes through an
        // instrumented tier before its final code; after 0.5 s the batch-8 step still ran partly instrumented (13–23 µs
        // instead of 4 µs; DOTNET_TieredPGO=0 gave 4 µs at once).
        var engine = Measure.Time(EngineStep(suffix, new Sgd(0.01), x, labels, batch, classes), warmupSeconds: 2);

        // The floor: the same step written directly with TensorPrimitives, no graph (DESIGN.md's "plain Vector<float> code").
        float[] pw = (float[])w.Clone(), pb = (float[])bias.Clone(), z = new float[batch * classes], gw = new float[classes * inputs], gb = new float[classes];
        var plain = Measure.Time(() =>
        {
            for (int i = 0; i < batch; i++)
            {
                var xi = x.AsSpan(i * inputs, inputs);
                var zi = z.AsSpan(i * classes, classes);
                for (int c = 0; c < classes; c++) zi[c] = TensorPrimitives.Dot(xi, pw.AsSpan(c * inputs, inputs)) + pb[c];
                TensorPrimitives.SoftMax(zi, zi);
                zi[labels[i]] -= 1f;
                TensorPrimitives.Multiply(zi, 1f / batch, zi);
            }
            gw.AsSpan().Clear();
            gb.AsSpan().Clear();
            for (int i = 0; i < batch; i++)
                for (int c = 0; c < classes; c++)
                {
                    float g = z[i * classes + c];
                    var row = gw.AsSpan(c * inputs, inputs);
                    TensorPrimitives.MultiplyAdd(x.AsSpan(i * inputs, inputs), g, row, row);
                    gb[c] += g;
                }
            TensorPrimitives.MultiplyAdd(gw, -0.01f, pw, pw);
            TensorPrimitives.MultiplyAdd(gb, -0.01f, pb, pb);
        });
        return (engine, plain);
    }

    private static Timing ConvStep(int batch)
    {
        var rng = new Random(4);
        var suffix = SuffixGraph.Build(ConvGraph(rng), ["x"], ["prob"], new HashSet<string> { "conv.w", "conv.b", "fc.w" }, 13,
            new Dictionary<string, int[]> { ["x"] = [512, 13, 13] });
        float[] x = Random(rng, batch * 512 * 169);
        int[] labels = Enumerable.Range(0, batch).Select(i => i % 10).ToArray();
        // About 25–90 ms a step: a few steps per sample and fewer samples keep the whole run near a minute.
        return Measure.Time(EngineStep(suffix, new Sgd(0.001), x, labels, batch, 10), sampleSeconds: 0.08, samples: 9);
    }

    /// <summary>
    /// One train step of what <c>tailor prepare</c> + <c>tailor train</c> fine-tune by default: the embedded ResNet18's
    /// suffix after the cut (Convolution387, BatchNormalization389, the residual Add, ReLU, pooling, L2 normalization,
    /// classifier), built from the prepared model exactly as UpdateTask builds it, with Adam.
    /// </summary>
    private static Timing DefaultFineTuningStep(int batch, Func<Action, Timing>? measure = null)
    {
        var model = ModelBuilder.Prepare(new PrepareOptions { Labels = ["✊", "✋", "✌️"], Capacity = 10 });
        // The plan and session an app or UpdateTask makes (the hands photos only name the labels: no feature is computed).
        using var plan = TrainingPlan.Create(model, LabeledFolder.Scan(Path.Combine(SharedData.Hands, "train")),
            new TrainingOptions { BatchSize = batch, Augmentation = Images.AugmentationOptions.None });
        using var session = new TrainingSession(plan);
        var rng = new Random(6);
        // The cut tensors are ReLU outputs: non-negative. One row per example: its cut tensors back to back, as the cache holds them.
        int[] lengths = [.. plan.CutShapes.Select(s => s.Aggregate(1, (a, d) => a * d))];
        plan.Dispose();   // the prefix's ONNX Runtime session is not needed for steps
        var rows = Random(rng, batch * lengths.Sum()).Select(MathF.Abs).ToArray();
        using var set = new Tailor.Training.FeatureSet(FeatureCache.InMemory(lengths, rows), [.. Enumerable.Range(0, batch).Select(i => i % 3)], seed: 0, shuffle: false);
        var features = set.Batches(batch).First();
        // About 100 ms a step on two cores: fewer, longer samples.
        Action step = () => session.TrainStep(features);
        return measure is null ? Measure.Time(step, sampleSeconds: 0.3, samples: 7) : measure(step);
    }

    /// <summary>One SGD train step as UpdateTask and an app's own loop run it: <see cref="TrainingSession.TrainStep"/> on a
    /// batch of cached features (read into the graph's input, forward, cross-entropy, backward, optimizer step).</summary>
    private static Action EngineStep(SuffixGraph graph, Optimizer optimizer, float[] x, int[] labels, int batch, int classes)
    {
        var loss = new TrainingLoss([new Spec.LossSpec { Input = graph.OutputNames[0] }], classes);
        var session = new TrainingSession(graph, loss, optimizer, classes, Settings(batch));
        int exampleLength = x.Length / batch;
        var set = new Tailor.Training.FeatureSet(FeatureCache.InMemory([exampleLength], x), labels[..batch], seed: 0, shuffle: false);
        var features = set.Batches(batch).First();
        return () => session.TrainStep(features);
    }

    /// <summary>What a synthetic session records in a checkpoint (it writes none here).</summary>
    private static TrainingSettings Settings(int batch) =>
        new(Spec.OptimizerKind.Sgd, 1, 0.01, batch, false, 0, 0, false, 0.9, 0.999, 1e-8, 0, Images.AugmentationOptions.None, null);

    private static float[] Random(Random rng, int count, float scale = 1f)
    {
        var v = new float[count];
        for (int i = 0; i < count; i++) v[i] = (float)(rng.NextDouble() * 2 - 1) * scale;
        return v;
    }

    // ---- output ------------------------------------------------------------------------------------------------

    /// <summary>TorchSharp-cpu's libtorch needs GLIBCXX_3.4.32 (GCC 13's libstdc++); say what this machine has instead of faking a figure.</summary>
    internal static string TorchSharpStatus()
    {
        const string lib = "/usr/lib/x86_64-linux-gnu/libstdc++.so.6";
        string newest = "unknown";
        try
        {
            var text = Encoding.ASCII.GetString(File.ReadAllBytes(lib));
            newest = System.Text.RegularExpressions.Regex.Matches(text, @"GLIBCXX_3\.4\.(\d+)")
                .Select(m => int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture)).DefaultIfEmpty(-1).Max() is int v and >= 0 ? $"GLIBCXX_3.4.{v}" : "none";
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return $"not measured: TorchSharp-cpu's native libtorch needs GLIBCXX_3.4.32, and this machine's libstdc++ ({lib}) provides up to {newest}. " +
            "DESIGN.md's TorchSharp figures (0.10 / 0.12 ms Linear steps, 24 ms conv step) come from another machine and run, so no ratio to them is printed.";
    }

    private static void Print(Results one, Results all, string torch)
    {
        var c = CultureInfo.InvariantCulture;
        void Line(string text) => Console.Out.WriteLine(text);
        string Ms(double s) => s >= 1e-3 ? (s * 1e3).ToString("F3", c) + " ms" : (s * 1e6).ToString("F2", c) + " µs";
        Line($"Tailor kernels: {(Measure.TailorIsOptimized ? "Release" : "Debug (unoptimized!)")} build, .NET {Environment.Version}, {Environment.ProcessorCount} cores, " +
            $"AVX-512 {(WidePeak ? "present (the GEMM's packed tile and the peak loop use Vector512)" : Avx512F.IsSupported ? "present but not accelerated (Vector256)" : "absent (Vector256)")}");
        Line(string.Create(c, $"FMA peak loop ({(WidePeak ? "Vector512" : "Vector256")}, 12 chains; best sample): {one.PeakGflops:F1} GFLOP/s on 1 core (median sample {one.PeakMedianGflops:F1}), ") +
            string.Create(c, $"{all.PeakGflops:F1} GFLOP/s on {all.Threads} (median sample {all.PeakMedianGflops:F1})"));
        Line("");
        Line("GEMM (median per call; % of the FMA peak measured on as many cores)");
        Line($"  {"shape",-72} {"1 core",28}   {$"{all.Threads} cores",28}");
        for (int i = 0; i < one.Gemm.Length; i++)
        {
            var a = one.Gemm[i];
            var b = all.Gemm[i];
            Line(string.Create(c, $"  {a.Name,-72} {Ms(a.Seconds),10} {a.Gflops,6:F1} GF/s {a.PercentOfPeak,4:F0}%   {Ms(b.Seconds),10} {b.Gflops,6:F1} GF/s {b.PercentOfPeak,4:F0}%"));
        }
        Line("");
        Line("Engine train steps (forward, loss, backward, SGD; median per step)");
        for (int i = 0; i < one.Steps.Length; i++)
        {
            var a = one.Steps[i];
            var b = all.Steps[i];
            Line(string.Create(c, $"  {a.Name,-72} {Ms(a.Seconds),10} {a.Gflops,6:F1} GF/s {a.PercentOfPeak,4:F0}%   {Ms(b.Seconds),10} {b.Gflops,6:F1} GF/s {b.PercentOfPeak,4:F0}%"));
            if (a.PlainSeconds is double pa && b.PlainSeconds is double pb)
                Line(string.Create(c, $"    same step in plain TensorPrimitives code: {Ms(pa)} / {Ms(pb)} → engine is {a.Seconds / pa:F2}× / {b.Seconds / pb:F2}× the plain code"));
        }
        Line("");
        Line(string.Create(c, $"Targets: ≥ 80% of peak in the conv GEMMs (measured above: forward {all.Gemm[4].PercentOfPeak:F0}%, dW {all.Gemm[5].PercentOfPeak:F0}% on {all.Threads} cores; ") +
            string.Create(c, $"{one.Gemm[4].PercentOfPeak:F0}% / {one.Gemm[5].PercentOfPeak:F0}% on 1)."));
        Line("TorchSharp: " + torch);
        double spread = one.Gemm.Concat(all.Gemm).Max(f => f.Spread);
        Line(string.Create(c, $"Largest sample spread (max − min) / median: {spread:P0}; a large spread means a busy machine: rerun before quoting."));
    }
}
