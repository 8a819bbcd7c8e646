using System.Text.Json;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Tailor.Tests.Studio.Browser;

/// <summary>Model versions in the page (issue 12): two versions trained (k-NN, a 2-epoch network), compared on the Models
/// screen with the keyboard (counts as the API's separate evaluations say; a disagreement row shows both predictions;
/// the filters), the older one made current, the run history listing both runs with their settings.</summary>
[Collection("Browser")]
[Trait("Category", "Slow")]
public sealed class VersionsBrowserTests(BrowserFixture browser)
{
    private static readonly string[] Labels = Directory.GetDirectories(TestData.HandsTrain)
        .Select(d => Path.GetFileName(d)!).Order(StringComparer.Ordinal).ToArray();

    private static async Task<JsonElement> Train(StudioPage studio, long project, object request)
    {
        await studio.PostJsonAsync($"/api/projects/{project}/runs", request);
        while (true)
        {
            var status = await studio.GetJsonAsync($"/api/projects/{project}/run");
            if (!status.GetProperty("isActive").GetBoolean()) return status;
            await Task.Delay(200);
        }
    }

    [Fact]
    public async Task TwoVersions_ComparedInThePage_WithTheKeyboard_OlderMadeCurrent_HistoryListsBothRuns()
    {
        await using var studio = await StudioPage.StartAsync(browser);
        var page = studio.Page;
        long project = (await studio.PostJsonAsync("/api/projects", new { name = "Hands", @base = "resnet18" })).GetProperty("id").GetInt64();
        foreach (var label in Labels)
        {
            long id = (await studio.PostJsonAsync($"/api/projects/{project}/labels", new { name = label })).GetProperty("id").GetInt64();
            foreach (var (set, folder) in new[] { ("train", TestData.HandsTrain), ("test", TestData.HandsTest) })
            {
                using var form = new MultipartFormDataContent();
                foreach (var file in Directory.GetFiles(Path.Combine(folder, label)).Order(StringComparer.Ordinal))
                    form.Add(new ByteArrayContent(File.ReadAllBytes(file)), "files", Path.GetFileName(file));
                using var response = await studio.Http.PostAsync($"/api/projects/{project}/examples?label={id}&set={set}", form);
                Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
            }
        }
        var knnRun = await Train(studio, project, new { head = "knn" });
        var networkRun = await Train(studio, project, new { head = "neuralNetwork", epochs = 2, learningRate = 0.01, batchSize = 8, seed = 1 });
        long knn = knnRun.GetProperty("modelVersionId").GetInt64();
        long network = networkRun.GetProperty("modelVersionId").GetInt64();
        // What each version gets right, from separate evaluations.
        async Task<Dictionary<long, (string Predicted, bool Correct)>> Evaluate(long version) =>
            (await studio.PostJsonAsync($"/api/projects/{project}/evaluate", new { versionId = version })).GetProperty("rows").EnumerateArray()
            .ToDictionary(r => r.GetProperty("exampleId").GetInt64(), r => (r.GetProperty("predictedLabel").GetString()!, r.GetProperty("correct").GetBoolean()));
        var a = await Evaluate(knn);
        var b = await Evaluate(network);
        int disagreements = a.Keys.Count(id => a[id].Predicted != b[id].Predicted);
        Assert.True(disagreements > 0, "the k-NN and the 2-epoch network disagree somewhere (seed 1)");

        // Compare in the page, with the keyboard only: A = the k-NN, B = the network.
        await page.GotoAsync($"/#/p/{project}/models");
        await Expect(page.GetByTestId("history-row")).ToHaveCountAsync(2);
        await page.GetByTestId("compare-a").FocusAsync();
        await page.GetByTestId("compare-a").SelectOptionAsync(knn.ToString());
        await page.Keyboard.PressAsync("Tab");
        await Expect(page.GetByTestId("compare-b")).ToBeFocusedAsync();
        await page.GetByTestId("compare-b").SelectOptionAsync(network.ToString());
        await page.Keyboard.PressAsync("Tab");
        await Expect(page.GetByTestId("compare-run")).ToBeFocusedAsync();
        await page.Keyboard.PressAsync("Enter");
        await Expect(page.GetByTestId("compare-summary")).ToBeVisibleAsync();
        await Expect(page.GetByTestId("count-both-right")).ToHaveTextAsync(a.Keys.Count(id => a[id].Correct && b[id].Correct).ToString());
        await Expect(page.GetByTestId("count-only-a")).ToHaveTextAsync(a.Keys.Count(id => a[id].Correct && !b[id].Correct).ToString());
        await Expect(page.GetByTestId("count-only-b")).ToHaveTextAsync(a.Keys.Count(id => !a[id].Correct && b[id].Correct).ToString());
        await Expect(page.GetByTestId("count-both-wrong")).ToHaveTextAsync(a.Keys.Count(id => !a[id].Correct && !b[id].Correct).ToString());
        await Expect(page.GetByTestId("count-disagree")).ToHaveTextAsync(disagreements.ToString());
        await Expect(page.GetByTestId("compare-row")).ToHaveCountAsync(15);
        await Expect(page.Locator("[data-testid=compare-row] img").First).ToHaveJSPropertyAsync("complete", true);
        Assert.True(await page.Locator("[data-testid=compare-row] img").First.EvaluateAsync<int>("i => i.naturalWidth") > 0);

        // Disagreements only (a radio, chosen with the keyboard): each row says what each version predicted.
        await page.GetByTestId("filter-disagree").FocusAsync();
        await page.Keyboard.PressAsync("Space");
        await Expect(page.GetByTestId("compare-row")).ToHaveCountAsync(disagreements);
        var row = page.GetByTestId("compare-row").First;
        long example = long.Parse((await row.GetAttributeAsync("data-example-id"))!);
        await Expect(row.GetByTestId("prediction-a")).ToHaveAttributeAsync("data-label", a[example].Predicted);
        await Expect(row.GetByTestId("prediction-b")).ToHaveAttributeAsync("data-label", b[example].Predicted);
        await Expect(row.GetByTestId("prediction-a")).ToContainTextAsync(a[example].Correct ? "right" : "wrong");
        await Expect(row.GetByTestId("prediction-b")).ToContainTextAsync(b[example].Correct ? "right" : "wrong");
        Assert.NotEqual(a[example].Predicted, b[example].Predicted);
        await page.GetByTestId("filter-wrong-a").CheckAsync();
        await Expect(page.GetByTestId("compare-row")).ToHaveCountAsync(a.Values.Count(v => !v.Correct));
        await page.GetByTestId("filter-wrong-b").CheckAsync();
        await Expect(page.GetByTestId("compare-row")).ToHaveCountAsync(b.Values.Count(v => !v.Correct));
        await page.GetByTestId("filter-all").CheckAsync();
        await studio.ScreenshotAsync("models-compare");

        // The history: both runs, newest first, with their settings.
        var history = page.GetByTestId("history-row");
        await Expect(history.Nth(0).GetByTestId("history-head")).ToHaveTextAsync("network");
        await Expect(history.Nth(0).GetByTestId("history-settings")).ToContainTextAsync("2 epochs, learning rate 0.01, batch 8, seed 1");
        await Expect(history.Nth(0).GetByTestId("history-version")).ToHaveTextAsync($"version {network}");
        await Expect(history.Nth(1).GetByTestId("history-head")).ToHaveTextAsync("k-NN");
        await Expect(history.Nth(1).GetByTestId("history-version")).ToHaveTextAsync($"version {knn}");
        await Expect(history.Nth(1).GetByTestId("history-accuracy")).ToHaveTextAsync((a.Values.Count(v => v.Correct) * 100.0 / 15).ToString("0.0", System.Globalization.CultureInfo.InvariantCulture) + " %");

        // The older version (the k-NN) made current again.
        await page.Locator($"[data-testid=model-row][data-version-id=\"{knn}\"]").GetByTestId("make-current").ClickAsync();
        await page.GetByTestId("dialog-ok").ClickAsync();
        await Expect(page.GetByTestId("current-model")).ToHaveAttributeAsync("data-version-id", knn.ToString());
        Assert.Equal(knn, (await studio.GetJsonAsync($"/api/projects/{project}")).GetProperty("currentVersionId").GetInt64());
        await Expect(history).ToHaveCountAsync(2);
        Assert.Empty(studio.ConsoleErrors);
    }
}
