using Tailor.Spec;

namespace Tailor.Building;

public static partial class ModelBuilder
{
    /// <summary>
    /// Gives the model's output slots new names (an app that keeps its own labels — renaming one, freeing one, claiming
    /// one — writes them into the model with this). The capacity stays; the weights stay, so a renamed label keeps what
    /// its slot learned. A slot that becomes a free placeholder is masked out of the softmax (it can no longer be
    /// predicted); a slot that becomes a label stays masked until a training gives it examples, unless the model has
    /// no live label at all. <see cref="UpdateSpec.TrainedExamples"/> follows the slots (a renamed label's count is kept
    /// under its new name; a freed slot's is dropped).
    /// </summary>
    /// <exception cref="TailorException"><paramref name="labels"/> has another capacity than the model, or is not valid
    /// (two slots with one name, an empty name, a placeholder index out of range).</exception>
    public static void SetLabels(UpdatableModel model, ClassLabels labels)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(labels);
        var spec = model.Spec;
        var old = spec.Labels;
        if (labels.Capacity != old.Capacity)
            throw new TailorException($"The model has {old.Capacity} slots (capacity {old.Capacity}); the labels given have {labels.Capacity}. " +
                "Keep the capacity (ModelBuilder.Expand changes it).");
        var normalized = new ClassLabels { Names = labels.Names.Select(n => ClassLabels.Normalize(n ?? "")).ToArray(), Placeholders = [.. labels.Placeholders] };
        var live = LiveSlots(model).ToHashSet();
        Dictionary<string, int>? trained = null;
        if (spec.TrainedExamples is { } counts)
        {
            trained = [];
            foreach (var (label, count) in counts)
            {
                int slot = old.IndexOf(label);
                if (slot >= 0 && !normalized.IsPlaceholder(slot)) trained[normalized.Names[slot]] = count;
            }
        }
        model.SetSpec(spec with { Labels = normalized, TrainedExamples = trained });
        var inUse = Enumerable.Range(0, normalized.Capacity).Where(i => !normalized.IsPlaceholder(i)).ToList();
        var kept = inUse.Where(live.Contains).ToList();
        SetLiveSlots(model, kept.Count > 0 ? kept : inUse);
    }
}
