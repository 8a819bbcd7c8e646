using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Tailor.Building;
using Tailor.Data;
using Tailor.Onnx;
using Tailor.Spec;
using Tailor.Training;
using Tailor.Training.Schedules;

namespace Tailor.Bench;

/// <summary>
/// PyTorch parity, a developer tool (needs Debian's python3-torch and python3-onnx; never CI): for each ONNX classifier
/// in a folder (default ../shared/models), Tailor makes its last block and classifier updatable (<c>prepare --from</c>:
/// the model's own classifier, labels ✊ ✋ ✌️ in slots 0..2) and trains one SGD step, and separately three Adam steps,
/// with the spec's default hyperparameters on 8 hands photos (batch 8, no augmentation, constant rate, no shuffle);
/// PyTorch trains the same suffix of the same graph (bench/parity/onnx_torch.py runs each ONNX node with the torch
/// function that computes it) from the same cut features, which Tailor's frozen prefix computed, with the same loss and
/// optimizers. Every trained tensor is compared relative to PyTorch's update, every frozen tensor of Tailor's written
/// model against the original file.
/// </summary>
internal static class Parity
{
    private const int Photos = 8;
    private const int AdamSteps = 3;

    public static int Run(string? modelsFolder, int? layerCount, bool json, bool keep)
    {
        Measure.WarnIfDebug();
        if (PyTorchPeer.Unavailable() is string missing)
        {
            Console.Error.WriteLine(missing);
            return 2;
        }
        string folder = modelsFolder ?? SharedData.Models;
        if (!Directory.Exists(folder))
        {
            Console.Error.WriteLine($"The models folder '{folder}' does not exist (--models DIR: a folder of *.onnx classifiers).");
            return 2;
        }
        var files = Directory.GetFiles(folder, "*.onnx").Order(StringComparer.Ordinal).ToArray();
        if (files.Length == 0)
        {
            Console.Error.WriteLine($"The models folder '{folder}' holds no *.onnx file.");
            return 2;
        }
        string work = Directory.CreateTempSubdirectory("tailor-parity-").FullName;
        var rows = new List<ParityReport.Row>();
        var details = new JsonArray();
        try
        {
            var photos = PhotoBatch();
            foreach (var file in files)
            {
                Console.Error.WriteLine($"parity: {Path.GetFileName(file)}…");
                var (row, detail) = One(file, layerCount, photos, Directory.CreateDirectory(Path.Combine(work, Path.GetFileNameWithoutExtension(file))).FullName);
                rows.Add(row);
                details.Add(detail);
                Console.Error.WriteLine($"parity:   {row.Verdict}" + (row.Refusal is null ? $" (gradients {ParityReport.Error(row.GradientError)}, SGD {ParityReport.Error(row.SgdError)}, Adam {ParityReport.Error(row.AdamError)}; free-run Adam drift {ParityReport.Error(row.AdamDrift)})" : $": {row.Refusal}"));
            }
        }
        finally
        {
            if (keep) Console.Error.WriteLine($"parity: the models and tensors are kept in {work}");
            else Directory.Delete(work, recursive: true);
        }
        if (json)
            Console.Out.WriteLine(new JsonObject { ["tolerance"] = ParityReport.Tolerance, ["torch"] = PyTorchPeer.Version(), ["models"] = details }
                .ToJsonString(Measure.Json));
        else
        {
            Console.Out.WriteLine($"PyTorch parity (PyTorch {PyTorchPeer.Version()}; {Photos} hands photos, batch {Photos}; one SGD step and {AdamSteps} Adam steps with the spec's default hyperparameters;");
            var c = CultureInfo.InvariantCulture;
            Console.Out.WriteLine($"each step from Tailor's weights before it: gradient error = max |g_tailor − g_torch| / max |g_torch|, pass ≤ {ParityReport.GradientTolerance.ToString(c)};");
            Console.Out.WriteLine($"update error = max |Δtailor − Δtorch| / max |Δtorch| over each trained tensor, pass ≤ {ParityReport.Tolerance.ToString(c)}, Adam's without the elements whose gradient + L2 decay");
            Console.Out.WriteLine($"is below the float noise floor ({ParityReport.NoiseFloor.ToString(c)} × the tensor's largest); drift = the same error of the two free-running 3-step trajectories, information only)");
            Console.Out.WriteLine();
            Console.Out.Write(ParityReport.Table(rows));
        }
        return rows.All(r => r.Ok) ? 0 : 1;
    }

    /// <summary>The first photos of each label of hands/train, in ordinal order, 8 in all (3 ✊, 3 ✋, 2 ✌️).</summary>
    private static LabeledFolder PhotoBatch()
    {
        var train = LabeledFolder.Scan(Path.Combine(SharedData.Hands, "train"));
        var labels = train.Labels.ToArray();
        var chosen = new List<LabeledExample>();
        for (int i = 0; chosen.Count < Photos; i++)
            foreach (var label in labels)
                if (chosen.Count < Photos && train.ExamplesOf(label).Order(Comparer<LabeledExample>.Create((a, b) => string.CompareOrdinal(a.Path, b.Path))).ElementAtOrDefault(i) is { } e)
                    chosen.Add(e);
        return LabeledFolder.FromExamples(chosen);
    }

    /// <summary>How many of the last updatable-candidate layers (Conv, Gemm, MatMul, BatchNormalization) make "the last
    /// block + classifier" of each torchvision architecture, as exported.</summary>
    internal static int DefaultLayerCount(string model) => model switch
    {
        _ when model.StartsWith("squeezenet", StringComparison.Ordinal) => 4,        // fire 12: squeeze, expand 1×1, expand 3×3; classifier conv
        _ when model.StartsWith("mobilenet_v2", StringComparison.Ordinal) => 9,      // block 17 (3 conv + 3 BN), conv 18 + BN, classifier
        _ when model.StartsWith("mobilenet_v3", StringComparison.Ordinal) => 8,      // block 11 (expand, depthwise, SE fc1/fc2, project), conv 12, two Linear
        _ when model.StartsWith("shufflenet", StringComparison.Ordinal) => 5,        // stage 4's last unit (3 conv), conv5, fc
        _ => 2,                                                                      // efficientnet: conv 8 + classifier; densenet: norm5 + classifier
    };

    private static (ParityReport.Row Row, JsonObject Detail) One(string path, int? layerCount, LabeledFolder photos, string work)
    {
        string name = Path.GetFileNameWithoutExtension(path);
        var original = OnnxModelFile.Read(path).Graph;
        var layers = ModelBuilder.CandidateLayers(original).TakeLast(layerCount ?? DefaultLayerCount(name)).ToList();
        var detail = new JsonObject { ["model"] = name, ["layers"] = new JsonArray([.. layers.Select(l => (JsonNode)l)]) };
        try
        {
            var sgd = Train(path, layers, OptimizerKind.Sgd, 1, photos, work, "sgd");
            var adam = Train(path, layers, OptimizerKind.Adam, AdamSteps, photos, work, "adam");
            string[] trainable = sgd.Trainable;

            // PyTorch: the same suffix of the model Tailor started from, from the features Tailor's prefix computed.
            var request = new JsonObject
            {
                ["model"] = sgd.StartPath, ["cut"] = new JsonArray([.. sgd.Cut.Select(c => (JsonNode)c)]),
                ["cut_shapes"] = new JsonArray([.. sgd.CutShapes.Select(s => (JsonNode)new JsonArray([.. s.Select(d => (JsonNode)d)]))]),
                ["features"] = sgd.FeaturesPath, ["labels"] = new JsonArray([.. sgd.Slots.Select(s => (JsonNode)s)]),
                ["output"] = sgd.Output, ["trainable"] = new JsonArray([.. trainable.Select(t => (JsonNode)t)]),
                ["runs"] = new JsonArray(Run("sgd", sgd, work), Run("adam", adam, work)),
            };
            // The slot mask as training applies it: the slots with examples (0..2) live, the model's other classes masked out
            // of the softmax (Tailor writes it into the trained model; both runs use the same).
            string maskPath = Path.Combine(work, "slot_mask.f32");
            File.WriteAllBytes(maskPath, System.Runtime.InteropServices.MemoryMarshal.AsBytes(
                OnnxTensors.ToFloats(OnnxModelFile.Read(sgd.TrainedPath).Graph.GetInitializer(ModelBuilder.SlotMaskInitializer)).AsSpan()).ToArray());
            request["overrides"] = new JsonObject { [ModelBuilder.SlotMaskInitializer] = maskPath };
            string requestPath = Path.Combine(work, "request.json");
            File.WriteAllText(requestPath, request.ToJsonString());
            var py = PyTorchPeer.RunPython([Path.Combine(PyTorchPeer.ScriptFolder, "torch_parity.py"), requestPath], null, TimeSpan.FromMinutes(20));
            if (py.ExitCode != 0)
                throw new InvalidOperationException($"torch_parity.py failed on {name}: {PyTorchPeer.LastLine(py.Stderr)}");
            var torchLosses = JsonNode.Parse(py.Stdout)!["runs"]!.AsArray().Select(r => r!["losses"]!.AsArray().Select(l => l is null ? double.NaN : (double)l).ToArray()).ToArray();

            // The free-running comparison: each engine's own trajectory (for SGD's one step, the same start: the verdict).
            var (sgdError, sgdWorst, sgdTensors) = Compare(sgd, Path.Combine(work, "sgd.torch.f32"));
            var (adamDrift, _, adamDriftTensors) = Compare(adam, Path.Combine(work, "adam.torch.f32"));
            // Step by step from Tailor's weights: the gradients, and Adam's update with noise-floor elements left out.
            var sgdSteps = CompareSteps(sgd, Path.Combine(work, "sgd.torch.f32"), work, "sgd");
            var adamSteps = CompareSteps(adam, Path.Combine(work, "adam.torch.f32"), work, "adam");
            double gradientError = Math.Max(sgdSteps.GradientError, adamSteps.GradientError);
            double adamError = adamSteps.UpdateError;
            var (frozenOk, frozenChanged) = FrozenUnchanged(original, sgd, adam);
            string worst = gradientError / ParityReport.GradientTolerance > Math.Max(sgdError, adamError) / ParityReport.Tolerance
                ? (sgdSteps.GradientError >= adamSteps.GradientError ? sgdSteps.WorstGradient : adamSteps.WorstGradient)
                : sgdError >= adamError ? sgdWorst : adamSteps.WorstUpdate;
            var row = new ParityReport.Row(name, layers, sgdError, adamError, frozenOk,
                WorstTensor: worst, FrozenChanged: frozenChanged, GradientError: gradientError, AdamDrift: adamDrift);
            detail["gradient_error"] = Number(gradientError);
            detail["sgd_error"] = Number(sgdError);
            detail["adam_error"] = Number(adamError);
            detail["adam_drift"] = Number(adamDrift);
            detail["frozen_unchanged"] = frozenOk;
            detail["verdict"] = row.Verdict;
            detail["tensors"] = new JsonObject
            {
                ["sgd"] = sgdTensors, ["adam_drift"] = adamDriftTensors, ["sgd_steps"] = sgdSteps.PerTensor, ["adam_steps"] = adamSteps.PerTensor,
            };
            detail["losses"] = new JsonObject
            {
                ["tailor_sgd"] = Doubles(sgd.Losses), ["torch_sgd"] = Doubles(torchLosses[0]),
                ["tailor_adam"] = Doubles(adam.Losses), ["torch_adam"] = Doubles(torchLosses[1]),
            };
            return (row, detail);
        }
        catch (TailorException e)
        {
            detail["refusal"] = e.Message;
            detail["verdict"] = "cannot train yet";
            return (new ParityReport.Row(name, layers, null, null, null, Refusal: e.Message), detail);
        }
        catch (Exception e) when (e is not InvalidOperationException)
        {
            // Not a refusal: Tailor failed where it should either train or say why not (a bug to report).
            // The throwing method only (no file path of this machine): "FeatureExtractor.CopyFeatures".
            string frame = e.StackTrace?.Split('\n', StringSplitOptions.TrimEntries).FirstOrDefault() ?? "";
            var method = System.Text.RegularExpressions.Regex.Match(frame, @"^at (?:[\w`]+\.)*?(\w+\.\w+)\(");
            string message = $"{e.GetType().Name} in {(method.Success ? method.Groups[1].Value : "?")}: {e.Message}";
            detail["failure"] = message;
            detail["verdict"] = "Tailor failed";
            return (new ParityReport.Row(name, layers, null, null, null, Refusal: message, Failed: true), detail);
        }
    }

    private static JsonNode? Number(double v) => double.IsFinite(v) ? JsonValue.Create(v) : JsonValue.Create(v.ToString(CultureInfo.InvariantCulture));

    private static JsonArray Doubles(IEnumerable<double> values) => new([.. values.Select(Number)]);

    private static JsonObject Run(string name, TailorRun run, string work) => new()
    {
        ["name"] = name, ["optimizer"] = name, ["steps"] = run.Steps, ["out"] = Path.Combine(work, $"{name}.torch.f32"),
        ["lr"] = run.Settings.LearningRate, ["momentum"] = run.Settings.Momentum, ["nesterov"] = run.Settings.Nesterov,
        ["beta1"] = run.Settings.Beta1, ["beta2"] = run.Settings.Beta2, ["epsilon"] = run.Settings.Epsilon,
        ["weight_decay"] = run.Settings.WeightDecay, ["tailor_weights"] = Path.Combine(work, $"{name}.tailor.w.f32"),
    };

    /// <summary>What one Tailor run left: the model it started from, the cut and its features, the written model.</summary>
    private sealed record TailorRun(string StartPath, string TrainedPath, string[] Trainable, string[] Cut, int[][] CutShapes,
        string FeaturesPath, int[] Slots, string Output, int Steps, TrainingSettings Settings, double[] Losses);

    private static TailorRun Train(string path, IReadOnlyList<string> layers, OptimizerKind optimizer, int steps, LabeledFolder photos, string work, string tag)
    {
        // The model's own classifier; the hands labels name its first three classes, so they train slots 0..2.
        var outputs = OnnxModelFile.Read(path).Graph.Output;
        long classes = outputs.Count == 1 && outputs[0].Dims() is [.., > 0 and var n] ? n
            : throw new InvalidOperationException($"{Path.GetFileName(path)}: one output [N, classes] was expected (the torchvision exports' 'logits').");
        var labels = photos.Labels.Concat(Enumerable.Range(photos.Labels.Count, (int)classes - photos.Labels.Count).Select(i => "class" + i.ToString(CultureInfo.InvariantCulture))).ToList();
        var model = ModelBuilder.Expand(path, new ExpandOptions
        {
            Capacity = (int)classes, Labels = labels, Optimizer = optimizer, UpdatableLayers = layers,
            Augmentation = Images.AugmentationOptions.None, LearningRateSchedule = "constant",
        });
        string start = Path.Combine(work, $"{tag}.start.onnx");
        model.Save(start);
        var options = new TrainingOptions
        {
            Epochs = steps, BatchSize = Photos, Shuffle = false, KeepBest = false, ValidationSplit = 0,
            Augmentation = Images.AugmentationOptions.None, Schedule = LearningRateSchedule.Parse("constant"),
        };

        // The cut features exactly as training computes them (no augmentation: one variant, deterministic).
        string featuresPath = Path.Combine(work, $"{tag}.features.f32");
        string[] cut;
        int[][] cutShapes;
        int[] slots;
        TrainingSettings settings;
        using (var plan = TrainingPlan.Create(UpdatableModel.Load(start), photos, options))
        using (var data = plan.ComputeFeatures())
        {
            cut = [.. plan.Cut.CutTensors];
            cutShapes = [.. plan.CutShapes];
            settings = plan.Settings;
            var (matrix, rowLength, _, rowSlots) = data.Train.ToMatrix();
            slots = rowSlots;
            int rows = slots.Length;
            using var f = new BinaryWriter(File.Create(featuresPath));
            int offset = 0;
            foreach (var shape in cutShapes)
            {
                int length = shape.Aggregate(1, (a, d) => a * d);
                for (int r = 0; r < rows; r++)
                    foreach (float v in matrix.AsSpan(r * rowLength + offset, length)) f.Write(v);
                offset += length;
            }

            // Per step: the weights before it and the gradient it computed, from a session on the same plan and features
            // (UpdateTask's run below trains the same steps; the final weights are checked equal). PyTorch computes its
            // gradient at these same weights (no trajectory drift) and on its own trajectory.
            using var session = new TrainingSession(plan);
            var byName = session.Parameters.GroupBy(p => p.Name).ToDictionary(g => g.Key, g => g.First());
            string[] names = [.. model.Spec.UpdatableLayers.SelectMany(l => l.Parameters).Distinct()];
            using (var w = new BinaryWriter(File.Create(Path.Combine(work, $"{tag}.tailor.w.f32"))))
            using (var g = new BinaryWriter(File.Create(Path.Combine(work, $"{tag}.tailor.g.f32"))))
                for (int step = 0; step < steps; step++)
                {
                    foreach (var name in names) w.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(byName[name].Value));
                    session.TrainStep(data.Train.Batches(Photos).First());
                    foreach (var name in names) g.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(byName[name].Gradient));
                }
            using (var w = new BinaryWriter(File.Create(Path.Combine(work, $"{tag}.tailor.session.f32"))))
                foreach (var name in names) w.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(byName[name].Value));
        }

        var losses = new List<double>();
        var task = new UpdateTask(model, photos, options: options);
        task.MiniBatchEnded += (_, e) => losses.Add(e.Loss);
        var result = task.Run();
        if (result.State != TrainingState.Completed)
            throw new TailorException(result.Reason ?? $"Training ended {result.State}.");
        if (losses.Count != steps)
            throw new InvalidOperationException($"{Path.GetFileName(path)}: Tailor ran {losses.Count} steps, {steps} expected ({Photos} photos, batch {Photos}).");
        string trained = Path.Combine(work, $"{tag}.tailor.onnx");
        model.Save(trained);
        string[] trainable = [.. model.Spec.UpdatableLayers.SelectMany(l => l.Parameters).Distinct()];
        return new TailorRun(start, trained, trainable, cut, cutShapes, featuresPath, slots, model.Spec.Loss.Input, steps, settings, [.. losses]);
    }

    /// <summary>The worst relative error over the trained tensors, its tensor, and every tensor's error.</summary>
    private static (double Error, string Worst, JsonObject PerTensor) Compare(TailorRun run, string torchPath)
    {
        var before = OnnxModelFile.Read(run.StartPath).Graph;
        var after = OnnxModelFile.Read(run.TrainedPath).Graph;
        byte[] torchBytes = File.ReadAllBytes(torchPath);
        var torch = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(torchBytes);
        double worst = 0;
        string worstName = "";
        var per = new JsonObject();
        int offset = 0;
        foreach (var name in run.Trainable)
        {
            float[] b = OnnxTensors.ToFloats(before.GetInitializer(name));
            float[] t = OnnxTensors.ToFloats(after.GetInitializer(name));
            double e = ParityReport.RelativeError(b, t, torch.Slice(offset, b.Length));
            offset += b.Length;
            per[name] = Number(e);
            if (!(e <= worst)) { worst = e; worstName = name; }
        }
        if (offset != torch.Length)
            throw new InvalidOperationException($"{torchPath}: {torch.Length} floats, the trained tensors have {offset}.");
        return (worst, worstName, per);
    }

    private sealed record StepComparison(double GradientError, string WorstGradient, double UpdateError, string WorstUpdate, JsonObject PerTensor);

    /// <summary>
    /// Step by step, both engines from the same point, Tailor's weights before each step: each tensor's gradient
    /// (<see cref="ParityReport.GradientError"/>), and the update PyTorch's optimizer makes from there (its state carried
    /// from its own earlier steps) against Tailor's (<see cref="ParityReport.MaskedRelativeError"/>). Two free-running
    /// trajectories drift apart where Adam normalizes gradients at the noise floor, and the drift feeds every later
    /// gradient; from the same point it cannot. Tailor's trajectory comes from a session run beside UpdateTask's: its last
    /// weights must equal the written model's, bit for bit.
    /// </summary>
    private static StepComparison CompareSteps(TailorRun run, string torchPath, string work, string tag)
    {
        var start = OnnxModelFile.Read(run.StartPath).Graph;
        var trained = OnnxModelFile.Read(run.TrainedPath).Graph;
        int[] sizes = [.. run.Trainable.Select(n => OnnxTensors.ToFloats(start.GetInitializer(n)).Length)];
        int total = sizes.Sum();
        float[] Read(string path, int steps)
        {
            float[] v = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(File.ReadAllBytes(path)).ToArray();
            return v.Length == steps * total ? v : throw new InvalidOperationException($"{path}: {v.Length} floats, {steps} steps of {total} expected.");
        }
        int n = run.Steps;
        float[] tailorW = Read(Path.Combine(work, $"{tag}.tailor.w.f32"), n), tailorG = Read(Path.Combine(work, $"{tag}.tailor.g.f32"), n);
        float[] session = Read(Path.Combine(work, $"{tag}.tailor.session.f32"), 1);
        float[] torchG = Read(torchPath + ".replay.g", n), torchW = Read(torchPath + ".replay.w", n);
        int offset = 0;
        for (int p = 0; p < sizes.Length; offset += sizes[p], p++)
            if (!OnnxTensors.ToFloats(trained.GetInitializer(run.Trainable[p])).AsSpan().SequenceEqual(session.AsSpan(offset, sizes[p])))
                throw new InvalidOperationException($"{tag}: the session's steps did not end where UpdateTask's did (`{run.Trainable[p]}`).");

        double worstG = 0, worstU = 0;
        string worstGName = "", worstUName = "";
        var per = new JsonObject();
        offset = 0;
        for (int p = 0; p < sizes.Length; offset += sizes[p], p++)
        {
            string name = run.Trainable[p];
            // The noise floor concerns what Adam normalizes: the gradient with the L2 decay λ·w added (both optimizers add
            // it; where ∇ and λ·w nearly cancel, the sum is rounding too).
            var gt = new List<float[]>();
            var gp = new List<float[]>();
            var et = new List<float[]>();
            var ep = new List<float[]>();
            float decay = (float)run.Settings.WeightDecay;
            var gradients = new JsonArray();
            var updates = new JsonArray();
            var masked = new JsonArray();
            for (int s = 0; s < n; s++)
            {
                gt.Add(tailorG.AsSpan(s * total + offset, sizes[p]).ToArray());
                gp.Add(torchG.AsSpan(s * total + offset, sizes[p]).ToArray());
                double g = ParityReport.GradientError(gt[s], gp[s]);
                var before = tailorW.AsSpan(s * total + offset, sizes[p]);
                float[] wt = before.ToArray();
                et.Add([.. gt[s].Select((v, i) => v + decay * wt[i])]);
                ep.Add([.. gp[s].Select((v, i) => v + decay * wt[i])]);
                var after = s + 1 < n ? tailorW.AsSpan((s + 1) * total + offset, sizes[p]) : session.AsSpan(offset, sizes[p]);
                var (u, m) = ParityReport.MaskedRelativeError(before, after, torchW.AsSpan(s * total + offset, sizes[p]), et, ep);
                gradients.Add(Number(g));
                updates.Add(Number(u));
                masked.Add(m);
                if (!(g <= worstG)) { worstG = g; worstGName = name; }
                if (!(u <= worstU)) { worstU = u; worstUName = name; }
            }
            per[name] = new JsonObject { ["gradient"] = gradients, ["update"] = updates, ["masked"] = masked, ["elements"] = sizes[p] };
        }
        return new StepComparison(worstG, worstGName, worstU, worstUName, per);
    }

    /// <summary>Every initializer of Tailor's written models that is not trained equals the original file's (or, for what
    /// Tailor added, the prepared model's), bit for bit.</summary>
    private static (bool Ok, string? Changed) FrozenUnchanged(global::Onnx.GraphProto original, TailorRun sgd, TailorRun adam)
    {
        foreach (var run in new[] { sgd, adam })
        {
            var start = OnnxModelFile.Read(run.StartPath).Graph;
            var trained = OnnxModelFile.Read(run.TrainedPath).Graph;
            var trainable = run.Trainable.ToHashSet(StringComparer.Ordinal);
            foreach (var t in trained.Initializer)
            {
                // The slot mask records which slots training had examples for (it is not a weight).
                if (trainable.Contains(t.Name) || t.Name == ModelBuilder.SlotMaskInitializer) continue;
                var reference = original.FindInitializer(t.Name) ?? start.FindInitializer(t.Name);
                if (reference is null) return (false, $"`{t.Name}` is new");
                bool same = t.DataType == (int)global::Onnx.TensorProto.Types.DataType.Float && reference.DataType == t.DataType
                    ? OnnxTensors.ToFloats(t).AsSpan().SequenceEqual(OnnxTensors.ToFloats(reference))
                    : t.Dims.SequenceEqual(reference.Dims) && t.DataType == reference.DataType;
                if (!same) return (false, $"`{t.Name}`");
            }
            foreach (var t in original.Initializer)
                if (!trainable.Contains(t.Name) && trained.FindInitializer(t.Name) is null && IsRead(original, t.Name))
                    return (false, $"`{t.Name}` is missing");
        }
        return (true, null);
    }

    private static bool IsRead(global::Onnx.GraphProto g, string name) => g.Node.Any(n => n.Input.Contains(name));
}
