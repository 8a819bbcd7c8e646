using Tailor.Onnx;
using Tailor.Spec;

namespace Tailor.Building;

public static partial class ModelBuilder
{
    /// <summary>
    /// Gives the model's output slots new names, for an app that keeps its own labels (renaming one, freeing one,
    /// claiming one) and writes them into the model. The capacity and the weights stay, so a renamed label keeps what its
    /// slot learned. The slot mask follows as training's claims do: a slot that has just become a label is live, a slot
    /// that has become a free placeholder is masked out (it can no longer be predicted), every other slot keeps its state.
    /// <see cref="UpdateSpec.TrainedExamples"/> follows the slots (a renamed label's count is kept under its new name, a
    /// freed slot's is dropped, so training without that label's photos is not refused as forgetting it).
    /// </summary>
    /// <exception cref="TailorException"><paramref name="labels"/> has another capacity than the model, or is not valid
    /// (two slots with one name, an empty name, a placeholder index out of range; the message names the field).</exception>
    public static void SetLabels(UpdatableModel model, ClassLabels labels)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(labels);
        var spec = model.Spec;
        var before = spec.Labels;
        if (labels.Capacity != before.Capacity)
            throw new TailorException($"The model has {before.Capacity} slots (capacity {before.Capacity}); the labels given have {labels.Capacity}. " +
                "Keep the capacity (ModelBuilder.Expand changes it).");
        var after = new ClassLabels { Names = labels.Names.Select(n => ClassLabels.Normalize(n ?? "")).ToArray(), Placeholders = [.. labels.Placeholders] };
        bool masked = EnsureSlotMask(model);
        var live = masked ? LiveSlots(model).ToHashSet() : [];
        live.UnionWith(Enumerable.Range(0, after.Capacity).Where(i => before.IsPlaceholder(i) && !after.IsPlaceholder(i)));
        live.RemoveWhere(after.IsPlaceholder);
        Dictionary<string, int>? trained = null;
        if (spec.TrainedExamples is { } counts)
        {
            trained = [];
            foreach (var (label, count) in counts)
            {
                int slot = before.IndexOf(label);
                if (slot >= 0 && !after.IsPlaceholder(slot)) trained[after.Names[slot]] = count;
            }
        }
        model.SetSpec(spec with { Labels = after, TrainedExamples = trained });
        if (model.Proto.Graph.FindInitializer(LabelsInitializer) is not null)
            model.Proto.Graph.ReplaceInitializer(OnnxTensors.FromStrings(LabelsInitializer, after.Names));
        if (masked) SetLiveSlots(model, live);
    }
}
