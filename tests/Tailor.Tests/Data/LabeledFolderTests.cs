using Tailor.Data;
using Tailor.Tests.Images;

namespace Tailor.Tests.Data;

public class LabeledFolderTests
{
    internal static string Hands => TestData.Hands;
    private const string Scissors = "\u270C\uFE0F";

    [Theory]
    [InlineData("train", 10)]
    [InlineData("test", 5)]
    public void HandsFolders_ScanIntoThreeLabels(string split, int perLabel)
    {
        var folder = LabeledFolder.Scan(Path.Combine(Hands, split));
        Assert.Equal(["\u270A", "\u270B", Scissors], folder.Labels);
        Assert.Equal(3 * perLabel, folder.Examples.Count);
        foreach (var label in folder.Labels)
            Assert.Equal(perLabel, folder.ExamplesOf(label).Count);
        Assert.Equal(2, folder.IndexOf(Scissors));
        Assert.Equal(-1, folder.IndexOf("\u270C")); // U+FE0F is part of the label, not stripped
        Assert.All(folder.Examples, e => Assert.True(File.Exists(e.Path), e.Path));
    }

    [Fact]
    public void Labels_AreNfc_AndFoldersDifferingOnlyInNormalizationMerge()
    {
        using var dir = new TempFolder();
        string nfd = "Cafe\u0301", nfc = "Caf\u00E9";
        Directory.CreateDirectory(Path.Combine(dir.Path, nfd));
        File.WriteAllText(Path.Combine(dir.Path, nfd, "a.jpg"), "x");
        Directory.CreateDirectory(Path.Combine(dir.Path, nfc));
        File.WriteAllText(Path.Combine(dir.Path, nfc, "b.jpg"), "x");

        var folder = LabeledFolder.Scan(dir.Path);
        Assert.Equal([nfc], folder.Labels);
        Assert.Equal(["a.jpg", "b.jpg"], folder.Examples.Select(e => Path.GetFileName(e.Path)));
        Assert.All(folder.Examples, e => Assert.True(File.Exists(e.Path)));
        Assert.Equal(0, folder.IndexOf(nfd));
    }

    [Fact]
    public void LabelComparer_IsNormalizationInsensitive_ButKeepsVariationSelectors()
    {
        var comparer = LabelComparer.Instance;
        Assert.True(comparer.Equals("Cafe\u0301", "Caf\u00E9"));
        Assert.Equal(comparer.GetHashCode("Cafe\u0301"), comparer.GetHashCode("Caf\u00E9"));
        Assert.Equal(0, comparer.Compare("Cafe\u0301", "Caf\u00E9"));
        Assert.True(comparer.Equals(Scissors, "\u270C\uFE0F".Normalize(System.Text.NormalizationForm.FormD)));
        Assert.False(comparer.Equals(Scissors, "\u270C"));
        Assert.Equal(Scissors, LabelComparer.Normalize(Scissors));
    }

    [Fact]
    public void HiddenFilesAndJunk_AreSkipped_AndOrderIsOrdinal()
    {
        using var dir = new TempFolder();
        string cat = Path.Combine(dir.Path, "cat");
        Directory.CreateDirectory(cat);
        foreach (var name in new[] { "b.png", "a.png", "C.png", ".DS_Store", "Thumbs.db", ".hidden.jpg", "desktop.ini" })
            File.WriteAllText(Path.Combine(cat, name), "x");
        Directory.CreateDirectory(Path.Combine(dir.Path, ".git"));
        File.WriteAllText(Path.Combine(dir.Path, "README.md"), "not a label");
        Directory.CreateDirectory(Path.Combine(dir.Path, "Dog"));
        File.WriteAllText(Path.Combine(dir.Path, "Dog", "z.jpg"), "x");

        var folder = LabeledFolder.Scan(dir.Path);
        Assert.Equal(["Dog", "cat"], folder.Labels);
        Assert.Equal(["z.jpg", "C.png", "a.png", "b.png"], folder.Examples.Select(e => Path.GetFileName(e.Path)));
        Assert.Equal(["Dog", "cat", "cat", "cat"], folder.Examples.Select(e => e.Label));
    }

    [Fact]
    public void MissingFolder_SaysItDoesNotExist()
    {
        var e = Assert.Throws<TailorException>(() => LabeledFolder.Scan("/nonexistent-tailor-data"));
        Assert.Equal("'/nonexistent-tailor-data' does not exist.", e.Message);
    }

    [Fact]
    public void AFile_IsNotAFolder()
    {
        using var dir = new TempFolder();
        string file = dir.File("data.zip");
        File.WriteAllText(file, "x");
        var e = Assert.Throws<TailorException>(() => LabeledFolder.Scan(file));
        Assert.StartsWith($"'{file}' is a file, not a folder", e.Message);
    }

    [Fact]
    public void NoLabelFolders_Throws()
    {
        using var dir = new TempFolder();
        File.WriteAllText(dir.File("notes.txt"), "x");
        var e = Assert.Throws<TailorException>(() => LabeledFolder.Scan(dir.Path));
        Assert.StartsWith($"'{dir.Path}' has no label sub-folders", e.Message);
    }

    [Fact]
    public void ImagesInNestedFolders_BelongToTheirTopLevelLabelFolder()
    {
        using var dir = new TempFolder();
        Directory.CreateDirectory(Path.Combine(dir.Path, "rock", "more", "evenmore"));
        File.WriteAllText(Path.Combine(dir.Path, "rock", "a.jpg"), "x");
        File.WriteAllText(Path.Combine(dir.Path, "rock", "more", "b.jpg"), "x");
        File.WriteAllText(Path.Combine(dir.Path, "rock", "more", "evenmore", "c.jpg"), "x");
        File.WriteAllText(Path.Combine(dir.Path, "rock", "more", ".DS_Store"), "junk");
        Directory.CreateDirectory(Path.Combine(dir.Path, "rock", ".thumbnails"));
        File.WriteAllText(Path.Combine(dir.Path, "rock", ".thumbnails", "t.jpg"), "hidden folder");
        // A label folder whose images are all one level down is a label, not an empty folder.
        Directory.CreateDirectory(Path.Combine(dir.Path, "paper", "2024"));
        File.WriteAllText(Path.Combine(dir.Path, "paper", "2024", "p.jpg"), "x");

        var folder = LabeledFolder.Scan(dir.Path);

        Assert.Equal(["paper", "rock"], folder.Labels);
        Assert.Equal(
            [Path.Combine(dir.Path, "paper", "2024", "p.jpg"), Path.Combine(dir.Path, "rock", "a.jpg"),
             Path.Combine(dir.Path, "rock", "more", "b.jpg"), Path.Combine(dir.Path, "rock", "more", "evenmore", "c.jpg")],
            folder.Examples.Select(e => e.Path));
        Assert.Equal(["paper", "rock", "rock", "rock"], folder.Examples.Select(e => e.Label));
    }

    [Fact]
    public void ALabelFolderGivenAsTheDataFolder_IsAnError_SuggestingItsParent()
    {
        // --data pointed at rock/ (which holds photos and a sub-folder 'more') must not learn a label 'more'.
        using var dir = new TempFolder();
        string rock = Path.Combine(dir.Path, "rock");
        Directory.CreateDirectory(Path.Combine(rock, "more"));
        File.WriteAllText(Path.Combine(rock, "a.jpg"), "x");
        File.WriteAllText(Path.Combine(rock, "B.PNG"), "x");
        File.WriteAllText(Path.Combine(rock, "more", "b.jpg"), "x");

        var e = Assert.Throws<TailorException>(() => LabeledFolder.Scan(rock));

        Assert.Contains($"'{rock}' holds 2 images directly", e.Message);
        Assert.Contains("a.jpg", e.Message);
        Assert.Contains($"'{dir.Path}'", e.Message);   // its parent, suggested
        Assert.Contains("one sub-folder per label", e.Message);
        // Without sub-folders at all, the same mistake gets the same advice.
        File.Delete(Path.Combine(rock, "more", "b.jpg"));
        Directory.Delete(Path.Combine(rock, "more"));
        e = Assert.Throws<TailorException>(() => LabeledFolder.Scan(rock));
        Assert.Contains($"'{dir.Path}'", e.Message);
    }

    [Fact]
    public void EmptyLabelFolder_IsNamed()
    {
        using var dir = new TempFolder();
        Directory.CreateDirectory(Path.Combine(dir.Path, "cat"));
        File.WriteAllText(Path.Combine(dir.Path, "cat", "a.jpg"), "x");
        Directory.CreateDirectory(Path.Combine(dir.Path, "dog"));
        File.WriteAllText(Path.Combine(dir.Path, "dog", ".DS_Store"), "junk only");
        var e = Assert.Throws<TailorException>(() => LabeledFolder.Scan(dir.Path));
        Assert.Contains($"'{Path.Combine(dir.Path, "dog")}' (label 'dog') has no files", e.Message);
    }

    [Fact]
    public void FromExamples_GroupsByNormalizedLabel_InOrdinalOrder_KeepingGivenOrder()
    {
        // "é" composed and decomposed are one label; labels sort ordinally, examples keep their order within a label.
        var data = LabeledFolder.FromExamples(
        [
            new("/store/3.jpg", "zebra"),
            new("/store/1.jpg", "caf\u00e9"),
            new("/store/2.jpg", "cafe\u0301"),
            new("/store/0.jpg", "zebra"),
        ], root: "project 1");

        Assert.Equal(["caf\u00e9", "zebra"], data.Labels);
        Assert.Equal(["/store/1.jpg", "/store/2.jpg", "/store/3.jpg", "/store/0.jpg"], data.Examples.Select(e => e.Path));
        Assert.All(data.ExamplesOf("cafe\u0301"), e => Assert.Equal("caf\u00e9", e.Label));
        Assert.Equal("project 1", data.Root);
    }

    [Fact]
    public void FromExamples_RefusesNoExamples_AndEmptyLabels()
    {
        Assert.Contains("holds no examples", Assert.Throws<TailorException>(() => LabeledFolder.FromExamples([])).Message);
        var e = Assert.Throws<TailorException>(() => LabeledFolder.FromExamples([new("/store/a.jpg", " ")]));
        Assert.Contains("'/store/a.jpg'", e.Message);
        Assert.Contains("empty label", e.Message);
    }
}
