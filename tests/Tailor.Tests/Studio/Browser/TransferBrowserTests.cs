using System.IO.Compression;
using System.Text.Json;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Tailor.Tests.Studio.Browser;

/// <summary>Import and export in a real browser: a zip of the hands photos imported through the Projects screen, two
/// epochs trained, the project exported as a .tailor file (a download), then imported through the page of a fresh studio
/// (another workspace): its photos, model versions and epoch history are there, and training continues the numbering.</summary>
[Collection("Browser")]
[Trait("Category", "Slow")]
public sealed class TransferBrowserTests(BrowserFixture browser)
{
    [Fact]
    public async Task ProjectFile_ExportedFromThePage_ImportsInAFreshStudio_WithPhotosModelsHistory_AndTrainingContinues()
    {
        string temp = Directory.CreateTempSubdirectory("tailor-transfer-browser").FullName;
        try
        {
            string zip = Path.Combine(temp, "hands.zip");
            ZipFile.CreateFromDirectory(TestData.Hands, zip, CompressionLevel.Fastest, includeBaseDirectory: true);
            string exported = Path.Combine(temp, "exported.tailor");
            int versions;
            await using (var source = await StudioPage.StartAsync(browser))
            {
                var page = source.Page;
                await page.GotoAsync("/");
                await page.GetByTestId("import-file").SetInputFilesAsync(zip);
                await page.GetByTestId("import-submit").ClickAsync();
                await Expect(page.GetByTestId("import-status")).ToContainTextAsync("Imported hands.zip: 45 photos added", new() { Timeout = 90_000 });
                await Expect(page.GetByTestId("project-card")).ToHaveCountAsync(1);
                long id = long.Parse((await page.GetByTestId("project-card").GetAttributeAsync("data-project-id"))!);

                // Two epochs of the network, through the API (the Train screen is tested elsewhere).
                await source.PostJsonAsync($"/api/projects/{id}/runs", new { head = "neuralNetwork", epochs = 2, seed = 1 });
                await WaitForRunToEnd(source, id);
                versions = (await source.GetJsonAsync($"/api/projects/{id}/models")).GetArrayLength();
                Assert.Equal(2, versions);   // base + trained

                await page.ReloadAsync();
                var download = await page.RunAndWaitForDownloadAsync(() => page.GetByTestId("export-project").ClickAsync());
                Assert.EndsWith(".tailor", download.SuggestedFilename);
                await download.SaveAsAsync(exported);
            }
            Assert.True(new FileInfo(exported).Length > 1 << 20);

            await using var target = await StudioPage.StartAsync(browser);
            var p = target.Page;
            await p.GotoAsync("/");
            await Expect(p.GetByTestId("no-projects")).ToBeVisibleAsync();
            await p.GetByTestId("import-file").SetInputFilesAsync(exported);
            await p.GetByTestId("import-submit").ClickAsync();
            await Expect(p.GetByTestId("import-status")).ToContainTextAsync("Imported the project from exported.tailor: 45 photos", new() { Timeout = 90_000 });
            await Expect(p.GetByTestId("project-card")).ToHaveCountAsync(1);
            await p.GetByTestId("import-open").ClickAsync();
            await p.WaitForURLAsync("**/#/p/*/collect");

            // Its photos, labels and thumbnails.
            await Expect(p.GetByTestId("capacity")).ToContainTextAsync("30 training, 15 test examples");
            await Expect(p.GetByTestId("label")).ToHaveCountAsync(3);
            await Expect(p.Locator("[data-testid=example] img").First).ToHaveJSPropertyAsync("complete", true);
            Assert.True(await p.Locator("[data-testid=example] img").First.EvaluateAsync<int>("i => i.naturalWidth") > 0);

            // More photos from a zip, into this project (a new label among them), from the Collect screen.
            string more = Path.Combine(temp, "more.zip");
            using (var archive = ZipFile.Open(more, ZipArchiveMode.Create))
            {
                var image = new Tailor.Images.RgbImage(32, 32);
                new Random(3).NextBytes(image.Pixels);
                using var entry = archive.CreateEntry("thumbs up/new.png").Open();
                entry.Write(Tailor.Tests.Images.TestImages.Png(image));
            }
            await p.GetByTestId("import-into-file").SetInputFilesAsync(more);
            await Expect(p.GetByTestId("import-into-status")).ToContainTextAsync("Imported more.zip: 1 photo added");
            await Expect(p.GetByTestId("label")).ToHaveCountAsync(4);
            await Expect(p.GetByTestId("capacity")).ToContainTextAsync("31 training, 15 test examples");

            // Its model versions, the trained one current.
            await p.GetByTestId("nav-models").ClickAsync();
            await Expect(p.GetByTestId("model-row")).ToHaveCountAsync(versions);

            // Its history, and training continues from the imported model with the next epoch number.
            await p.GetByTestId("nav-train").ClickAsync();
            var rows = p.GetByTestId("epoch-row");
            await Expect(rows).ToHaveCountAsync(2);
            await p.GetByTestId("train-1").ClickAsync();
            await Expect(p.GetByTestId("run-state")).ToHaveAttributeAsync("data-state", "finished", new() { Timeout = 90_000 });
            await Expect(rows).ToHaveCountAsync(3);
            Assert.Equal("3", await rows.Last.GetAttributeAsync("data-epoch"));
            Assert.Empty(target.ConsoleErrors);
        }
        finally
        {
            try { Directory.Delete(temp, recursive: true); } catch (IOException) { }
        }
    }

    private static async Task WaitForRunToEnd(StudioPage studio, long project)
    {
        for (int i = 0; i < 600; i++)
        {
            var runs = await studio.GetJsonAsync($"/api/projects/{project}/runs");
            if (runs.GetArrayLength() > 0 && runs[0].GetProperty("state").GetString() != "running")
            {
                Assert.Equal("completed", runs[0].GetProperty("state").GetString());
                return;
            }
            await Task.Delay(250);   // polling a background run: a wait, not a timing assertion
        }
        Assert.Fail("the run did not end in 150 s");
    }
}
