using System.Text.Json.Serialization;

namespace Tailor.Spec;

/// <summary>
/// The classifier's output slots: one label per slot (<see cref="Capacity"/> slots), some of them free
/// placeholders (named <c>user0</c>, <c>user1</c>… by default) that a new label can take later, as the
/// reference app's "add a gesture" does. Slots and their order are the model's contract with the app that indexes its
/// probabilities: every head keeps them. A free slot, and after a training a label it had no examples of, is masked out of
/// the classifier's softmax in the graph (an additive mask in front of the Softmax), so its probability is exactly 0 even in
/// plain ONNX Runtime; a k-NN head gives such a slot no votes.
/// </summary>
public sealed record ClassLabels
{
    /// <summary>One name per output slot, in slot order.</summary>
    [JsonPropertyName("names")] public IReadOnlyList<string> Names { get; init; } = [];

    /// <summary>Indices of the slots that are free placeholders.</summary>
    [JsonPropertyName("placeholders")] public IReadOnlyList<int> Placeholders { get; init; } = [];

    /// <summary>The number of output slots.</summary>
    [JsonPropertyName("capacity")] public int Capacity => Names.Count;

    /// <summary>The labels that are in use (not placeholders), in slot order.</summary>
    [JsonIgnore] public IEnumerable<string> InUse => Names.Where((_, i) => !IsPlaceholder(i));

    // Placeholders as a set, built once per list (kept outside the record so that equality and with-expressions are
    // unaffected): a lookup per slot in the list itself made every pass over the slots quadratic in the capacity.
    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<IReadOnlyList<int>, HashSet<int>> s_placeholderSets = [];

    /// <summary>True when <paramref name="slot"/> is a free placeholder (constant time).</summary>
    public bool IsPlaceholder(int slot) => s_placeholderSets.GetValue(Placeholders, p => [.. p]).Contains(slot);

    /// <summary>The most output slots a classifier may have. Building a model takes time and memory linear in the
    /// capacity; measured on the embedded ResNet18 (512 features) at 100,000 slots: prepare 2.3 s and 0.77 GB peak, a
    /// 273 MB model, and 2 epochs of tailor train on the hands photos 24 s and 2.5 GB peak (1,000 slots: 13 s, 0.5 GB).
    /// The bound keeps a typo such as 100000000 from filling the memory (<see cref="CapacityLimitReason"/>).</summary>
    public const int MaxCapacity = 100_000;

    /// <summary>Why <see cref="MaxCapacity"/> exists, as messages and help state it.</summary>
    public const string CapacityLimitReason =
        "the classifier holds capacity × feature-size floats: 100,000 × 512 features is 205 MB, and training keeps gradients and optimizer state beside it";

    /// <summary>Normalizes a label for comparison (Unicode NFC, trimmed). ✌️ written with or without
    /// a composed form compares equal; the variation selector U+FE0F is kept, not stripped.</summary>
    public static string Normalize(string label) => Data.LabelComparer.Normalize(label.Trim());

    /// <summary>The slot of <paramref name="label"/> among the labels in use, or −1.</summary>
    public int IndexOf(string label)
    {
        string n = Normalize(label);
        for (int i = 0; i < Names.Count; i++)
            if (!IsPlaceholder(i) && Normalize(Names[i]) == n) return i;
        return -1;
    }

    /// <summary>Builds labels for <paramref name="capacity"/> slots: the given labels first, then
    /// placeholders <c>{prefix}0</c>, <c>{prefix}1</c>….</summary>
    /// <exception cref="TailorException">More labels than slots, a duplicate, or an empty label.</exception>
    public static ClassLabels Create(IReadOnlyList<string> labels, int capacity, string placeholderPrefix = "user")
    {
        CheckCapacity(capacity);
        var names = labels.Select(Normalize).ToList();
        if (names.Any(string.IsNullOrEmpty))
            throw new TailorException("A label is empty; labels are non-empty strings such as \"✊,✋,✌️\".");
        var duplicate = names.GroupBy(n => n).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
            throw new TailorException($"The label '{Shown.Label(duplicate.Key)}' is given twice.");
        if (names.Count > capacity)
            throw new TailorException(
                $"{names.Count} labels do not fit in {capacity} slots (capacity {capacity}); raise PrepareOptions.Capacity to at least {names.Count}.");
        var placeholders = new List<int>();
        var taken = names.ToHashSet();
        int next = 0;
        while (names.Count < capacity)
        {
            string candidate = placeholderPrefix + next++;
            if (!taken.Add(candidate)) continue;
            placeholders.Add(names.Count);
            names.Add(candidate);
        }
        return new ClassLabels { Names = names, Placeholders = placeholders };
    }

    /// <exception cref="TailorException"><paramref name="capacity"/> is not from 1 to <see cref="MaxCapacity"/>.</exception>
    internal static void CheckCapacity(int capacity)
    {
        if (capacity < 1 || capacity > MaxCapacity)
            throw new TailorException($"Capacity must be from 1 to {MaxCapacity:N0}; got {capacity:N0} ({CapacityLimitReason}).");
    }

    /// <summary>Returns labels where a free placeholder slot now holds <paramref name="label"/>: the placeholder
    /// of the same name when there is one (a label <c>user3</c> takes the slot named <c>user3</c>, so no two
    /// slots share a name), else the first free one.</summary>
    /// <exception cref="TailorException">No placeholder slot is free.</exception>
    public ClassLabels Claim(string label, out int slot)
    {
        if (Placeholders.Count == 0)
            throw new TailorException(
                $"Cannot add the label '{Shown.Label(Normalize(label))}': all {Capacity} slots are in use (capacity {Capacity}: {string.Join(", ", Names.Select(Shown.Label))}). " +
                "Prepare the model again with a larger PrepareOptions.Capacity.");
        string name = Normalize(label);
        slot = Placeholders.FirstOrDefault(i => Normalize(Names[i]) == name, Placeholders[0]);
        var names = Names.ToArray();
        names[slot] = name;
        int taken = slot;
        return this with { Names = names, Placeholders = Placeholders.Where(i => i != taken).ToArray() };
    }

    /// <summary>Returns labels where the label in <paramref name="slot"/> is called <paramref name="name"/> (NFC, trimmed):
    /// the slot keeps its place, so a model's weights for it keep meaning the same class.</summary>
    /// <exception cref="TailorException">The slot is out of range or a free placeholder, the name is empty, or another
    /// slot already has that name (the message names the slot).</exception>
    public ClassLabels Rename(int slot, string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (slot < 0 || slot >= Capacity)
            throw new TailorException($"Slot {slot} does not exist; the slots are 0 to {Capacity - 1} (capacity {Capacity}).");
        if (IsPlaceholder(slot))
            throw new TailorException($"Slot {slot} ('{Shown.Label(Names[slot])}') is a free placeholder, not a label; claim it first (ClassLabels.Claim).");
        string normalized = Normalize(name);
        if (normalized.Length == 0)
            throw new TailorException($"The new name of slot {slot} ('{Shown.Label(Names[slot])}') is empty; a label is a non-empty string.");
        for (int i = 0; i < Names.Count; i++)
            if (i != slot && Normalize(Names[i]) == normalized)
                throw new TailorException($"Cannot rename '{Shown.Label(Names[slot])}' to '{Shown.Label(normalized)}': slot {i} already has that name.");
        var names = Names.ToArray();
        names[slot] = normalized;
        return this with { Names = names };
    }

    /// <summary>Returns labels where every label of <paramref name="labels"/> not yet in use holds a free slot:
    /// those named like a free placeholder take that placeholder's slot first, then the others take the first
    /// free slots in the order given. <paramref name="added"/> maps each new label to its slot.</summary>
    /// <exception cref="TailorException">More new labels than free slots (the first that does not fit is named).</exception>
    public ClassLabels ClaimAll(IEnumerable<string> labels, out IReadOnlyDictionary<string, int> added)
    {
        var result = this;
        var claimed = new Dictionary<string, int>();
        var fresh = labels.Select(Normalize).Distinct().Where(l => IndexOf(l) < 0).ToList();
        var free = Placeholders.Select(i => Normalize(Names[i])).ToHashSet();
        foreach (var label in fresh.Where(free.Contains).Concat(fresh.Where(l => !free.Contains(l))))
        {
            result = result.Claim(label, out int slot);
            claimed[label] = slot;
        }
        added = claimed;
        return result;
    }
}
