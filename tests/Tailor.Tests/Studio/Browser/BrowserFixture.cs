using Microsoft.Playwright;

namespace Tailor.Tests.Studio.Browser;

/// <summary>One headless Debian chromium for the studio's browser tests (Playwright cannot download its own browser
/// here: it drives the system one, `apt-get install chromium`, which .ci/run installs). The fake camera gives the
/// webcam tests a moving test pattern.</summary>
public sealed class BrowserFixture : IAsyncLifetime
{
    private IPlaywright? _playwright;

    public IBrowser Browser { get; private set; } = null!;

    /// <summary>Where each test saves its screenshot: $TAILOR_SCREENSHOTS, or screenshots/ beside the test assembly.</summary>
    public static string ScreenshotFolder
    {
        get
        {
            var folder = Environment.GetEnvironmentVariable("TAILOR_SCREENSHOTS") is { Length: > 0 } set
                ? set
                : Path.Combine(AppContext.BaseDirectory, "screenshots");
            Directory.CreateDirectory(folder);
            return folder;
        }
    }

    public static string Chromium()
    {
        foreach (var candidate in new[] { "/usr/bin/chromium", "/usr/bin/chromium-browser" })
            if (File.Exists(candidate)) return candidate;
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator))
        {
            var path = Path.Combine(dir, "chromium");
            if (File.Exists(path)) return path;
        }
        throw new InvalidOperationException("The studio's browser tests need Debian's chromium: apt-get install chromium (.ci/run installs it).");
    }

    public async Task InitializeAsync()
    {
        // Runs take seconds on two shared cores: assertions wait up to 30 s (a wait, never a sleep).
        Assertions.SetDefaultExpectTimeout(30_000);
        _playwright = await Playwright.CreateAsync();
        Browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = Chromium(),
            Headless = true,
            Args =
            [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                "--no-first-run", "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
            ],
        });
    }

    public async Task DisposeAsync()
    {
        if (Browser is not null) await Browser.CloseAsync();
        _playwright?.Dispose();
    }
}

[CollectionDefinition("Browser")]
public sealed class BrowserCollection : ICollectionFixture<BrowserFixture>;
