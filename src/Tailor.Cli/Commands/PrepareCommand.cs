using System.CommandLine;
using System.Globalization;
using Spectre.Console;
using Tailor.Building;
using Tailor.Images;
using Tailor.Spec;
using Tailor.Training.Schedules;
using H = Tailor.Spec.HyperparameterNames;

namespace Tailor.Cli.Commands;

/// <summary><c>tailor prepare</c>: make an updatable classifier from a feature extractor or an existing classifier.</summary>
internal static class PrepareCommand
{
    /// <summary>CLI option → hyperparameter: value option, allowed-values option, name, what it is, and an example of
    /// allowed values that holds the hyperparameter's defaults (a test checks it does).</summary>
    internal static readonly (string Value, string Allowed, string Name, string Help, string Example)[] HyperOptions =
    [
        ("--lr", "--allowed-lr", H.LearningRate, "learning rate", "0.0001..0.1"),
        ("--momentum", "--allowed-momentum", H.Momentum, "SGD momentum", "0..0.99"),
        ("--beta1", "--allowed-beta1", H.Beta1, "Adam beta1", "0.8..0.99"),
        ("--beta2", "--allowed-beta2", H.Beta2, "Adam beta2", "0.99..0.9999"),
        ("--epsilon", "--allowed-epsilon", H.Epsilon, "Adam epsilon", "1e-10..1e-6"),
        ("--batch", "--allowed-batch", H.BatchSize, "mini-batch size", "8,16,32,64"),
        ("--epochs", "--allowed-epochs", H.Epochs, "epochs", "10,20,40,100"),
        ("--weight-decay", "--allowed-weight-decay", H.WeightDecay, "L2 weight decay", "0..0.001"),
        ("--seed", "--allowed-seed", H.Seed, "shuffle/dropout seed", "0..999"),
    ];

    /// <summary>"0.005 with adam, 0.1 with sgd", or one value when the optimizers agree or only one has it.</summary>
    private static string DefaultsOf(string name)
    {
        var byOptimizer = new[] { OptimizerKind.Adam, OptimizerKind.Sgd }
            .Where(o => DefaultHyperparameters.For(o).ContainsKey(name))
            .Select(o => (Optimizer: o.ToString().ToLowerInvariant(), Value: Convert.ToString(DefaultHyperparameters.For(o)[name].Default, CultureInfo.InvariantCulture)))
            .ToList();
        return byOptimizer.Select(d => d.Value).Distinct().Count() == 1 ? byOptimizer[0].Value!
            : string.Join(", ", byOptimizer.Select(d => $"{d.Value} with {d.Optimizer}"));
    }

    public static Command Create()
    {
        var outOption = new Option<string>("--out", "-o") { Description = "Where to write the updatable model.", DefaultValueFactory = _ => "model.onnx" };
        var baseOption = new Option<string?>("--base") { Description = "Feature extractor ONNX file (default: the embedded ResNet18)." };
        var featureOption = new Option<string?>("--feature-output") { Description = "Tensor of --base to use as features (default: its only output)." };
        var fromOption = new Option<string?>("--from") { Description = "Expand an existing classifier (a Tailor model or a plain ONNX classifier) instead." };
        var classifierOption = new Option<string?>("--classifier-layer") { Description = "With --from: the classifier layer of a plain ONNX model (default: found automatically)." };
        var capacityOption = new Option<int>("--capacity")
        {
            Description = $"Output slots of the classifier, 1 to {ClassLabels.MaxCapacity:N0} ({ClassLabels.CapacityLimitReason}).", DefaultValueFactory = _ => TrainingDefaults.Capacity,
        }.WholeIn(1, ClassLabels.MaxCapacity, ClassLabels.CapacityLimitReason);
        var labelsOption = new Option<string?>("--labels") { Description = "Comma-separated labels for the first slots, e.g. \"✊,✋,✌️\"; the other slots are placeholders." };
        var prefixOption = new Option<string>("--placeholder-prefix") { Description = "Placeholder slot names are PREFIX0, PREFIX1…", DefaultValueFactory = _ => "user" };
        var updatableOption = new Option<string?>("--updatable") { Description = "Comma-separated layer names to train (default: with the embedded ResNet18, " +
            $"{string.Join(", ", EmbeddedModels.ResNet18FineTunedLayers)} and classifier; otherwise classifier). " +
            "'last-block' stands for the network's last block and the layers after it (tailor layers MODEL lists them)." };
        var lossOption = new Option<string>("--loss")
        {
            Description = "The loss: cross-entropy or mse on the probabilities, optionally followed by weighted terms, each KIND[@TENSOR][:WEIGHT], " +
                "e.g. cross-entropy,mse:0.5 (training minimizes the weighted sum; the first term gives the accuracy).",
            DefaultValueFactory = _ => "cross-entropy",
        };
        var optimizerOption = new Option<string?>("--optimizer") { Description = "adam or sgd (default: adam; sgd with --preset reference)." };
        var presetOption = new Option<string?>("--preset") { Description = "'reference': the reference app's settings — classifier only, SGD lr 0.001, batch 8 ∈ {1,2,8,16}, " +
            "epochs 10 ∈ {1,10,50}, no augmentation, constant learning rate; its network, features → dense → softmax, on features as the backbone gives them " +
            "(not L2-normalized: at lr 0.001 normalized features learn nothing), the classifier starting from zeros." };
        var augmentOption = new Option<string?>("--augment") { Description = $"The augmentation tailor train applies unless told otherwise, e.g. flip,rotate:15,crop:0.8,variants:4, or none (default: {AugmentationOptions.FewShot})." };
        var scheduleOption = new Option<string?>("--schedule") { Description = $"The learning-rate schedule tailor train follows unless told otherwise: {LearningRateSchedule.AllowedForms} (default: {TrainingDefaults.LearningRateSchedule})." };
        var shuffleOption = new Option<string?>("--shuffle") { Description = "Shuffle each epoch: true or false (default: true)." };
        var nesterovOption = new Option<string?>("--nesterov") { Description = "SGD with Nesterov momentum: true or false (default: false)." };
        var initOption = new Option<string>("--init") { Description = "Classifier weights: kaiming or zeros (zeros with --preset reference).", DefaultValueFactory = _ => "kaiming" };
        var initSeedOption = new Option<int>("--init-seed") { Description = "Seed of the weight initialization.", DefaultValueFactory = _ => TrainingDefaults.InitSeed }.WholeIn(int.MinValue, int.MaxValue);
        var noNormOption = new Option<bool>("--no-normalize-features") { Description = "Do not L2-normalize the features before the classifier." };
        var sizeOption = new Option<string?>("--size") { Description = "With --base/--from when the model's input size is not fixed: WIDTHxHEIGHT." };
        var channelsOption = new Option<string?>("--channels") { Description = "With --base/--from: rgb, bgr or gray (default: rgb)." };
        var scaleOption = new Option<double?>("--scale") { Description = "With --base/--from: multiply 0..255 pixel values by this (e.g. 0.00392156862745098 for 0..1)." }
            .NumberWhere(v => v > 0 && v <= float.MaxValue, "more than 0");
        var meanOption = new Option<string?>("--mean") { Description = "With --base: per-channel mean subtracted in the graph, e.g. 0.485,0.456,0.406." };
        var stdOption = new Option<string?>("--std") { Description = "With --base: per-channel std the graph divides by, e.g. 0.229,0.224,0.225." };
        var resizeOption = new Option<string?>("--resize") { Description = "With --base/--from: stretch, center-crop or pad (default: stretch)." };
        var valueOptions = HyperOptions.Select(h => new Option<string?>(h.Value) { Description = $"The {h.Help} stored in the model for tailor train (default: {DefaultsOf(h.Name)})." }).ToArray();
        var allowedOptions = HyperOptions.Select(h => new Option<string?>(h.Allowed) { Description = $"The {h.Help} values tailor train accepts: a range or a comma-separated list, e.g. {h.Example}." }).ToArray();

        var command = HelpText.Examples(
            new Command("prepare", "Make an updatable classifier: attach a head to a feature extractor (the embedded ResNet18 unless --base), or expand an existing classifier with --from."),
            "tailor prepare --labels \"✊,✋,✌️\" --out hands.onnx",
            "tailor prepare --base mobilenet.onnx --size 224x224 --capacity 20 --out mine.onnx",
            "tailor prepare --from hands.onnx --capacity 20 --out bigger.onnx");
        foreach (var o in new Option[] { outOption, baseOption, featureOption, fromOption, classifierOption, capacityOption, labelsOption, prefixOption, updatableOption,
                     lossOption, optimizerOption, presetOption, augmentOption, scheduleOption, shuffleOption, nesterovOption, initOption, initSeedOption, noNormOption, sizeOption, channelsOption,
                     scaleOption, meanOption, stdOption, resizeOption }.Concat(valueOptions).Concat(allowedOptions))
            command.Add(o);

        command.SetAction(parse =>
        {
            string output = OptionParsing.OutputFile("--out", parse.GetValue(outOption)!);
            string? preset = parse.GetValue(presetOption);
            bool reference = preset is not null && OptionParsing.Enum("--preset", preset, ("reference", true));
            var optimizer = parse.GetValue(optimizerOption) is { } opt
                ? OptionParsing.Enum("--optimizer", opt, ("adam", OptimizerKind.Adam), ("sgd", OptimizerKind.Sgd))
                : reference ? OptimizerKind.Sgd : OptimizerKind.Adam;
            var hyper = reference && optimizer == OptimizerKind.Sgd ? DefaultHyperparameters.Reference() : DefaultHyperparameters.For(optimizer);
            for (int i = 0; i < HyperOptions.Length; i++)
            {
                var (valueName, allowedName, name, _, _) = HyperOptions[i];
                string? value = parse.GetValue(valueOptions[i]), allowed = parse.GetValue(allowedOptions[i]);
                if (value is null && allowed is null) continue;
                if (!hyper.TryGetValue(name, out var h))
                    throw new UsageException($"{valueName} does not apply to the {optimizer.ToString().ToLowerInvariant()} optimizer; it takes: {string.Join(", ", hyper.Keys)}.");
                if (value is not null) h = h with { Default = Domains(name).Check(valueName, OptionParsing.Number(valueName, value)) };
                if (allowed is not null) h = h with { Allowed = Domains(name).Check(allowedName, OptionParsing.Allowed(allowedName, allowed)) };
                if (!h.Allowed.Contains(h.Default))
                    throw new UsageException(value is null
                        ? $"{allowedName} {allowed}: the default {OptionParsing.Format(h.Default)} ({valueName}) is not among them; include it, or give {valueName} too."
                        : $"{valueName} {value} is outside the allowed values, {h.Allowed}; give a value {h.Allowed}{(allowed is null ? $", or widen them with {allowedName}" : $", or change {allowedName}")}.");
                hyper[name] = h;
            }
            if (parse.GetValue(shuffleOption) is { } shuffle) hyper[H.Shuffle] = Hyperparameter.Bool(OptionParsing.Bool("--shuffle", shuffle));
            if (parse.GetValue(nesterovOption) is { } nesterov)
            {
                if (optimizer != OptimizerKind.Sgd) throw new UsageException("--nesterov applies to the sgd optimizer only.");
                hyper[H.Nesterov] = Hyperparameter.Bool(OptionParsing.Bool("--nesterov", nesterov));
            }
            bool lossGiven = parse.GetResult(lossOption) is { Implicit: false };
            IReadOnlyList<LossSpec> lossTerms;
            try { lossTerms = LossSpec.ParseTerms(parse.GetValue(lossOption)!); }
            catch (TailorException e) { throw new UsageException($"--loss: {e.Message}", e); }
            if (lossTerms[0].Input.Length > 0)
                throw new UsageException($"--loss: the first term ('{parse.GetValue(lossOption)}') is the main loss and reads the probabilities output; " +
                    "put terms on other tensors after it, e.g. cross-entropy,mse@TENSOR:0.5.");
            // The reference trains its classifier alone, on the photos as they are, at a constant rate.
            var presetOptions = reference ? PrepareOptions.Reference : new PrepareOptions();
            var updatable = parse.GetValue(updatableOption) is { } u ? OptionParsing.List(u) : presetOptions.UpdatableLayers;
            var augmentation = parse.GetValue(augmentOption) is { } a ? OptionParsing.Augmentation("--augment", a) : presetOptions.Augmentation;
            string schedule = parse.GetValue(scheduleOption) ?? presetOptions.LearningRateSchedule;
            try { LearningRateSchedule.Parse(schedule); }
            catch (TailorException e) { throw new UsageException($"--schedule: {e.Message}", e); }
            var preprocessing = Preprocessing(parse.GetValue(sizeOption), parse.GetValue(channelsOption), parse.GetValue(scaleOption), parse.GetValue(resizeOption));

            UpdatableModel model;
            if (parse.GetValue(fromOption) is { } from)
            {
                model = ModelBuilder.Expand(from, new ExpandOptions
                {
                    Capacity = parse.GetValue(capacityOption),
                    Labels = parse.GetValue(labelsOption) is { } l ? OptionParsing.List(l) : null,
                    ClassifierLayer = parse.GetValue(classifierOption),
                    PlaceholderPrefix = parse.GetValue(prefixOption)!,
                    Preprocessing = preprocessing,
                    Optimizer = optimizer,
                    Hyperparameters = hyper,
                    UpdatableLayers = updatable,
                    Augmentation = parse.GetValue(augmentOption) is not null || reference ? augmentation : null,
                    LearningRateSchedule = parse.GetValue(scheduleOption) is not null || reference ? schedule : null,
                    // An explicit --loss replaces the model's loss terms; without it a Tailor model keeps its own.
                    Loss = lossGiven ? lossTerms[0].Kind : null,
                    LossWeight = lossGiven ? lossTerms[0].Weight : null,
                    AdditionalLosses = lossGiven ? lossTerms.Skip(1).ToList() : null,
                });
            }
            else
            {
                model = ModelBuilder.Prepare(new PrepareOptions
                {
                    BaseModelPath = parse.GetValue(baseOption),
                    FeatureOutput = parse.GetValue(featureOption),
                    Capacity = parse.GetValue(capacityOption),
                    Labels = OptionParsing.List(parse.GetValue(labelsOption)),
                    PlaceholderPrefix = parse.GetValue(prefixOption)!,
                    NormalizeFeatures = presetOptions.NormalizeFeatures && !parse.GetValue(noNormOption),
                    UpdatableLayers = updatable,
                    Augmentation = augmentation,
                    LearningRateSchedule = schedule,
                    Loss = lossTerms[0].Kind,
                    LossWeight = lossTerms[0].Weight,
                    AdditionalLosses = lossTerms.Count > 1 ? lossTerms.Skip(1).ToList() : null,
                    Optimizer = optimizer,
                    Hyperparameters = hyper,
                    Init = parse.GetResult(initOption) is { Implicit: false }
                        ? OptionParsing.Enum("--init", parse.GetValue(initOption)!, ("kaiming", WeightInit.KaimingUniform), ("zeros", WeightInit.Zeros))
                        : presetOptions.Init,
                    InitSeed = parse.GetValue(initSeedOption),
                    Preprocessing = preprocessing,
                    Mean = parse.GetValue(meanOption) is { } m ? OptionParsing.Floats("--mean", m) : null,
                    Std = parse.GetValue(stdOption) is { } s ? Positive("--std", OptionParsing.Floats("--std", s)) : null,
                });
            }
            model.Save(output);
            var spec = model.Spec;
            var inUse = spec.Labels.InUse.Select(Text.Label);
            string slots = spec.Labels.Placeholders.Count == 0 ? string.Join(" ", inUse)
                : !spec.Labels.InUse.Any() ? Text.Count(spec.Labels.Placeholders.Count, "placeholder")
                : $"{string.Join(" ", inUse)} + {Text.Count(spec.Labels.Placeholders.Count, "placeholder")}";
            AnsiConsole.MarkupLine($"Wrote [bold]{Text.MarkupPath(output)}[/]: {Text.Count(spec.Labels.Capacity, "slot")} ({Markup.Escape(slots)}), " +
                $"updatable: {Markup.Escape(string.Join(", ", spec.UpdatableLayers.Select(l => Text.Path(l.Name))))}, optimizer {spec.Optimizer.ToString().ToLowerInvariant()}, " +
                $"augmentation {Markup.Escape(spec.Augmentation ?? AugmentationOptions.FewShot.ToString())}, schedule {Markup.Escape(spec.LearningRateSchedule ?? "constant")}.");
            return 0;
        });
        return command;
    }

    /// <summary>The largest --size side: an input of 4096×4096 RGB floats is 201 MB per image already.</summary>
    internal const int MaxInputSide = 4096;

    private static float[] Positive(string option, float[] values) => values.All(v => v > 0) ? values
        : throw new UsageException($"{option}: {string.Join(",", values.Select(v => OptionParsing.Format(v)))}: every value must be more than 0 (the graph divides by it).");

    /// <summary>What each hyperparameter can be at all, whatever a model allows (the library's
    /// <see cref="HyperparameterDomain"/>, checked again when a model loads): its value and every allowed value or bound lie
    /// in it (a learning rate is never negative, a batch size is a whole number ≥ 1).</summary>
    internal sealed record Domain(HyperparameterDomain Of)
    {
        public double Check(string option, double v) => Of.Contains(v) ? v
            : throw new UsageException($"{option} {OptionParsing.Format(v)}: give {Text}.");

        public AllowedValues Check(string option, AllowedValues allowed)
        {
            foreach (double v in allowed.Set ?? allowed.Range!)
                if (!(allowed.Set is null ? Of with { Kind = HyperparameterKind.Real, MinExclusive = false } : Of).Contains(v))
                    throw new UsageException($"{option}: {OptionParsing.Format(v)} is not possible; every allowed value is {Text}.");
            return allowed;
        }

        private string Text => Of.ToString();
    }

    internal static Domain Domains(string name) =>
        new(HyperparameterDomain.Of(name) ?? throw new InvalidOperationException($"No domain for hyperparameter '{name}'."));

    private static ImagePreprocessing? Preprocessing(string? size, string? channels, double? scale, string? resize)
    {
        if (size is null && channels is null && scale is null && resize is null) return null;
        var p = new ImagePreprocessing();
        if (size is not null)
        {
            var parts = size.ToLowerInvariant().Split('x');
            if (parts.Length != 2 || !int.TryParse(parts[0], out int w) || !int.TryParse(parts[1], out int h) || w < 1 || h < 1 || w > MaxInputSide || h > MaxInputSide)
                throw new UsageException($"--size: '{size}' is not WIDTHxHEIGHT such as 224x224, each from 1 to {MaxInputSide}.");
            p = p with { Width = w, Height = h };
        }
        if (channels is not null)
            p = p with { Channels = OptionParsing.Enum("--channels", channels, ("rgb", ChannelOrder.Rgb), ("bgr", ChannelOrder.Bgr), ("gray", ChannelOrder.Gray)) };
        if (scale is double sc) p = p with { Scale = (float)sc };
        if (resize is not null)
            p = p with { Resize = OptionParsing.Enum("--resize", resize, ("stretch", ResizeMode.Stretch), ("center-crop", ResizeMode.CenterCrop), ("pad", ResizeMode.Pad)) };
        return p;
    }
}
