using System.Globalization;
using System.Net.Http.Headers;
using System.Text.Json;
using Microsoft.Playwright;
using Xunit.Abstractions;
using static Microsoft.Playwright.Assertions;

namespace Tailor.Tests.Studio.Browser;

/// <summary>The Try it screen in chromium with its fake camera (a moving test pattern), after training k-NN on the hands
/// photos: live probabilities that update frame after frame, a number key that adds the frame on show to a label's
/// training photos, a dropped hands photo predicted as its true label, and the camera let go when the screen is left.</summary>
[Collection("Browser")]
[Trait("Category", "Slow")]
public sealed class TryItBrowserTests(BrowserFixture browser, ITestOutputHelper output)
{
    private static readonly string[] Labels = Directory.GetDirectories(TestData.HandsTrain)
        .Select(d => Path.GetFileName(d)!).Order(StringComparer.Ordinal).ToArray();

    [Fact]
    public async Task Live_Probabilities_NumberKeyCapture_DroppedPhoto_AndTheCameraStopsWhenLeft()
    {
        await using var studio = await StudioPage.StartAsync(browser);
        var page = studio.Page;

        // A project with the hands training photos (through the API), trained with k-NN on the Train screen.
        long project = (await studio.PostJsonAsync("/api/projects", new { name = "Hands", @base = "resnet18" })).GetProperty("id").GetInt64();
        var labelIds = new Dictionary<string, long>();
        foreach (var label in Labels)
        {
            long id = (await studio.PostJsonAsync($"/api/projects/{project}/labels", new { name = label })).GetProperty("id").GetInt64();
            labelIds[label] = id;
            using var form = new MultipartFormDataContent();
            foreach (var file in Directory.GetFiles(Path.Combine(TestData.HandsTrain, label)).Order(StringComparer.Ordinal))
            {
                var part = new ByteArrayContent(await File.ReadAllBytesAsync(file));
                part.Headers.ContentType = new MediaTypeHeaderValue("image/jpeg");
                form.Add(part, "files", Path.GetFileName(file));
            }
            using var response = await studio.Http.PostAsync($"/api/projects/{project}/examples?label={id}&set=train", form);
            Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
        }

        // Before training the screen says so instead of predicting.
        await page.GotoAsync($"/#/p/{project}/try");
        await Expect(page.GetByTestId("try-message")).ToContainTextAsync("has no trained label yet");
        await page.GetByTestId("try-camera").ClickAsync();
        await Expect(page.GetByTestId("try-message")).ToContainTextAsync("has no trained label yet");
        await Expect(page.GetByTestId("try-camera")).ToHaveTextAsync("Start camera");

        await page.GetByTestId("nav-train").ClickAsync();
        await page.GetByTestId("head").SelectOptionAsync("knn");
        await page.GetByTestId("train-head").ClickAsync();
        await Expect(page.GetByTestId("run-state")).ToHaveAttributeAsync("data-state", "finished", new() { Timeout = 120_000 });
        long version = (await studio.GetJsonAsync($"/api/projects/{project}")).GetProperty("currentVersionId").GetInt64();

        // Live: the camera's frames are answered one after another, several distinct frames.
        await page.GetByTestId("nav-try").ClickAsync();
        await page.GetByTestId("try-camera").ClickAsync();
        var live = page.GetByTestId("try-live");
        await Expect(live).ToHaveAttributeAsync("data-running", "true");
        await page.WaitForFunctionAsync("""
            () => {
              const el = document.querySelector('[data-testid=try-live]');
              const seen = (window.__frames ??= new Set());
              if (el.dataset.frame !== undefined) seen.add(el.dataset.frame);
              return seen.size >= 4 && Number(el.dataset.answered) >= 4;
            }
            """);
        await Expect(page.GetByTestId("try-version")).ToHaveTextAsync($"Model version {version}");
        await Expect(page.GetByTestId("try-message")).ToBeHiddenAsync();

        // One consistent look at a frame's answer: one row per label, probabilities that sum to 1, and the flag set
        // exactly when the top probability is under the threshold.
        var snapshot = await page.EvaluateAsync<JsonElement>("""
            () => {
              const rows = [...document.querySelectorAll('[data-testid=live-predictions] [data-testid=prediction]')];
              return {
                labels: rows.map(r => r.dataset.label),
                probabilities: rows.map(r => parseFloat(r.querySelector('[data-testid=probability]').textContent) / 100),
                keys: rows.map(r => r.querySelector('kbd').textContent),
                unsure: document.querySelector('[data-testid=try-live]').dataset.unsure === 'true',
                threshold: Number(document.querySelector('[data-testid=try-threshold]').value),
              };
            }
            """);
        Assert.Equal(Labels, snapshot.GetProperty("labels").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal(["1", "2", "3"], snapshot.GetProperty("keys").EnumerateArray().Select(e => e.GetString()));
        var probabilities = snapshot.GetProperty("probabilities").EnumerateArray().Select(e => e.GetDouble()).ToList();
        Assert.InRange(probabilities.Sum(), 0.99, 1.01);
        Assert.Equal(0.6, snapshot.GetProperty("threshold").GetDouble(), 1e-9);
        Assert.Equal(probabilities.Max() < 0.6, snapshot.GetProperty("unsure").GetBoolean());

        // The page's own rate (the last ten answers), and answers counted over a stretch of at least 3 s: figures for
        // the README, printed, never asserted.
        var cpu0 = System.Diagnostics.Process.GetCurrentProcess().TotalProcessorTime;
        double t0 = await page.EvaluateAsync<double>("() => performance.now()");
        int a0 = int.Parse((await live.GetAttributeAsync("data-answered"))!, CultureInfo.InvariantCulture);
        await page.WaitForFunctionAsync($"() => performance.now() - {t0.ToString(CultureInfo.InvariantCulture)} >= 3000 && Number(document.querySelector('[data-testid=try-live]').dataset.answered) >= {a0 + 5}");
        double t1 = await page.EvaluateAsync<double>("() => performance.now()");
        int a1 = int.Parse((await live.GetAttributeAsync("data-answered"))!, CultureInfo.InvariantCulture);
        var cpu = System.Diagnostics.Process.GetCurrentProcess().TotalProcessorTime - cpu0;   // the studio runs in this process
        output.WriteLine($"live: {a1 - a0} frames answered in {(t1 - t0) / 1000:0.0} s = {(a1 - a0) * 1000 / (t1 - t0):0.0} predictions/s; page rate {await live.GetAttributeAsync("data-rate")}/s; " +
            $"{await page.GetByTestId("try-state").TextContentAsync()}; studio CPU {cpu.TotalMilliseconds / (a1 - a0):0} ms a frame");
        await studio.ScreenshotAsync("try", fullPage: false);

        // A hidden tab sends no frame; shown again, the frames go on.
        await page.EvaluateAsync("""
            () => {
              Object.defineProperty(document, 'hidden', { configurable: true, get: () => true });
              document.dispatchEvent(new Event('visibilitychange'));
            }
            """);
        await Expect(live).Not.ToHaveAttributeAsync("data-running", "true");
        int hidden = int.Parse((await live.GetAttributeAsync("data-answered"))!, CultureInfo.InvariantCulture);
        await page.EvaluateAsync("""
            () => {
              Object.defineProperty(document, 'hidden', { configurable: true, get: () => false });
              document.dispatchEvent(new Event('visibilitychange'));
            }
            """);
        await Expect(live).ToHaveAttributeAsync("data-running", "true");
        await page.WaitForFunctionAsync($"() => Number(document.querySelector('[data-testid=try-live]').dataset.answered) >= {hidden + 2}");

        // A number key adds the frame on show to that label's training photos, said once.
        var second = page.Locator($"[data-testid=live-predictions] [data-testid=prediction][data-label=\"{Labels[1]}\"]");
        await Expect(second.GetByTestId("train-count")).ToHaveTextAsync("10 photos");
        await page.Locator("body").FocusAsync();
        await page.Keyboard.PressAsync("2");
        await Expect(second.GetByTestId("train-count")).ToHaveTextAsync("11 photos");
        await Expect(page.GetByTestId("live-status")).ToHaveTextAsync($"Added to {Labels[1]}: 11 training photos.");
        var stored = await studio.GetJsonAsync($"/api/projects/{project}/examples?label={labelIds[Labels[1]]}&set=train&limit=100");
        Assert.Equal(11, stored.GetProperty("total").GetInt32());
        Assert.Equal("camera", stored.GetProperty("items").EnumerateArray().Last().GetProperty("source").GetString());

        // A dropped hands photo (one the model gets right, as the API says) is shown and predicted as its label.
        string droppedLabel = Labels[2];
        string? photo = null;
        foreach (var candidate in Directory.GetFiles(Path.Combine(TestData.HandsTest, droppedLabel)).Order(StringComparer.Ordinal))
        {
            var content = new ByteArrayContent(await File.ReadAllBytesAsync(candidate));
            content.Headers.ContentType = new MediaTypeHeaderValue("image/jpeg");
            using var response = await studio.Http.PostAsync($"/api/projects/{project}/predict", content);
            var answer = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
            if (answer.GetProperty("top")[0].GetProperty("label").GetString() == droppedLabel) { photo = candidate; break; }
        }
        Assert.NotNull(photo);
        await page.EvaluateAsync("""
            ({ data, name }) => {
              const bytes = Uint8Array.from(atob(data), c => c.charCodeAt(0));
              const transfer = new DataTransfer();
              transfer.items.add(new File([bytes], name, { type: 'image/jpeg' }));
              document.querySelector('[data-testid=try-version]').dispatchEvent(new DragEvent('drop', { dataTransfer: transfer, bubbles: true, cancelable: true }));
            }
            """, new { data = Convert.ToBase64String(await File.ReadAllBytesAsync(photo)), name = Path.GetFileName(photo) });
        await Expect(page.GetByTestId("try-drop")).ToHaveAttributeAsync("data-label", droppedLabel);
        await Expect(page.GetByTestId("try-image-top")).ToContainTextAsync(droppedLabel);
        await Expect(page.GetByTestId("try-image")).ToBeVisibleAsync();
        Assert.True(await page.GetByTestId("try-image").EvaluateAsync<int>("i => i.complete ? i.naturalWidth : 0") > 0);

        // Leaving the screen lets the camera go.
        await page.EvaluateAsync("() => { window.__stream = document.querySelector('[data-testid=try-video]').srcObject; }");
        await page.GetByTestId("nav-collect").ClickAsync();
        await Expect(page.GetByTestId("try-screen")).ToHaveCountAsync(0);
        Assert.True(await page.EvaluateAsync<bool>("() => window.__stream.getTracks().every(t => t.readyState === 'ended')"));
        Assert.Empty(studio.ConsoleErrors);
    }
}
