using System.Diagnostics;
using Microsoft.Playwright;
using Tailor.Tests.Studio.Recovery;
using Tailor.Tests.Studio.Workspace;
using Xunit.Abstractions;
using static Microsoft.Playwright.Assertions;
using StudioWorkspace = Tailor.Studio.Workspace;

namespace Tailor.Tests.Studio.Browser;

/// <summary>Runs that survive the server and tabs that share one run, in chromium: two pages on one project follow the
/// same run live to its end; a studio process killed with SIGKILL during a run and started again on the same workspace
/// shows the run interrupted with Resume in the page that was open, and Resume finishes it with its epochs numbered on.</summary>
[Collection("Browser")]
[Trait("Category", "Slow")]
public sealed class RecoveryBrowserTests(BrowserFixture browser, ITestOutputHelper output)
{
    private static ILocator Row(IPage page, int epoch) => page.Locator($"[data-testid=epoch-row][data-epoch=\"{epoch}\"]");

    [Fact]
    public async Task TwoTabs_OnOneProject_BothShowTheRunLive_AndItsEnd()
    {
        await using var studio = await StudioPage.StartAsync(browser);
        long project = studio.Workspace.ImportFolder(TestData.Hands, "hands", null, CancellationToken.None).Id;
        var first = studio.Page;
        await first.GotoAsync($"/#/p/{project}/train");
        await Expect(first.GetByTestId("run-state")).ToHaveAttributeAsync("data-state", "idle");

        // The default layers (a convolution fine-tuned): enough epochs (0.1–0.5 s each on two cores) that the second tab
        // joins mid-run.
        const int epochs = 30;
        await first.GetByTestId("custom-epochs").FillAsync(epochs.ToString());
        await first.GetByTestId("train-custom").ClickAsync();
        await Expect(Row(first, 1)).ToBeVisibleAsync(new() { Timeout = 90_000 });

        // A second tab on the same project during the run: the history so far, then the same epochs live.
        var second = await studio.NewPageAsync();
        await second.GotoAsync($"/#/p/{project}/train");
        await Expect(Row(second, 1)).ToBeVisibleAsync();
        int atJoin = await second.GetByTestId("epoch-row").CountAsync();
        Assert.True(atJoin < epochs, "the run ended before the second tab joined");
        await Expect(second.GetByTestId("run-state")).ToHaveAttributeAsync("data-state", "training");
        await Expect(Row(second, atJoin + 1)).ToBeVisibleAsync(new() { Timeout = 90_000 });   // live, not loaded
        foreach (var page in new[] { first, second })
        {
            await Expect(page.GetByTestId("run-state")).ToHaveAttributeAsync("data-state", "finished", new() { Timeout = 180_000 });
            await Expect(page.GetByTestId("epoch-row")).ToHaveCountAsync(epochs);
            await Expect(page.GetByTestId("run-message")).ToContainTextAsync("test accuracy");
        }
        // The same numbers in both: one run, seen twice.
        Assert.Equal(await first.GetByTestId("val-acc").AllTextContentsAsync(), await second.GetByTestId("val-acc").AllTextContentsAsync());
        Assert.Equal(await first.GetByTestId("run-message").TextContentAsync(), await second.GetByTestId("run-message").TextContentAsync());
        Assert.Single((await studio.GetJsonAsync($"/api/projects/{project}/runs")).EnumerateArray());
    }

    [Fact]
    public async Task StudioKilledDuringARun_StartedAgain_ThePageShowsInterrupted_AndResumeFinishesTheRun()
    {
        using var dir = new TempWorkspaceFolder();
        string folder = dir.Sub("ws");
        long project;
        using (var ws = StudioWorkspace.Open(folder)) project = ws.ImportFolder(TestData.Hands, "hands", null, CancellationToken.None).Id;
        int port = StudioProcess.FreePort();

        var studio = await StudioProcess.StartAsync(folder, port);
        await using var context = await browser.Browser.NewContextAsync(new BrowserNewContextOptions
        {
            BaseURL = studio.Url.ToString(),
            ViewportSize = new ViewportSize { Width = 1280, Height = 900 },
            ReducedMotion = ReducedMotion.Reduce,
        });
        context.SetDefaultTimeout(60_000);
        var page = await context.NewPageAsync();
        try
        {
            await page.GotoAsync($"/#/p/{project}/train");
            await page.GetByTestId("seed").FillAsync("5");
            // Enough epochs that the kill lands mid-run: an epoch here takes 0.1–0.5 s, and with 8 the run sometimes
            // finished between the second row showing and the kill (the page then rightly shows Finished).
            const int epochs = 40;
            await page.GetByTestId("custom-epochs").FillAsync(epochs.ToString());
            var startClock = Stopwatch.StartNew();
            await page.GetByTestId("train-custom").ClickAsync();
            await Expect(Row(page, 1)).ToBeVisibleAsync(new() { Timeout = 120_000 });
            double firstEpoch = startClock.Elapsed.TotalSeconds;   // the baseline: a run's start to its first epoch (features + one epoch)
            await Expect(Row(page, 2)).ToBeVisibleAsync(new() { Timeout = 120_000 });

            // kill -9 mid-run, then the studio again on the same workspace and port: the open page notices by itself.
            studio.KillHard();
            int shownAtKill = await page.GetByTestId("epoch-row").CountAsync();
            await studio.DisposeAsync();
            var restart = Stopwatch.StartNew();
            studio = await StudioProcess.StartAsync(folder, port);
            double listening = restart.Elapsed.TotalSeconds;
            await Expect(page.GetByTestId("interrupted")).ToBeVisibleAsync();
            await Expect(page.GetByTestId("run-state")).ToHaveAttributeAsync("data-state", "interrupted");
            var resume = page.GetByTestId("resume");
            await Expect(resume).ToBeVisibleAsync();
            string label = (await resume.TextContentAsync())!;
            int done = int.Parse(System.Text.RegularExpressions.Regex.Match(label, @"\d+").Value);
            Assert.InRange(done, Math.Max(1, shownAtKill - 1), epochs);
            await Expect(page.GetByTestId("epoch-row")).ToHaveCountAsync(done);
            double shown = restart.Elapsed.TotalSeconds;

            var resumeClock = Stopwatch.StartNew();
            await resume.ClickAsync();
            await Expect(page.GetByTestId("interrupted")).ToBeHiddenAsync();
            // Running again: the next epoch, numbered on from the checkpoint's.
            await Expect(Row(page, done + 1)).ToBeVisibleAsync(new() { Timeout = 90_000 });
            double running = resumeClock.Elapsed.TotalSeconds;
            output.WriteLine($"start → first epoch {firstEpoch:0.0} s (baseline); restart → listening {listening:0.0} s; → page shows Interrupted + Resume {shown:0.0} s; Resume → next epoch {running:0.0} s; " +
                $"epochs shown at the kill {shownAtKill}, checkpointed {done}");

            await Expect(page.GetByTestId("run-state")).ToHaveAttributeAsync("data-state", "finished", new() { Timeout = 300_000 });
            await Expect(page.GetByTestId("epoch-row")).ToHaveCountAsync(epochs);
            var numbers = await page.GetByTestId("epoch-row").EvaluateAllAsync<int[]>("rows => rows.map(r => Number(r.dataset.epoch))");
            Assert.Equal(Enumerable.Range(1, epochs), numbers);
            await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(BrowserFixture.ScreenshotFolder, "train-resumed.png"), FullPage = true });
        }
        finally
        {
            await studio.DisposeAsync();
        }
    }
}
