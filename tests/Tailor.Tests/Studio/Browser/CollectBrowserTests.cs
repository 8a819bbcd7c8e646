using System.Net.Http.Headers;
using Microsoft.Playwright;
using Tailor.Tests.Building;
using static Microsoft.Playwright.Assertions;

namespace Tailor.Tests.Studio.Browser;

/// <summary>What the main loop's browser test does not walk through: a project made from an uploaded ONNX model (and a
/// file that is not one refused by name, nothing created), a photo pasted into the selected gallery, and photos moved
/// between labels and between the training and test sets from the gallery.</summary>
[Collection("Browser")]
[Trait("Category", "Slow")]
public sealed class CollectBrowserTests(BrowserFixture browser)
{
    private static readonly string[] Labels = ["✊", "✋"];

    private static ILocator Gallery(IPage page, string label, string set) =>
        page.Locator($"[data-testid=label][data-label=\"{label}\"] [data-testid=gallery-{set}]");

    [SharedModelsFact]
    public async Task OnnxUpload_Paste_AndMovingPhotos_BetweenLabelsAndSets()
    {
        string models = ExportedModelTests.ModelsFolder()!;
        await using var studio = await StudioPage.StartAsync(browser);
        var page = studio.Page;
        await page.GotoAsync("/");

        // A file that is not an ONNX model: refused with its name; no project made.
        string notOnnx = Path.Combine(Path.GetTempPath(), $"tailor-not-a-model-{Guid.NewGuid():N}.onnx");
        await File.WriteAllTextAsync(notOnnx, "this is not a model");
        try
        {
            await page.GetByTestId("new-project-name").FillAsync("Broken");
            await page.GetByTestId("base-onnx").CheckAsync();
            await page.GetByTestId("onnx-file").SetInputFilesAsync(notOnnx);
            await page.GetByTestId("create-project").ClickAsync();
            await Expect(page.Locator(".messages .error")).ToContainTextAsync(Path.GetFileName(notOnnx));
            Assert.Equal(0, (await studio.GetJsonAsync("/api/projects")).GetArrayLength());
        }
        finally { File.Delete(notOnnx); }

        // A real export (SqueezeNet 1.1 as PyTorch writes it), its logits as the features: the project opens on Collect.
        await page.GetByTestId("new-project-name").FillAsync("Squeeze");
        await page.GetByTestId("onnx-file").SetInputFilesAsync(Path.Combine(models, "squeezenet1_1-opset13.onnx"));
        await page.GetByTestId("create-project").ClickAsync();
        await page.WaitForURLAsync("**/#/p/*/collect", new() { Timeout = 120_000 });
        long project = long.Parse(page.Url.Split("/p/")[1].Split('/')[0]);
        var created = await studio.GetJsonAsync($"/api/projects/{project}");
        Assert.Contains("squeezenet1_1-opset13.onnx", created.GetProperty("baseDescription").GetString());

        // Two labels, two training photos of the first, through the API.
        var ids = new Dictionary<string, long>();
        foreach (var label in Labels)
            ids[label] = (await studio.PostJsonAsync($"/api/projects/{project}/labels", new { name = label })).GetProperty("id").GetInt64();
        var fists = Directory.GetFiles(Path.Combine(TestData.HandsTrain, Labels[0])).Order().Take(2).ToArray();
        await studio.UploadAsync(project, ids[Labels[0]], "train", fists);
        await page.ReloadAsync();
        await Expect(Gallery(page, Labels[0], "train").GetByTestId("count")).ToHaveTextAsync("2");

        // Paste: the ✋ test gallery selected by a click, an image pasted (a paste event carrying a file, as the
        // clipboard gives one) goes there, reported, with the source "paste".
        await Gallery(page, Labels[1], "test").ClickAsync(new() { Position = new() { X = 5, Y = 5 } });
        await Expect(Gallery(page, Labels[1], "test")).ToHaveClassAsync(new System.Text.RegularExpressions.Regex(@"\bselected\b"));
        string palm = Directory.GetFiles(Path.Combine(TestData.HandsTest, Labels[1])).Order().First();
        await page.EvaluateAsync("""
            ([base64, name]) => {
              const bytes = Uint8Array.from(atob(base64), c => c.charCodeAt(0));
              const data = new DataTransfer();
              data.items.add(new File([bytes], name, { type: 'image/jpeg' }));
              document.dispatchEvent(new ClipboardEvent('paste', { clipboardData: data, bubbles: true, cancelable: true }));
            }
            """, new object[] { Convert.ToBase64String(await File.ReadAllBytesAsync(palm)), Path.GetFileName(palm) });
        await Expect(Gallery(page, Labels[1], "test").GetByTestId("count")).ToHaveTextAsync("1");
        await Expect(page.GetByTestId("upload-summary")).ToContainTextAsync("1 photo added");
        var pasted = (await studio.GetJsonAsync($"/api/projects/{project}/examples?label={ids[Labels[1]]}&set=test")).GetProperty("items")[0];
        Assert.Equal("paste", pasted.GetProperty("source").GetString());

        // Move a ✊ training photo to ✋ with its Move button, reached with the keyboard (its controls are hidden until the
        // photo has the focus or the pointer), the label chosen in the dialog; then to the test set the same way, with
        // the pointer.
        var first = Gallery(page, Labels[0], "train").GetByTestId("example").First;
        string moved = (await first.GetAttributeAsync("data-example-id"))!;
        await Expect(first.GetByTestId("move")).ToBeHiddenAsync();
        await first.Locator("a").FocusAsync();
        await page.Keyboard.PressAsync("Tab");
        await Expect(first.GetByTestId("move")).ToBeFocusedAsync();
        await page.Keyboard.PressAsync("Enter");
        await Expect(page.GetByTestId("dialog-label")).ToBeFocusedAsync();
        Assert.Equal(ids[Labels[0]].ToString(), await page.GetByTestId("dialog-label").InputValueAsync());
        Assert.Equal("train", await page.GetByTestId("dialog-set").InputValueAsync());
        await page.GetByTestId("dialog-label").SelectOptionAsync(ids[Labels[1]].ToString());
        await page.GetByTestId("dialog-ok").ClickAsync();
        await Expect(Gallery(page, Labels[0], "train").GetByTestId("count")).ToHaveTextAsync("1");
        await Expect(Gallery(page, Labels[1], "train").GetByTestId("count")).ToHaveTextAsync("1");
        var there = Gallery(page, Labels[1], "train").Locator($"[data-testid=example][data-example-id=\"{moved}\"]");
        await Expect(there).ToHaveCountAsync(1);
        await there.HoverAsync();
        await there.GetByTestId("move").ClickAsync();
        await page.GetByTestId("dialog-set").SelectOptionAsync("test");
        await page.GetByTestId("dialog-ok").ClickAsync();
        await Expect(Gallery(page, Labels[1], "train").GetByTestId("count")).ToHaveTextAsync("0");
        await Expect(Gallery(page, Labels[1], "test").GetByTestId("count")).ToHaveTextAsync("2");
        await Expect(Gallery(page, Labels[1], "test").Locator($"[data-testid=example][data-example-id=\"{moved}\"]")).ToHaveCountAsync(1);

        // The server agrees: the photo is a ✋ test example now.
        var example = (await studio.GetJsonAsync($"/api/projects/{project}/examples?label={ids[Labels[1]]}&set=test")).GetProperty("items")
            .EnumerateArray().Single(e => e.GetProperty("id").GetInt64().ToString() == moved);
        Assert.Equal(Labels[1], example.GetProperty("label").GetString());
        // The only console error is the browser's note of the refused upload's 400.
        Assert.DoesNotContain(studio.ConsoleErrors, e => !e.Contains("400", StringComparison.Ordinal));
    }
}

/// <summary>A fact that needs ../shared/models; skipped, with the reason, when that folder is absent (CI has it).</summary>
public sealed class SharedModelsFactAttribute : FactAttribute
{
    public SharedModelsFactAttribute()
    {
        if (ExportedModelTests.ModelsFolder() is null)
            Skip = "../shared/models (the torchvision exports of make_models.py) is not there; this test needs it.";
    }
}
