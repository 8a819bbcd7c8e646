using System.Net.Http.Headers;
using System.Text.Json;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Tailor.Tests.Studio.Browser;

/// <summary>Issue 12, items 6 and 7 in a real browser: the main loop with the keyboard alone (Tab, Enter, Space and
/// typing), focus visible at every stop, no serious or critical axe-core violation on any screen, the live region
/// announcing once per epoch (not per batch or per photo), and the guidance where users get stuck — a diverged learning
/// rate on Train, too few photos on Collect, a label without test photos on Evaluate.</summary>
[Collection("Browser")]
[Trait("Category", "Slow")]
public sealed class StudioAccessibilityTests(BrowserFixture browser)
{
    private static readonly string[] Labels = Directory.GetDirectories(TestData.HandsTrain)
        .Select(d => Path.GetFileName(d)!).Order(StringComparer.Ordinal).ToArray();

    private static string[] Photos(string set, string label) =>
        Directory.GetFiles(Path.Combine(TestData.Hands, set, label)).Order(StringComparer.Ordinal).ToArray();

    [Fact]
    public async Task TheMainLoop_ByKeyboardAlone_WithFocusVisible_AndNoSeriousAxeViolationOnAnyScreen()
    {
        await using var studio = await StudioPage.StartAsync(browser);
        var page = studio.Page;
        var keys = new KeyboardWalk(page);
        var violations = new List<string>();

        await page.GotoAsync("/");
        await Expect(page.GetByTestId("no-projects")).ToBeVisibleAsync();
        violations.AddRange(await Axe.SeriousViolations(page, "projects"));

        // Projects: type a name, Enter.
        await keys.TabTo("[data-testid=new-project-name]");
        await page.Keyboard.TypeAsync("Hands");
        await page.Keyboard.PressAsync("Enter");
        await page.WaitForURLAsync("**/#/p/*/collect", new() { Timeout = 60_000 });
        long projectId = long.Parse(page.Url.Split("/p/")[1].Split('/')[0]);

        // Collect: two labels (Enter submits, the field keeps the focus), then photos through the file input: Space on it
        // opens the file chooser, as a keyboard user's browser does.
        await keys.TabTo("[data-testid=label-name]");
        foreach (var label in Labels[..2])
        {
            await page.Keyboard.TypeAsync(label);
            await page.Keyboard.PressAsync("Enter");
            await Expect(page.Locator($"[data-testid=label][data-label=\"{label}\"]")).ToBeVisibleAsync();
            await Expect(page.GetByTestId("label-name")).ToBeFocusedAsync();
        }
        violations.AddRange(await Axe.SeriousViolations(page, "collect (labels, no photos)"));
        foreach (var label in Labels[..2])
            foreach (var set in new[] { "train", "test" })
            {
                var files = Photos(set, label).Take(set == "train" ? 6 : 2).ToArray();
                string input = $"[data-testid=label][data-label=\"{label}\"] [data-testid=gallery-{set}] [data-testid=file-input]";
                await keys.TabTo(input);
                var chooser = await keys.OpenFileChooser(input);
                await chooser.SetFilesAsync(files);
                var gallery = page.Locator($"[data-testid=label][data-label=\"{label}\"] [data-testid=gallery-{set}]");
                await Expect(gallery.GetByTestId("count")).ToHaveTextAsync(files.Length.ToString());
            }
        await Expect(page.GetByTestId("capacity")).ToContainTextAsync("12 training, 4 test examples");
        violations.AddRange(await Axe.SeriousViolations(page, "collect"));

        // Train: one epoch of the network, started with Enter.
        await keys.TabTo("[data-testid=nav-train]", backwards: true);
        await page.Keyboard.PressAsync("Enter");
        await Expect(page.GetByTestId("run-state")).ToHaveAttributeAsync("data-state", "idle");
        violations.AddRange(await Axe.SeriousViolations(page, "train (idle)"));
        await keys.TabTo("[data-testid=train-1]");
        await page.Keyboard.PressAsync("Enter");
        await Expect(page.GetByTestId("run-state")).ToHaveAttributeAsync("data-state", "finished", new() { Timeout = 180_000 });
        await Expect(page.GetByTestId("epoch-row")).ToHaveCountAsync(1);
        violations.AddRange(await Axe.SeriousViolations(page, "train (finished)"));

        // Evaluate: the link, Enter; the evaluation runs by itself.
        await keys.TabTo("[data-testid=nav-evaluate]", backwards: true);
        await page.Keyboard.PressAsync("Enter");
        await Expect(page.GetByTestId("eval-row")).ToHaveCountAsync(4, new() { Timeout = 60_000 });
        // A confusion cell opens its photos with Enter.
        await keys.TabTo("[data-testid=confusion-cell]");
        await page.Keyboard.PressAsync("Enter");
        await Expect(page.GetByTestId("cell-image").First).ToBeVisibleAsync();
        violations.AddRange(await Axe.SeriousViolations(page, "evaluate"));

        // Try it (whatever it holds after the merges).
        await keys.TabTo("[data-testid=nav-try]", backwards: true);
        await page.Keyboard.PressAsync("Enter");
        await page.WaitForURLAsync("**/try");
        await Expect(page.GetByTestId("view")).Not.ToContainTextAsync("Loading…");
        violations.AddRange(await Axe.SeriousViolations(page, "try"));

        // Models: reset to an empty classifier, confirmed in the dialog with Tab and Space.
        await keys.TabTo("[data-testid=nav-models]", backwards: true);
        await page.Keyboard.PressAsync("Enter");
        await Expect(page.GetByTestId("model-row").First).ToBeVisibleAsync();
        violations.AddRange(await Axe.SeriousViolations(page, "models"));
        await keys.TabTo("[data-testid=reset-empty]");
        await page.Keyboard.PressAsync("Enter");
        await Expect(page.GetByTestId("dialog-cancel")).ToBeFocusedAsync();
        violations.AddRange(await Axe.SeriousViolations(page, "models (dialog)"));
        await page.Keyboard.PressAsync("Tab");
        await Expect(page.GetByTestId("dialog-ok")).ToBeFocusedAsync();
        await page.Keyboard.PressAsync("Space");
        await Expect(page.GetByTestId("current-model")).ToContainTextAsync("empty classifier");

        // Back to the projects with the brand link.
        await keys.TabTo("[data-testid=nav-projects]", backwards: true);
        await page.Keyboard.PressAsync("Enter");
        await Expect(page.GetByTestId("project-card")).ToHaveCountAsync(1);
        violations.AddRange(await Axe.SeriousViolations(page, "projects (one project)"));

        Assert.True(keys.Invisible.Count == 0, "Focus not visible at: " + string.Join("; ", keys.Invisible.Distinct()));
        Assert.True(violations.Count == 0, $"{violations.Count} serious or critical axe violations:\n" + string.Join("\n", violations));
        Assert.True(keys.Stops > 20, $"{keys.Stops} tab stops");
        Assert.Empty(studio.ConsoleErrors);
        _ = projectId;
    }

    [Fact]
    public async Task TheLiveRegion_ChangesOncePerEpoch_NotPerBatchOrPerPhoto()
    {
        await using var studio = await StudioPage.StartAsync(browser);
        var page = studio.Page;
        long id = await Seed(studio, "Live", train: 10, test: 2);

        await page.GotoAsync($"/#/p/{id}/train");
        await Expect(page.GetByTestId("run-state")).ToHaveAttributeAsync("data-state", "idle");
        // The default layers (the last convolution too): batches slow enough for their progress to reach the page.
        await page.GetByTestId("batch-size").SelectOptionAsync("8");
        await page.GetByTestId("custom-epochs").FillAsync("3");
        // Every text the live region and the visible run message take, from now on.
        await page.EvaluateAsync("""
            () => {
              window.__live = []; window.__messages = [];
              const watch = (el, into) => new MutationObserver(() => into.push(el.textContent)).observe(el, { childList: true, characterData: true, subtree: true });
              watch(document.getElementById('live-status'), window.__live);
              watch(document.querySelector('[data-testid=run-message]'), window.__messages);
            }
            """);
        await page.GetByTestId("train-custom").ClickAsync();
        await Expect(page.GetByTestId("run-state")).ToHaveAttributeAsync("data-state", "finished", new() { Timeout = 180_000 });

        var live = await page.EvaluateAsync<string[]>("() => window.__live");
        var messages = await page.EvaluateAsync<string[]>("() => window.__messages");
        // The page did see batches and feature progress (the visible message shows them)…
        Assert.True(messages.Count(m => m.StartsWith("Computing features:", StringComparison.Ordinal)) >= 2, string.Join("\n", messages));
        Assert.True(messages.Count(m => System.Text.RegularExpressions.Regex.IsMatch(m, @"batch \d+ of")) >= 2, string.Join("\n", messages));
        // …and the live region said each epoch once, never a batch, and the feature progress at most once.
        string all = string.Join("\n", live);
        Assert.DoesNotMatch(@"batch \d+ of", all);
        for (int epoch = 1; epoch <= 3; epoch++)
            Assert.True(live.Count(t => t.Contains($"Epoch {epoch} of 3 done", StringComparison.Ordinal)) == 1, $"epoch {epoch}:\n{all}");
        Assert.True(live.Count(t => t.StartsWith("Preparing", StringComparison.Ordinal)) <= 1, all);
        Assert.True(live.Length <= 3 + 5, $"{live.Length} announcements for a 3-epoch run:\n{all}");
        Assert.Contains("Finished", live[^1], StringComparison.Ordinal);
        Assert.Empty(studio.ConsoleErrors);
    }

    [Fact]
    public async Task Guidance_OnCollectTrainAndEvaluate_AndADivergedRunSaysTheEpochAndARateToTry()
    {
        await using var studio = await StudioPage.StartAsync(browser);
        var page = studio.Page;
        // The embedded ResNet18's allowed rates do not diverge on these photos: the project's model allows up to 1e38.
        long id = studio.CreateProject("Wide", Tailor.Tests.Studio.Runs.RunDivergenceTests.WideModel());
        var project = await studio.GetJsonAsync($"/api/projects/{id}");
        var labelIds = project.GetProperty("labels").EnumerateArray().ToDictionary(l => l.GetProperty("name").GetString()!, l => l.GetProperty("id").GetInt64());
        await studio.UploadAsync(id, labelIds[Labels[0]], "train", Photos("train", Labels[0]));
        await studio.UploadAsync(id, labelIds[Labels[1]], "train", Photos("train", Labels[1]).Take(3));
        await studio.UploadAsync(id, labelIds[Labels[2]], "train", Photos("train", Labels[2]));
        await studio.UploadAsync(id, labelIds[Labels[0]], "test", Photos("test", Labels[0]).Take(2));
        await studio.UploadAsync(id, labelIds[Labels[2]], "test", Photos("test", Labels[2]).Take(2));

        // The API: camelCase items, each with its screen.
        var items = (await studio.GetJsonAsync($"/api/projects/{id}/guidance")).EnumerateArray().ToList();
        var few = items.Single(i => i.GetProperty("code").GetString() == "few-training-examples");
        Assert.Equal(("collect", labelIds[Labels[1]], Labels[1]), (few.GetProperty("where").GetString(), few.GetProperty("labelId").GetInt64(), few.GetProperty("label").GetString()));
        Assert.Contains("at least 2 more", few.GetProperty("action").GetString());
        Assert.Contains(items, i => i.GetProperty("code").GetString() == "unbalanced" && i.GetProperty("where").GetString() == "train");
        Assert.Contains(items, i => i.GetProperty("code").GetString() == "no-test-example" && i.GetProperty("labelId").GetInt64() == labelIds[Labels[1]]);

        // Train names the unbalanced set (10, 3, 10).
        await page.GotoAsync($"/#/p/{id}/train");
        var unbalanced = page.Locator("[data-testid=guidance][data-where=train] [data-testid=hint][data-code=unbalanced]");
        await Expect(unbalanced).ToContainTextAsync($"{Labels[1]} 3");

        // Collect shows its hint; adding the photos it asks for makes it go.
        await page.GetByTestId("nav-collect").ClickAsync();
        var hint = page.Locator("[data-testid=guidance][data-where=collect] [data-testid=hint][data-code=few-training-examples]");
        await Expect(hint).ToContainTextAsync($"{Labels[1]} has only 3 photos");
        await Expect(hint).ToContainTextAsync("at least 2 more");
        Assert.Empty(await Axe.SeriousViolations(page, "collect with hints"));
        await studio.ScreenshotAsync("guidance", fullPage: false);
        await page.Locator($"[data-testid=label][data-label=\"{Labels[1]}\"] [data-testid=gallery-train] [data-testid=file-input]")
            .SetInputFilesAsync(Photos("train", Labels[1]).Skip(3).Take(2).ToArray());
        await Expect(hint).ToHaveCountAsync(0);
        await Expect(page.Locator("[data-testid=guidance][data-where=collect]")).ToBeHiddenAsync();

        // Evaluate names the label it cannot judge.
        await page.GetByTestId("nav-evaluate").ClickAsync();
        await Expect(page.Locator("[data-testid=guidance][data-where=evaluate] [data-testid=hint][data-code=no-test-example]"))
            .ToContainTextAsync($"{Labels[1]} has no test photo");

        // Train: balanced now (10, 5, 10); the slider at its top (1e38, allowed by this model) diverges at once.
        await page.GetByTestId("nav-train").ClickAsync();
        await Expect(page.GetByTestId("run-state")).ToHaveAttributeAsync("data-state", "idle");
        await Expect(unbalanced).ToHaveCountAsync(0);
        await page.GetByTestId("layers").SelectOptionAsync("classifierOnly");
        await page.GetByTestId("learning-rate").FocusAsync();
        await page.Keyboard.PressAsync("End");
        await Expect(page.GetByTestId("learning-rate-value")).ToHaveTextAsync("1e+38");
        var trainHints = page.Locator("[data-testid=guidance][data-where=train]");
        await Expect(trainHints).ToHaveAttributeAsync("data-shown", "1");
        await page.GetByTestId("train-1").ClickAsync();
        await Expect(page.GetByTestId("run-state")).ToHaveAttributeAsync("data-state", "failed", new() { Timeout = 180_000 });
        var message = page.GetByTestId("run-message");
        await Expect(message).ToContainTextAsync("Training diverged at epoch 1");
        await Expect(message).ToContainTextAsync("try 1E+37 (a tenth), or the model's default, 0.005");
        await Expect(message).ToHaveClassAsync(new System.Text.RegularExpressions.Regex(@"\balert\b"));
        await Expect(page.GetByTestId("live-status")).ToContainTextAsync("Training diverged at epoch 1");
        await Expect(message).Not.ToContainTextAsync("..");
        Assert.Empty(await Axe.SeriousViolations(page, "train (diverged)"));
        await studio.ScreenshotAsync("train-diverged", fullPage: false);
        // The run message says it; the same hint is not repeated beneath.
        var diverged = page.Locator("[data-testid=guidance][data-where=train] [data-testid=hint][data-code=diverged]");
        await Expect(trainHints).ToHaveAttributeAsync("data-shown", new System.Text.RegularExpressions.Regex("^([2-9]|[1-9][0-9]+)$"));   // reloaded as the run ended
        await Expect(trainHints).ToHaveAttributeAsync("data-count", "0");
        await Expect(diverged).ToHaveCountAsync(0);

        // Reopened later, the Train screen still says why the last run failed, and what to do.
        await page.ReloadAsync();
        await Expect(diverged).ToContainTextAsync("Training diverged at epoch 1");
        await Expect(diverged).ToContainTextAsync("Lower the learning rate with the slider");
        Assert.Empty(studio.ConsoleErrors);
    }

    /// <summary>A project on the embedded ResNet18 with the first two labels, <paramref name="train"/> and
    /// <paramref name="test"/> photos each.</summary>
    private static async Task<long> Seed(StudioPage studio, string name, int train, int test)
    {
        long id = (await studio.PostJsonAsync("/api/projects", new { name, @base = "resnet18" })).GetProperty("id").GetInt64();
        foreach (var label in Labels[..2])
        {
            long labelId = (await studio.PostJsonAsync($"/api/projects/{id}/labels", new { name = label })).GetProperty("id").GetInt64();
            await studio.UploadAsync(id, labelId, "train", Photos("train", label).Take(train));
            await studio.UploadAsync(id, labelId, "test", Photos("test", label).Take(test));
        }
        return id;
    }

    /// <summary>Tab (or Shift+Tab) until the focus is on an element matching a selector, checking at every stop that the
    /// focus is visible: the element matches :focus-visible and has an outline (a visually hidden file input: its label).</summary>
    private sealed class KeyboardWalk(IPage page)
    {
        public List<string> Invisible { get; } = [];
        public int Stops { get; private set; }

        public async Task TabTo(string selector, bool backwards = false, int max = 250)
        {
            for (int i = 0; i < max; i++)
            {
                await page.Keyboard.PressAsync(backwards ? "Shift+Tab" : "Tab");
                Stops++;
                var stop = await page.EvaluateAsync<JsonElement>("""
                    selector => {
                      const el = document.activeElement;
                      if (!el || el === document.body) return { matches: false, visible: true, what: 'body' };
                      const r = el.getBoundingClientRect(), own = getComputedStyle(el);
                      const hidden = r.width <= 2 || r.height <= 2 || own.clip.startsWith('rect') || own.opacity === '0';
                      const target = hidden && el.labels && el.labels.length ? el.labels[0] : el;
                      const s = getComputedStyle(target);
                      const outlined = s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2;
                      const what = el.dataset.testid || (el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') + ' "' + (el.textContent || '').trim().slice(0, 30) + '"');
                      return { matches: el.matches(selector), visible: el.matches(':focus-visible') && outlined, what };
                    }
                    """, selector);
                if (!stop.GetProperty("visible").GetBoolean()) Invisible.Add(stop.GetProperty("what").GetString()!);
                if (stop.GetProperty("matches").GetBoolean()) return;
            }
            throw new Xunit.Sdk.XunitException($"{selector} not reached in {max} presses of {(backwards ? "Shift+Tab" : "Tab")}.");
        }

        /// <summary>Space on the focused file input opens the file chooser. Chromium drops the keyboard activation of a
        /// file input now and then on a loaded machine (CI run of ee60c0f: no chooser in 30 s
        /// after the press), so a second press is allowed — only while the focus is still on the input: a focus lost to a
        /// re-render fails the test.</summary>
        public async Task<IFileChooser> OpenFileChooser(string selector)
        {
            for (int attempt = 1; ; attempt++)
            {
                await Assertions.Expect(page.Locator(selector)).ToBeFocusedAsync();
                try
                {
                    return await page.RunAndWaitForFileChooserAsync(() => page.Keyboard.PressAsync("Space"), new() { Timeout = 15_000 });
                }
                catch (TimeoutException) when (attempt < 2) { }
            }
        }
    }
}

/// <summary>axe-core (an npm devDependency of Tailor.Studio, never served) run in the page.</summary>
internal static class Axe
{
    public static string ScriptPath =>
        Path.Combine(ReadmeTests.RepositoryRoot(), "src", "Tailor.Studio", "node_modules", "axe-core", "axe.min.js");

    /// <summary>The serious and critical violations on the page as it is, one line per rule and element.</summary>
    public static async Task<IReadOnlyList<string>> SeriousViolations(IPage page, string screen)
    {
        if (!await page.EvaluateAsync<bool>("() => typeof window.axe === 'object'"))
        {
            // Not AddScriptTagAsync: the studio's CSP (script-src 'self') refuses the inline script tag it makes (tried: the
            // console reports the violation and axe is not there). The text is evaluated through the DevTools protocol
            // instead, which a page's CSP does not govern.
            await page.EvaluateAsync(await File.ReadAllTextAsync(ScriptPath) + "\n;0");
            Assert.True(await page.EvaluateAsync<bool>("() => typeof window.axe === 'object'"), "axe-core did not load");
        }
        var found = await page.EvaluateAsync<string[]>("""
            async () => {
              const result = await axe.run(document, { resultTypes: ['violations'] });
              return result.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
                .flatMap(v => v.nodes.map(n => `${v.impact} ${v.id} (${v.help}): ${n.target.join(' ')} — ${(n.failureSummary || '').replace(/\s+/g, ' ')}`));
            }
            """);
        return found.Select(f => $"[{screen}] {f}").ToList();
    }
}
