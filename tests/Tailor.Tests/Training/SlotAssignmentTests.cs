using Tailor.Spec;
using Tailor.Training;

namespace Tailor.Tests.Training;

/// <summary>The one slot assignment every head uses: new labels take free placeholders; a k-NN (no fixed capacity)
/// appends the labels that find none, where the other heads refuse them.</summary>
public sealed class SlotAssignmentTests
{
    [Fact]
    public void NewLabels_TakeFreeSlots_ThenAreAppended_OnlyWhenAsked()
    {
        var labels = ClassLabels.Create(["a", "b"], capacity: 3);   // a b user0

        var appended = SlotAssignment.For(labels, ["a", "c", "d"], validation: null, appendWhenFull: true);
        Assert.Equal(["a", "b", "c", "d"], appended.Labels.Names);
        Assert.Equal(2, appended.NewLabels["c"]);
        Assert.Equal(3, appended.NewLabels["d"]);
        Assert.Equal([0, 2, 3], appended.LiveSlots);

        var e = Assert.Throws<TailorException>(() => SlotAssignment.For(labels, ["a", "c", "d"], validation: null));
        Assert.Contains("'d'", e.Message);
        Assert.Contains("capacity 3", e.Message);
    }
}
