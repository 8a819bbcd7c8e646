using System.Net.Http.Headers;
using Microsoft.Playwright;
using Tailor.Images;
using static Microsoft.Playwright.Assertions;

namespace Tailor.Tests.Studio.Browser;

/// <summary>A gallery of 1,000 examples in chromium: one page at a time with its counts from the server, thumbnails
/// requested only as they come into view, the page's size bounded whatever the set's.</summary>
[Collection("Browser")]
[Trait("Category", "Slow")]
public sealed class ScaleBrowserTests(BrowserFixture browser)
{
    private const int Examples = 1000, Page = 60;

    /// <summary>A small JPEG unlike any other: a colour and a stripe pattern from <paramref name="i"/>.</summary>
    private static byte[] Photo(int i)
    {
        using var image = new RgbImage(48, 36);
        var pixels = image.Pixels;
        for (int y = 0; y < 36; y++)
            for (int x = 0; x < 48; x++)
            {
                int o = 3 * (y * 48 + x);
                bool stripe = ((x / 4) & 7) == (i & 7) || ((y / 4) & 7) == ((i >> 3) & 7);
                pixels[o] = (byte)(stripe ? 255 - (i * 37) % 256 : (i * 37) % 256);
                pixels[o + 1] = (byte)((i >> 6) * 16 + x);
                pixels[o + 2] = (byte)(y * 7);
            }
        return Tailor.Tests.Images.TestImages.Jpeg(image, quality: 90);
    }

    [Fact]
    public async Task GalleryOf1000_PagesWithServerCounts_AndRequestsOnlyTheVisibleThumbnailsFirst()
    {
        await using var studio = await StudioPage.StartAsync(browser);
        long project = (await studio.PostJsonAsync("/api/projects", new { name = "Many", @base = "resnet18" })).GetProperty("id").GetInt64();
        long label = (await studio.PostJsonAsync($"/api/projects/{project}/labels", new { name = "many" })).GetProperty("id").GetInt64();
        for (int start = 0; start < Examples; start += 100)
        {
            using var form = new MultipartFormDataContent();
            for (int i = start; i < start + 100; i++)
            {
                var part = new ByteArrayContent(Photo(i));
                part.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
                part.Headers.ContentDisposition = new ContentDispositionHeaderValue("form-data") { Name = "\"files\"", FileName = $"\"photo-{i}.jpg\"" };
                form.Add(part);
            }
            using var response = await studio.Http.PostAsync($"/api/projects/{project}/examples?label={label}&set=train", form);
            var text = await response.Content.ReadAsStringAsync();
            Assert.True(response.IsSuccessStatusCode, text);
            Assert.DoesNotContain("\"refused\":[{", text);
        }

        var requested = new System.Collections.Concurrent.ConcurrentBag<long>();
        studio.Page.Request += (_, r) =>
        {
            var m = System.Text.RegularExpressions.Regex.Match(r.Url, @"/api/examples/(\d+)/thumbnail");
            if (m.Success) requested.Add(long.Parse(m.Groups[1].Value));
        };
        var page = studio.Page;
        await page.GotoAsync($"/#/p/{project}/collect");
        var gallery = page.Locator($"[data-testid=label][data-label=\"many\"]").GetByTestId("gallery-train");
        var examples = gallery.GetByTestId("example");
        await Expect(gallery.GetByTestId("count")).ToHaveTextAsync("1000");
        await Expect(gallery.GetByTestId("page-range")).ToHaveTextAsync("1–60 of 1000");
        await Expect(examples).ToHaveCountAsync(Page);
        await Expect(gallery.GetByTestId("page-prev")).ToBeDisabledAsync();

        // The first screen's thumbnails load; those further down the box are not asked for.
        var first = examples.First.Locator("img");
        await Expect(first).ToHaveAttributeAsync("src", new System.Text.RegularExpressions.Regex("/thumbnail$"));
        await page.WaitForFunctionAsync("i => i.complete && i.naturalWidth > 0", await first.ElementHandleAsync());
        var ids = await examples.EvaluateAllAsync<long[]>("els => els.map(e => Number(e.dataset.exampleId))");
        long lastId = ids[^1];
        int shown = requested.Distinct().Count();
        Assert.InRange(shown, 1, Page - 1);
        Assert.All(requested, id => Assert.Contains(id, ids));
        Assert.DoesNotContain(lastId, requested);

        // Scrolling the box to its end asks for the rest of the page.
        await gallery.GetByTestId("thumbs").EvaluateAsync("g => g.scrollTop = g.scrollHeight");
        await Expect(examples.Last.Locator("img")).ToHaveAttributeAsync("src", new System.Text.RegularExpressions.Regex("/thumbnail$"));
        await page.WaitForFunctionAsync("i => i.complete && i.naturalWidth > 0", await examples.Last.Locator("img").ElementHandleAsync());
        Assert.Contains(lastId, requested);

        // Next page: the next 60 by the server's order, the page still holding 60 (not 120).
        await gallery.GetByTestId("page-next").ClickAsync();
        await Expect(gallery.GetByTestId("page-range")).ToHaveTextAsync("61–120 of 1000");
        await Expect(examples).ToHaveCountAsync(Page);
        await Expect(examples.First).ToHaveAttributeAsync("data-example-id", (ids[^1] + 1).ToString());
        Assert.Equal(Page, await page.Locator("[data-testid=example]").CountAsync());
        await Expect(page.GetByTestId("live-status")).ToContainTextAsync("61–120 of 1000");

        // Keyboard: Previous goes back to the first page.
        await gallery.GetByTestId("page-prev").FocusAsync();
        await page.Keyboard.PressAsync("Enter");
        await Expect(gallery.GetByTestId("page-range")).ToHaveTextAsync("1–60 of 1000");
        await Expect(examples.First).ToHaveAttributeAsync("data-example-id", ids[0].ToString());

        // A page after a move keeps its place: moving one example to the test set leaves the training set at 999.
        await gallery.GetByTestId("page-next").ClickAsync();
        await Expect(gallery.GetByTestId("page-range")).ToHaveTextAsync("61–120 of 1000");
        await examples.First.HoverAsync();
        await examples.First.GetByTestId("move").ClickAsync();
        await page.GetByTestId("dialog-set").SelectOptionAsync("test");
        await page.GetByTestId("dialog-ok").ClickAsync();
        await Expect(gallery.GetByTestId("count")).ToHaveTextAsync("999");
        await Expect(gallery.GetByTestId("page-range")).ToHaveTextAsync("61–120 of 999");
        Assert.Empty(studio.ConsoleErrors);
    }

    [Fact]
    public async Task CollectPage_AsksForTheProjectOnce_AndForThumbnailsOfGalleriesBelowTheFirstScreenOnlyWhenScrolledNear()
    {
        await using var studio = await StudioPage.StartAsync(browser);
        long project = (await studio.PostJsonAsync("/api/projects", new { name = "Labels", @base = "resnet18" })).GetProperty("id").GetInt64();
        var labels = new List<long>();
        for (int l = 0; l < 8; l++)
        {
            long label = (await studio.PostJsonAsync($"/api/projects/{project}/labels", new { name = $"label {l}" })).GetProperty("id").GetInt64();
            labels.Add(label);
            using var form = new MultipartFormDataContent();
            for (int i = 0; i < 4; i++)
            {
                var part = new ByteArrayContent(Photo(10 * l + i));
                part.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
                part.Headers.ContentDisposition = new ContentDispositionHeaderValue("form-data") { Name = "\"files\"", FileName = $"\"photo-{l}-{i}.jpg\"" };
                form.Add(part);
            }
            using var response = await studio.Http.PostAsync($"/api/projects/{project}/examples?label={label}&set=train", form);
            Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
        }

        var asked = new System.Collections.Concurrent.ConcurrentQueue<string>();
        studio.Page.Request += (_, r) => asked.Enqueue(new Uri(r.Url).PathAndQuery);
        var page = studio.Page;
        await page.SetViewportSizeAsync(1280, 900);
        await page.GotoAsync($"/#/p/{project}/collect");
        var first = page.Locator("[data-testid=label][data-label=\"label 0\"]").GetByTestId("gallery-train").GetByTestId("example").First.Locator("img");
        await Expect(first).ToHaveAttributeAsync("src", new System.Text.RegularExpressions.Regex("/thumbnail$"));
        await page.WaitForFunctionAsync("i => i.complete && i.naturalWidth > 0", await first.ElementHandleAsync());
        var last = page.Locator("[data-testid=label][data-label=\"label 7\"]");
        await Expect(last.GetByTestId("gallery-train").GetByTestId("example")).ToHaveCountAsync(4);

        // The router's project is the page's: one request for it before the galleries' pages.
        var before = asked.TakeWhile(a => !a.Contains("/examples?", StringComparison.Ordinal)).ToList();
        Assert.Single(before, a => a == $"/api/projects/{project}");
        // The last label's gallery is far below the first screen: its thumbnails are not asked for yet.
        var lastIds = await last.GetByTestId("example").EvaluateAllAsync<long[]>("els => els.map(e => Number(e.dataset.exampleId))");
        Assert.DoesNotContain(asked, a => lastIds.Any(id => a == $"/api/examples/{id}/thumbnail"));
        Assert.Null(await last.GetByTestId("example").First.Locator("img").GetAttributeAsync("src"));

        // Scrolled into view, they are.
        await last.ScrollIntoViewIfNeededAsync();
        await Expect(last.GetByTestId("example").First.Locator("img")).ToHaveAttributeAsync("src", new System.Text.RegularExpressions.Regex("/thumbnail$"));
        Assert.Empty(studio.ConsoleErrors);
    }

    private const int FullLabels = 4, FullPerLabel = 30;

    /// <summary>A project of <see cref="FullLabels"/> labels whose training galleries fill their boxes (more photos than a box
    /// shows); returns its id.</summary>
    private static async Task<long> FullGalleries(StudioPage studio)
    {
        long project = (await studio.PostJsonAsync("/api/projects", new { name = "Full", @base = "resnet18" })).GetProperty("id").GetInt64();
        for (int l = 0; l < FullLabels; l++)
        {
            long label = (await studio.PostJsonAsync($"/api/projects/{project}/labels", new { name = $"label {l}" })).GetProperty("id").GetInt64();
            using var form = new MultipartFormDataContent();
            for (int i = 0; i < FullPerLabel; i++)
            {
                var part = new ByteArrayContent(Photo(100 + FullPerLabel * l + i));
                part.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
                part.Headers.ContentDisposition = new ContentDispositionHeaderValue("form-data") { Name = "\"files\"", FileName = $"\"photo-{l}-{i}.jpg\"" };
                form.Add(part);
            }
            using var response = await studio.Http.PostAsync($"/api/projects/{project}/examples?label={label}&set=train", form);
            Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
        }
        return project;
    }

    /// <summary>Per training gallery (in the page's order): where its box is against the window, and which of its
    /// thumbnails are in view (in the window and in the box's visible part) or have a src.</summary>
    private const string Galleries = """
        () => [...document.querySelectorAll('[data-testid=gallery-train] [data-testid=thumbs]')].map(grid => {
          const box = grid.getBoundingClientRect();
          const imgs = [...grid.querySelectorAll('img')];
          const inView = i => { const r = i.getBoundingClientRect(); return r.bottom > Math.max(box.top, 0) && r.top < Math.min(box.bottom, innerHeight); };
          return { top: box.top - innerHeight, count: imgs.length, inView: imgs.filter(inView).length,
            withSrc: imgs.filter(i => i.hasAttribute('src')).map(i => Number(i.closest('[data-example-id]').dataset.exampleId)),
            inViewWithSrc: imgs.filter(i => inView(i) && i.hasAttribute('src')).length,
            ids: imgs.map(i => Number(i.closest('[data-example-id]').dataset.exampleId)) };
        })
        """;

    /// <summary>The first screen's thumbnails are asked for as their galleries' pages come, not after an
    /// IntersectionObserver's answer (which waits for the next frame's layout): a page where no observer ever answers
    /// still shows them — and only them.</summary>
    [Fact]
    public async Task CollectPage_AsksForTheFirstScreensThumbnails_WithoutWaitingForAnObserver()
    {
        await using var studio = await StudioPage.StartAsync(browser);
        long project = await FullGalleries(studio);
        var page = studio.Page;
        await page.AddInitScriptAsync("window.IntersectionObserver = class { observe() {} unobserve() {} disconnect() {} takeRecords() { return []; } };");
        await page.GotoAsync($"/#/p/{project}/collect");
        await Expect(page.Locator("[data-testid=example]")).ToHaveCountAsync(FullLabels * FullPerLabel);
        var first = page.GetByTestId("gallery-train").First.GetByTestId("example").First.Locator("img");
        await Expect(first).ToHaveAttributeAsync("src", new System.Text.RegularExpressions.Regex("/thumbnail$"));
        await page.WaitForFunctionAsync("i => i.complete && i.naturalWidth > 0", await first.ElementHandleAsync());
        var shown = await page.EvaluateAsync<GalleryView[]>(Galleries);
        Assert.Equal(FullLabels, shown.Length);
        Assert.True(shown[0].InView is > 0 and < FullPerLabel, $"the first gallery shows {shown[0].InView} of its {FullPerLabel} thumbnails");
        Assert.InRange(shown[0].WithSrc.Length, shown[0].InView, FullPerLabel - 1);
        Assert.All(shown, g => Assert.Equal(g.InView, g.InViewWithSrc));
        Assert.Contains(shown, g => g.Top > 300);
        Assert.All(shown.Where(g => g.Top > 300), g => Assert.Empty(g.WithSrc));
        Assert.Empty(studio.ConsoleErrors);
    }

    /// <summary>The galleries far below the first screen (beyond the rows read ahead) are not asked for — also when their
    /// pages come before those above them have grown to their size (an observer answering on that first, short layout
    /// would take them for near).</summary>
    [Fact]
    public async Task CollectPage_DoesNotAskForTheThumbnailsOfFullGalleriesBelowTheFirstScreen()
    {
        await using var studio = await StudioPage.StartAsync(browser);
        long project = await FullGalleries(studio);
        var asked = new System.Collections.Concurrent.ConcurrentBag<long>();
        var page = studio.Page;
        page.Request += (_, r) =>
        {
            var m = System.Text.RegularExpressions.Regex.Match(r.Url, @"/api/examples/(\d+)/thumbnail");
            if (m.Success) asked.Add(long.Parse(m.Groups[1].Value));
        };
        await page.GotoAsync($"/#/p/{project}/collect");
        await Expect(page.Locator("[data-testid=example]")).ToHaveCountAsync(FullLabels * FullPerLabel);
        var first = page.GetByTestId("gallery-train").First.GetByTestId("example").First.Locator("img");
        await Expect(first).ToHaveAttributeAsync("src", new System.Text.RegularExpressions.Regex("/thumbnail$"));
        await page.WaitForFunctionAsync("i => i.complete && i.naturalWidth > 0", await first.ElementHandleAsync());
        // Two frames more: every observer has answered what the layout of the full galleries shows.
        await page.EvaluateAsync("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))");
        var far = (await page.EvaluateAsync<GalleryView[]>(Galleries)).Where(g => g.Top > 300).ToList();
        Assert.NotEmpty(far);
        Assert.All(far, g => Assert.Empty(g.WithSrc));
        Assert.DoesNotContain(asked, id => far.Any(g => g.Ids.Contains(id)));

        // Scrolled to, they are.
        var last = page.GetByTestId("gallery-train").Last.GetByTestId("example").First.Locator("img");
        await last.ScrollIntoViewIfNeededAsync();
        await Expect(last).ToHaveAttributeAsync("src", new System.Text.RegularExpressions.Regex("/thumbnail$"));
        Assert.Empty(studio.ConsoleErrors);
    }

    /// <summary>The first screen does not wait for the galleries below it: their items are built when the browser is idle
    /// (or when scrolled near), and until then their boxes keep the height their page takes, so nothing moves when they
    /// are built. Here the browser is never idle and no observer answers until the test says so.</summary>
    [Fact]
    public async Task CollectPage_BuildsTheGalleriesBelowTheFirstScreenWhenIdle_WithoutMovingAnything()
    {
        await using var studio = await StudioPage.StartAsync(browser);
        long project = await FullGalleries(studio);
        var page = studio.Page;
        await page.AddInitScriptAsync("""
            window.IntersectionObserver = class { observe() {} unobserve() {} disconnect() {} takeRecords() { return []; } };
            window.__idle = [];
            window.requestIdleCallback = f => { window.__idle.push(f); return window.__idle.length; };
            """);
        await page.GotoAsync($"/#/p/{project}/collect");
        var first = page.GetByTestId("gallery-train").First.GetByTestId("example").First.Locator("img");
        await Expect(first).ToHaveAttributeAsync("src", new System.Text.RegularExpressions.Regex("/thumbnail$"));
        await page.WaitForFunctionAsync("i => i.complete && i.naturalWidth > 0", await first.ElementHandleAsync());
        await page.WaitForFunctionAsync("() => window.__idle.length > 0");
        var before = await page.EvaluateAsync<GalleryView[]>(Galleries);
        Assert.Equal(FullLabels, before.Length);
        // The first gallery shows its box's rows (a box shows at most four before it is scrolled), not its whole page.
        Assert.InRange(before[0].Count, Math.Max(1, before[0].InView), FullPerLabel - 1);
        var far = before.Select((g, i) => (g, i)).Where(x => x.g.Top > 300).ToList();
        Assert.NotEmpty(far);
        Assert.All(far, x => Assert.Equal(0, x.g.Count));

        // The browser idle: every gallery gets its whole page, and no gallery box moved.
        await page.EvaluateAsync("() => { while (window.__idle.length) window.__idle.shift()({ didTimeout: false, timeRemaining: () => 50 }); }");
        await Expect(page.Locator("[data-testid=example]")).ToHaveCountAsync(FullLabels * FullPerLabel);
        var after = await page.EvaluateAsync<GalleryView[]>(Galleries);
        for (int i = 0; i < FullLabels; i++)
            Assert.True(Math.Abs(after[i].Top - before[i].Top) < 1, $"gallery {i} moved from {before[i].Top} to {after[i].Top} px");
        Assert.All(far, x => Assert.Empty(after[x.i].WithSrc));
        Assert.Empty(studio.ConsoleErrors);
    }

    /// <summary>The hints box (above the galleries) is placed before the first screen's thumbnails are asked for, so it
    /// does not push them down afterwards: here the hints answer 300 ms after the galleries' pages.</summary>
    [Fact]
    public async Task CollectPage_PlacesTheHintsBeforeTheGalleries_SoTheFirstScreenDoesNotMove()
    {
        await using var studio = await StudioPage.StartAsync(browser);
        long project = await FullGalleries(studio);
        // A label without photos: the Collect screen shows a hint for it.
        await studio.PostJsonAsync($"/api/projects/{project}/labels", new { name = "empty" });
        var page = studio.Page;
        await page.RouteAsync("**/guidance", async route => { await Task.Delay(300); await route.ContinueAsync(); });
        await page.AddInitScriptAsync("""
            (() => {
              window.__firstSrcTop = null;
              const src = Object.getOwnPropertyDescriptor(HTMLImageElement.prototype, 'src');
              Object.defineProperty(HTMLImageElement.prototype, 'src', {
                configurable: true, get() { return src.get.call(this); },
                set(v) {
                  if (window.__firstSrcTop === null) window.__firstSrcTop = this.closest('.gallery').getBoundingClientRect().top + scrollY;
                  src.set.call(this, v);
                },
              });
            })();
            """);
        await page.GotoAsync($"/#/p/{project}/collect");
        await Expect(page.Locator("[data-testid=guidance][data-where=collect] [data-testid=hint][data-code=few-training-examples]")).ToHaveCountAsync(1);
        var first = page.GetByTestId("gallery-train").First.GetByTestId("example").First.Locator("img");
        await Expect(first).ToHaveAttributeAsync("src", new System.Text.RegularExpressions.Regex("/thumbnail$"));
        double asked = await page.EvaluateAsync<double>("() => window.__firstSrcTop");
        double now = await page.EvaluateAsync<double>("() => document.querySelector('.gallery').getBoundingClientRect().top + scrollY");
        Assert.True(Math.Abs(asked - now) < 1, $"the first gallery was at {asked} px when its thumbnails were asked for, and is at {now} px with the hints shown");
        Assert.Empty(studio.ConsoleErrors);
    }

    /// <summary>A gallery's box against the window (Top: its top below the window's bottom, px) and its thumbnails.</summary>
    private sealed class GalleryView
    {
        public double Top { get; set; }
        public int Count { get; set; }
        public int InView { get; set; }
        public long[] WithSrc { get; set; } = [];
        public int InViewWithSrc { get; set; }
        public long[] Ids { get; set; } = [];
    }
}
