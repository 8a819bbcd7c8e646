using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Playwright;
using StudioWorkspace = Tailor.Studio.Workspace;
using Tailor.Studio.Runs;
using Tailor.Studio.Web;

namespace Tailor.Tests.Studio.Browser;

/// <summary>A studio on 127.0.0.1 (port 0) over a temporary workspace, and a browser page on it. Disposing stops both
/// and deletes the workspace.</summary>
internal sealed class StudioPage : IAsyncDisposable
{
    private readonly string _folder;
    private readonly StudioWorkspace _workspace;
    private readonly RunManager _runs;
    private readonly StudioServer _server;
    private readonly IBrowserContext _context;

    public IPage Page { get; }

    /// <summary>The studio's workspace (setup that the API has no call for, e.g. importing a folder).</summary>
    public StudioWorkspace Workspace => _workspace;

    /// <summary>Another tab in the same browser context.</summary>
    public Task<IPage> NewPageAsync() => _context.NewPageAsync();
    public HttpClient Http { get; }
    public Uri Url => _server.Url;
    private readonly List<string> _consoleErrors = [];

    /// <summary>Console errors and uncaught exceptions of the page (a CSP violation shows here too).</summary>
    public IReadOnlyList<string> ConsoleErrors => _consoleErrors;

    private StudioPage(string folder, StudioWorkspace workspace, RunManager runs, StudioServer server, IBrowserContext context, IPage page)
    {
        _folder = folder;
        _workspace = workspace;
        _runs = runs;
        _server = server;
        _context = context;
        Page = page;
        Http = new HttpClient { BaseAddress = server.Url };
        // The studio refuses state-changing requests from another origin: setup calls come from its own.
        Http.DefaultRequestHeaders.Add("Origin", server.Url.GetLeftPart(UriPartial.Authority));
        page.Console += (_, message) => { if (message.Type == "error") _consoleErrors.Add(message.Text); };
        page.PageError += (_, error) => _consoleErrors.Add(error);
    }

    public static async Task<StudioPage> StartAsync(BrowserFixture browser)
    {
        var folder = Path.Combine(Path.GetTempPath(), "tailor-studio-browser-" + Guid.NewGuid().ToString("N")[..8]);
        var workspace = StudioWorkspace.Open(folder);
        var runs = new RunManager(workspace);
        var server = await StudioServer.StartAsync(workspace, runs, new StudioServerOptions { Port = 0 });
        var context = await browser.Browser.NewContextAsync(new BrowserNewContextOptions
        {
            BaseURL = server.Url.ToString(),
            ViewportSize = new ViewportSize { Width = 1280, Height = 900 },
            AcceptDownloads = true,
            Permissions = ["camera"],
            ReducedMotion = ReducedMotion.Reduce,
        });
        context.SetDefaultTimeout(30_000);
        var page = await context.NewPageAsync();
        return new StudioPage(folder, workspace, runs, server, context, page);
    }

    public async Task<JsonElement> PostJsonAsync(string path, object body)
    {
        using var response = await Http.PostAsJsonAsync(path, body);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"POST {path}: {(int)response.StatusCode} {text}");
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    public async Task<JsonElement> GetJsonAsync(string path)
    {
        var text = await Http.GetStringAsync(path);
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    /// <summary>Uploads JPEG files to a label's training or test set through the API (setup, not what a test checks).</summary>
    public async Task UploadAsync(long project, long label, string set, IEnumerable<string> files)
    {
        using var form = new MultipartFormDataContent();
        foreach (var file in files)
        {
            var part = new ByteArrayContent(await File.ReadAllBytesAsync(file));
            part.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("image/jpeg");
            form.Add(part, "files", Path.GetFileName(file));
        }
        using var response = await Http.PostAsync($"/api/projects/{project}/examples?label={label}&set={set}", form);
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
    }

    /// <summary>A project on a model prepared by the test (e.g. with wider allowed values than the studio's own); returns its id.</summary>
    public long CreateProject(string name, UpdatableModel model) =>
        _workspace.CreateProject(name, Tailor.Studio.ProjectBase.EmbeddedResNet18(model.Spec.Labels.Capacity), model).Id;

    /// <summary>Saves a screenshot of the page as NAME.png in <see cref="BrowserFixture.ScreenshotFolder"/>.</summary>
    public async Task ScreenshotAsync(string name, bool fullPage = true)
    {
        // Lazy thumbnails below the fold load when scrolled to; a full-page shot should show them all.
        await Page.EvaluateAsync("() => document.querySelectorAll('img[loading=lazy]').forEach(i => i.loading = 'eager')");
        await Page.WaitForFunctionAsync("() => [...document.images].every(i => i.complete)");
        if (!fullPage) await Page.EvaluateAsync("() => window.scrollTo(0, 0)");
        await Page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(BrowserFixture.ScreenshotFolder, name + ".png"), FullPage = fullPage });
    }

    public async ValueTask DisposeAsync()
    {
        await _context.CloseAsync();
        Http.Dispose();
        await _server.DisposeAsync();
        _runs.Dispose();
        _workspace.Dispose();
        try
        {
            Directory.Delete(_folder, recursive: true);
        }
        catch (IOException)
        {
            // A file still open by a finishing run; the temp folder is cleaned by the OS.
        }
    }
}
