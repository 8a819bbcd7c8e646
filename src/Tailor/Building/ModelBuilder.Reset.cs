using Tailor.Onnx;
using Tailor.Spec;

namespace Tailor.Building;

/// <summary>Options of <see cref="ModelBuilder.Reset"/>.</summary>
public sealed record ResetOptions
{
    /// <summary>How the classifier is re-initialized. Default Kaiming-uniform, as <c>tailor prepare</c> does.</summary>
    public WeightInit Init { get; init; } = WeightInit.KaimingUniform;

    /// <summary>Seed of the classifier's initialization. Default <see cref="TrainingDefaults.InitSeed"/> (the same as <see cref="PrepareOptions.InitSeed"/>,
    /// so a reset model equals a freshly prepared one).</summary>
    public int Seed { get; init; } = TrainingDefaults.InitSeed;

    /// <summary>The ONNX file whose pretrained weights the other updatable layers (fine-tuned backbone
    /// layers) go back to, matched by initializer name. Default: the embedded ResNet18 when the model was
    /// prepared from it; required otherwise when such layers exist.</summary>
    public string? BaseModelPath { get; init; }
}

public static partial class ModelBuilder
{
    /// <summary>The note <see cref="Prepare"/> writes for a model built on the embedded backbone.</summary>
    internal const string EmbeddedBaseNote = "ResNet18 (Microsoft.ML.DnnImageFeaturizer.ResNet18)";

    /// <summary>
    /// Undoes training, as the reference app's "reset" does: the classifier gets fresh weights
    /// (Kaiming-uniform or zeros, seeded) and every other updatable layer gets its pretrained weights back
    /// from the base model. Labels are kept (a label that took a free slot stays in it). A logistic-regression
    /// head becomes a plain neural-network head again, and the record of trained labels
    /// (<see cref="UpdateSpec.TrainedExamples"/>) is cleared.
    /// </summary>
    /// <exception cref="TailorException">A k-NN model (it has no classifier to reset; prepare a new one); a base
    /// model that lacks a parameter or has it with another shape.</exception>
    public static void Reset(UpdatableModel model, ResetOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        options ??= new ResetOptions();
        var spec = model.Spec;
        if (spec.Head == HeadKind.KNearestNeighbors)
            throw new TailorException("This model's head is a k-NN: its classifier was replaced by the stored examples, so there is nothing to reset. Prepare a new model (ModelBuilder.Prepare).");

        var backboneLayers = spec.UpdatableLayers.Where(l => l.Name != spec.Classifier).ToList();
        if (backboneLayers.Count > 0)
        {
            string basePath = options.BaseModelPath
                ?? (spec.Notes.TryGetValue("base_model", out var note) && note == EmbeddedBaseNote ? EmbeddedModels.ResNet18Path
                    : throw new TailorException($"The layers {string.Join(", ", backboneLayers.Select(l => $"'{l.Name}'"))} were fine-tuned from " +
                        $"'{spec.Notes.GetValueOrDefault("base_model", "an unknown model")}'; set ResetOptions.BaseModelPath to that file to restore their weights."));
            var baseGraph = OnnxModelFile.Read(basePath).Graph;
            // Check every parameter before changing any, so a bad base leaves the model as it was.
            var restored = new List<(string Name, float[] Values)>();
            foreach (var (layer, name) in backboneLayers.SelectMany(l => l.Parameters.Select(p => (l.Name, p))))
            {
                var original = baseGraph.FindInitializer(name)
                    ?? throw new TailorException($"'{basePath}' has no initializer '{name}' to restore the updatable layer '{layer}' from; " +
                        "is it the model this one was prepared from?");
                long[] want = model.GetParameterShape(name), have = original.Dims.ToArray();
                if (!want.SequenceEqual(have))
                    throw new TailorException($"'{basePath}' has '{name}' with shape [{string.Join(", ", have)}]; the model's is [{string.Join(", ", want)}].");
                restored.Add((name, OnnxTensors.ToFloats(original)));
            }
            foreach (var (name, values) in restored) model.SetParameter(name, values);
        }
        if (spec.UpdatableLayers.Any(l => l.Name == spec.Classifier) || model.Proto.Graph.FindNode(spec.Classifier) is not null)
            ResetWeights(model, spec.Classifier, options.Init, options.Seed);
        // Untrained again: every label in use is live, as in a freshly prepared model.
        SetLiveSlots(model, InUseSlots(model.Spec.Labels));
        if (spec.Head == HeadKind.LogisticRegression) model.SetSpec(model.Spec with { Head = HeadKind.NeuralNetwork });
        // Nothing is learned any more, so nothing can be forgotten.
        if (model.Spec.TrainedExamples is not null) model.SetSpec(model.Spec with { TrainedExamples = null });
    }
}
