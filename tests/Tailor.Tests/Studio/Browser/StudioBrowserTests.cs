using System.Text.Json;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Microsoft.Playwright;
using Tailor.Images;
using static Microsoft.Playwright.Assertions;

namespace Tailor.Tests.Studio.Browser;

/// <summary>The studio in a real browser (Debian's chromium, headless), on the hands photos: the reference app's loop
/// from an empty workspace to a downloaded model, and the webcam with chromium's fake camera. Each test saves a
/// screenshot of its screens (BrowserFixture.ScreenshotFolder). Waits are for elements and text, never for time.</summary>
[Collection("Browser")]
[Trait("Category", "Slow")]
public sealed class StudioBrowserTests(BrowserFixture browser)
{
    private static readonly string[] Labels = Directory.GetDirectories(TestData.HandsTrain)
        .Select(d => Path.GetFileName(d)!).Order(StringComparer.Ordinal).ToArray();

    private static ILocator LabelSection(IPage page, string label) => page.Locator($"[data-testid=label][data-label=\"{label}\"]");

    [Fact]
    public async Task Loop_CreateCollectTrainLiveEvaluateRelabelResetDownload()
    {
        await using var studio = await StudioPage.StartAsync(browser);
        var page = studio.Page;

        // Projects: a new project from the embedded ResNet18.
        await page.GotoAsync("/");
        await Expect(page.GetByTestId("no-projects")).ToBeVisibleAsync();
        await page.GetByTestId("new-project-name").FillAsync("Hands");
        await page.GetByTestId("create-project").ClickAsync();
        await page.WaitForURLAsync("**/#/p/*/collect");
        long projectId = long.Parse(page.Url.Split("/p/")[1].Split('/')[0]);

        // Collect: three labels, then ten training and five test photos each, uploaded as many files at once.
        foreach (var label in Labels)
        {
            await page.GetByTestId("label-name").FillAsync(label);
            await page.GetByTestId("add-label").ClickAsync();
            await Expect(LabelSection(page, label)).ToBeVisibleAsync();
        }
        await Expect(page.GetByTestId("capacity")).ToContainTextAsync("7 of 10 slots free");
        foreach (var label in Labels)
            foreach (var (set, folder) in new[] { ("train", TestData.HandsTrain), ("test", TestData.HandsTest) })
            {
                var files = Directory.GetFiles(Path.Combine(folder, label)).Order(StringComparer.Ordinal).ToArray();
                var gallery = LabelSection(page, label).GetByTestId($"gallery-{set}");
                await gallery.GetByTestId("file-input").SetInputFilesAsync(files);
                await Expect(page.GetByTestId("upload-summary")).ToContainTextAsync($"{files.Length} photos added");
                await Expect(gallery.GetByTestId("count")).ToHaveTextAsync(files.Length.ToString());
                await Expect(gallery.GetByTestId("example")).ToHaveCountAsync(files.Length);
            }
        await Expect(page.GetByTestId("capacity")).ToContainTextAsync("30 training, 15 test examples");

        // A photo already in the project is reported, not added again.
        var again = Directory.GetFiles(Path.Combine(TestData.HandsTrain, Labels[0])).Order(StringComparer.Ordinal).First();
        await LabelSection(page, Labels[1]).GetByTestId("gallery-train").GetByTestId("file-input").SetInputFilesAsync(again);
        await Expect(page.GetByTestId("upload-summary")).ToContainTextAsync("0 photos added, 1 duplicate");
        await Expect(LabelSection(page, Labels[1]).GetByTestId("gallery-train").GetByTestId("count")).ToHaveTextAsync("10");
        // Thumbnails load (lazily, from the server).
        await Expect(page.Locator("[data-testid=example] img").First).ToHaveAttributeAsync("src", new System.Text.RegularExpressions.Regex("/thumbnail$"));
        await Expect(page.Locator("[data-testid=example] img").First).ToHaveJSPropertyAsync("complete", true);
        Assert.True(await page.Locator("[data-testid=example] img").First.EvaluateAsync<int>("i => i.naturalWidth") > 0);
        await studio.ScreenshotAsync("collect", fullPage: false);

        // Train k-NN: one click, finished with a test accuracy.
        await page.GetByTestId("nav-train").ClickAsync();
        await page.GetByTestId("head").SelectOptionAsync("knn");
        await page.GetByTestId("train-head").ClickAsync();
        await Expect(page.GetByTestId("run-state")).ToHaveAttributeAsync("data-state", "finished", new() { Timeout = 90_000 });
        await Expect(page.GetByTestId("run-message")).ToContainTextAsync("test accuracy");
        // No epochs for k-NN: the loss chart and the epoch table are not shown (empty) beside it.
        // (The elements exist on the page, hidden: on the old page they showed, and the test failed.)
        await Expect(page.GetByTestId("chart")).ToHaveCountAsync(1);
        await Expect(page.GetByTestId("chart")).ToBeHiddenAsync();
        await Expect(page.GetByTestId("epoch-table")).ToBeHiddenAsync();

        // Train the network: rows appear while it runs (Stop is live when the first one shows).
        // The model now has a k-NN head: the network starts from the pretrained base, said and asked first.
        await page.GetByTestId("head").SelectOptionAsync("neuralNetwork");
        await Expect(page.GetByTestId("head-notice")).ToBeVisibleAsync();
        await Expect(page.GetByTestId("chart")).ToBeVisibleAsync();
        await page.GetByTestId("custom-epochs").FillAsync("300");
        await page.GetByTestId("train-custom").ClickAsync();
        await page.GetByTestId("dialog-ok").ClickAsync();
        var rows = page.GetByTestId("epoch-row");
        await Expect(rows.First).ToBeVisibleAsync(new() { Timeout = 90_000 });
        await Expect(page.GetByTestId("stop")).ToBeEnabledAsync();
        await Expect(page.GetByTestId("run-state")).ToHaveAttributeAsync("data-state", "training");
        Assert.Equal("1", await rows.First.GetAttributeAsync("data-epoch"));
        Assert.True(int.Parse((await page.GetByTestId("chart").GetAttributeAsync("data-points"))!) >= 1);
        await Expect(page.Locator("[data-testid=chart] canvas")).ToHaveCountAsync(1);

        // Reopening the page shows the run live with its history so far.
        await page.ReloadAsync();
        await Expect(rows.First).ToBeVisibleAsync();
        await Expect(page.GetByTestId("run-state")).ToHaveAttributeAsync("data-state", "training");
        int seen = await rows.CountAsync();
        await Expect(page.Locator($"[data-testid=epoch-row][data-epoch=\"{seen + 1}\"]")).ToBeVisibleAsync();

        // The learning-rate slider mid-run: the epoch the server names takes the new rate.
        var before = await page.GetByTestId("learning-rate-value").TextContentAsync();
        await page.GetByTestId("learning-rate").FocusAsync();
        await page.Keyboard.PressAsync("PageDown");
        var rate = await page.GetByTestId("learning-rate-value").TextContentAsync();
        Assert.NotEqual(before, rate);
        await Expect(page.GetByTestId("run-note")).ToContainTextAsync($"Learning rate {rate} from epoch");
        int from = int.Parse(System.Text.RegularExpressions.Regex.Match((await page.GetByTestId("run-note").TextContentAsync())!, @"from epoch (\d+)").Groups[1].Value);
        var changed = page.Locator($"[data-testid=epoch-row][data-epoch=\"{from}\"]");
        await Expect(changed).ToBeVisibleAsync();
        Assert.Equal(double.Parse(rate!, System.Globalization.CultureInfo.InvariantCulture),
            double.Parse((await changed.GetByTestId("epoch-lr").TextContentAsync())!, System.Globalization.CultureInfo.InvariantCulture), 1e-12);
        await studio.ScreenshotAsync("train");

        // Stop keeps the last finished epoch; Start again continues the numbering.
        await page.GetByTestId("stop").ClickAsync();
        await Expect(page.GetByTestId("run-state")).ToHaveAttributeAsync("data-state", "stopped", new() { Timeout = 60_000 });
        int kept = await rows.CountAsync();
        Assert.True(kept >= from, $"{kept} rows after stopping, the rate changed from epoch {from}");
        Assert.Equal(kept.ToString(), await rows.Last.GetAttributeAsync("data-epoch"));
        await page.GetByTestId("train-1").ClickAsync();
        await Expect(page.GetByTestId("run-state")).ToHaveAttributeAsync("data-state", "finished", new() { Timeout = 60_000 });
        await Expect(rows).ToHaveCountAsync(kept + 1);
        Assert.Equal((kept + 1).ToString(), await rows.Last.GetAttributeAsync("data-epoch"));

        // Evaluate: 15 rows, the wrong ones first.
        await page.GetByTestId("nav-evaluate").ClickAsync();
        var evalRows = page.GetByTestId("eval-row");
        await Expect(evalRows).ToHaveCountAsync(15, new() { Timeout = 60_000 });
        var correct = await evalRows.EvaluateAllAsync<string[]>("rows => rows.map(r => r.dataset.correct)");
        int wrong = correct.Count(c => c == "false");
        Assert.Equal(Enumerable.Repeat("false", wrong).Concat(Enumerable.Repeat("true", 15 - wrong)), correct);
        await Expect(page.GetByTestId("eval-right")).ToContainTextAsync($"{15 - wrong} / 15");
        await Expect(page.GetByTestId("per-label-row")).ToHaveCountAsync(3);
        // A confusion cell opens its photos.
        var cell = page.GetByTestId("confusion-cell").First;
        var cellCount = int.Parse((await cell.TextContentAsync())!);
        await cell.ClickAsync();
        await Expect(page.GetByTestId("cell-image")).ToHaveCountAsync(cellCount);
        await studio.ScreenshotAsync("evaluate");

        // The trained model, downloaded, runs in plain ONNX Runtime and gets a photo the studio got right right too.
        var rightRow = evalRows.And(page.Locator("[data-correct=true]")).First;
        long rightId = long.Parse((await rightRow.GetAttributeAsync("data-example-id"))!);
        string rightLabel = (await rightRow.GetByTestId("true-label").TextContentAsync())!;
        await page.GetByTestId("nav-models").ClickAsync();
        var download = await page.RunAndWaitForDownloadAsync(() => page.GetByTestId("download").ClickAsync());
        Assert.EndsWith(".onnx", download.SuggestedFilename);
        var modelPath = Path.Combine(Path.GetTempPath(), $"tailor-studio-download-{Guid.NewGuid():N}.onnx");
        var photoPath = modelPath + ".jpg";
        try
        {
            await download.SaveAsAsync(modelPath);
            await File.WriteAllBytesAsync(photoPath, await studio.Http.GetByteArrayAsync($"/api/examples/{rightId}/image"));
            Assert.Equal(rightLabel, PredictWithPlainOnnxRuntime(modelPath, photoPath));
        }
        finally
        {
            File.Delete(modelPath);
            File.Delete(photoPath);
        }

        // Fix: relabel the first (wrongest) test photo from the Evaluate screen.
        await page.GetByTestId("nav-evaluate").ClickAsync();
        await Expect(evalRows).ToHaveCountAsync(15, new() { Timeout = 60_000 });
        var first = evalRows.First;
        long firstId = long.Parse((await first.GetAttributeAsync("data-example-id"))!);
        string trueLabel = (await first.GetByTestId("true-label").TextContentAsync())!;
        string newLabel = Labels.First(l => l != trueLabel);
        await first.GetByTestId("relabel").SelectOptionAsync(new SelectOptionValue { Label = newLabel });
        await first.GetByTestId("apply-relabel").ClickAsync();
        await Expect(first).ToHaveAttributeAsync("data-changed", "true");
        var examples = await studio.GetJsonAsync($"/api/projects/{projectId}/examples?set=test&limit=100");
        var moved = examples.GetProperty("items").EnumerateArray().Single(e => e.GetProperty("id").GetInt64() == firstId);
        Assert.Equal(newLabel, moved.GetProperty("label").GetString());

        // Models: reset to an empty classifier, asked first in a dialog operated by keyboard alone.
        await page.GetByTestId("nav-models").ClickAsync();
        await Expect(page.GetByTestId("model-row").First).ToBeVisibleAsync();
        var currentBefore = await page.GetByTestId("current-model").GetAttributeAsync("data-version-id");
        int versions = await page.GetByTestId("model-row").CountAsync();
        await page.GetByTestId("reset-empty").FocusAsync();
        await page.Keyboard.PressAsync("Enter");
        await Expect(page.GetByTestId("dialog")).ToBeVisibleAsync();
        await Expect(page.GetByTestId("dialog-cancel")).ToBeFocusedAsync();   // a destructive question starts on Cancel
        await page.Keyboard.PressAsync("Escape");
        await Expect(page.GetByTestId("dialog")).ToBeHiddenAsync();
        Assert.Equal(currentBefore, await page.GetByTestId("current-model").GetAttributeAsync("data-version-id"));
        await page.GetByTestId("reset-empty").FocusAsync();
        await page.Keyboard.PressAsync("Enter");
        await page.Keyboard.PressAsync("Tab");
        await Expect(page.GetByTestId("dialog-ok")).ToBeFocusedAsync();
        await page.Keyboard.PressAsync("Enter");
        await Expect(page.GetByTestId("current-model")).ToContainTextAsync("empty classifier");
        Assert.NotEqual(currentBefore, await page.GetByTestId("current-model").GetAttributeAsync("data-version-id"));
        await Expect(page.GetByTestId("model-row")).ToHaveCountAsync(versions + 1);
        await studio.ScreenshotAsync("models");

        // After the reset the Train screen starts a new history.
        await page.GetByTestId("nav-train").ClickAsync();
        await Expect(page.GetByTestId("run-state")).ToHaveAttributeAsync("data-state", "idle");
        await Expect(rows).ToHaveCountAsync(0);

        // The project list shows the project with its counts.
        await page.GetByTestId("nav-projects").ClickAsync();
        await Expect(page.GetByTestId("project-card")).ToHaveCountAsync(1);
        await Expect(page.GetByTestId("project-card")).ToContainTextAsync("3 labels of 10 slots");
        await studio.ScreenshotAsync("projects", fullPage: false);
        Assert.Empty(studio.ConsoleErrors);
    }

    [Fact]
    public async Task Webcam_BurstWhileHeld_AddsExamples_AndDeletingALabelAsksFirst()
    {
        await using var studio = await StudioPage.StartAsync(browser);
        var page = studio.Page;
        var project = await studio.PostJsonAsync("/api/projects", new { name = "Camera", @base = "resnet18" });
        long id = project.GetProperty("id").GetInt64();
        foreach (var label in Labels[..2]) await studio.PostJsonAsync($"/api/projects/{id}/labels", new { name = label });

        await page.GotoAsync($"/#/p/{id}/collect");
        await page.GetByTestId("camera-start").ClickAsync();
        await Expect(page.GetByTestId("camera")).ToHaveAttributeAsync("data-ready", "true");
        await Expect(page.GetByTestId("camera-capture")).ToBeEnabledAsync();
        // The model's input (224×224) is drawn over the video, at the video's own resolution.
        int videoWidth = await page.GetByTestId("camera-video").EvaluateAsync<int>("v => v.videoWidth");
        Assert.True(videoWidth > 0);
        await Expect(page.GetByTestId("camera-overlay")).ToHaveJSPropertyAsync("width", videoWidth);

        // Hold the button: a burst at the chosen rate, into the chosen label and set.
        await page.GetByTestId("camera-label").SelectOptionAsync(new SelectOptionValue { Label = Labels[1] });
        await page.GetByTestId("camera-rate").SelectOptionAsync("10");
        await page.GetByTestId("camera-capture").HoverAsync();
        await page.Mouse.DownAsync();
        await page.WaitForFunctionAsync("() => parseInt(document.querySelector('[data-testid=camera-count]').textContent) >= 3");
        await page.Mouse.UpAsync();
        var train = LabelSection(page, Labels[1]).GetByTestId("gallery-train");
        await Expect(page.GetByTestId("live-status")).ToContainTextAsync("captured");
        int held = int.Parse((await train.GetByTestId("count").TextContentAsync())!);
        Assert.True(held >= 3, $"{held} photos after holding the button");
        await Expect(train.GetByTestId("example")).ToHaveCountAsync(held);
        await studio.ScreenshotAsync("camera", fullPage: false);

        // Space held captures too, here into the test set.
        await page.GetByTestId("camera-set").SelectOptionAsync("test");
        await page.Locator("body").FocusAsync();
        await page.EvaluateAsync("() => document.activeElement.blur()");
        await page.Keyboard.DownAsync("Space");
        await page.WaitForFunctionAsync("() => parseInt(document.querySelector('[data-testid=camera-count]').textContent) >= 2");
        await page.Keyboard.UpAsync("Space");
        var test = LabelSection(page, Labels[1]).GetByTestId("gallery-test");
        await Expect(test.GetByTestId("example").First).ToBeVisibleAsync();
        var stored = await studio.GetJsonAsync($"/api/projects/{id}/examples?limit=100");
        Assert.All(stored.GetProperty("items").EnumerateArray(), e => Assert.Equal("camera", e.GetProperty("source").GetString()));
        // Captures are cut to the model's aspect (square) before upload.
        Assert.All(stored.GetProperty("items").EnumerateArray(), e => Assert.Equal(e.GetProperty("width").GetInt32(), e.GetProperty("height").GetInt32()));
        await page.GetByTestId("camera-start").ClickAsync();

        // Deleting a label asks first: Cancel keeps it, OK deletes it and frees its slot.
        var doomed = LabelSection(page, Labels[1]);
        await doomed.GetByTestId("delete-label").ClickAsync();
        await Expect(page.GetByTestId("dialog-text")).ToContainTextAsync("examples are deleted too");
        await page.GetByTestId("dialog-cancel").ClickAsync();
        await Expect(doomed).ToBeVisibleAsync();
        await Expect(page.GetByTestId("capacity")).ToContainTextAsync("8 of 10 slots free");
        await doomed.GetByTestId("delete-label").ClickAsync();
        await page.GetByTestId("dialog-ok").ClickAsync();
        await Expect(doomed).ToHaveCountAsync(0);
        await Expect(page.GetByTestId("capacity")).ToContainTextAsync("9 of 10 slots free");

        // Rename keeps the slot.
        var kept = LabelSection(page, Labels[0]);
        var slot = await kept.Locator(".slot").TextContentAsync();
        await kept.GetByTestId("rename-label").ClickAsync();
        await page.GetByTestId("dialog-input").FillAsync("fist ✊");
        await page.Keyboard.PressAsync("Enter");
        await Expect(LabelSection(page, "fist ✊")).ToBeVisibleAsync();
        Assert.Equal(slot, await LabelSection(page, "fist ✊").Locator(".slot").TextContentAsync());
        Assert.Empty(studio.ConsoleErrors);
    }

    /// <summary>The model's answer for a photo in ONNX Runtime alone: the photo made into the input tensor as the
    /// model's spec says (the library's loader), the label output read.</summary>
    private static string PredictWithPlainOnnxRuntime(string modelPath, string photoPath)
    {
        var spec = UpdatableModel.Load(modelPath).Spec.Preprocessing;
        var input = new float[ImageLoader.TensorLength(spec)];
        ImageLoader.LoadInto(photoPath, spec, input);
        using var session = new InferenceSession(modelPath);
        var (name, meta) = session.InputMetadata.Single();
        var shape = meta.Dimensions.Select(d => d < 0 ? 1 : d).ToArray();
        using var results = session.Run([NamedOnnxValue.CreateFromTensor(name, new DenseTensor<float>(input, shape))]);
        var probabilities = results.First(r => r.Name == "probabilities").AsTensor<float>().ToArray();
        Assert.Equal(1.0, probabilities.Sum(), 3);
        return results.First(r => r.Name == "label").AsTensor<string>().ToArray()[0];
    }
}
