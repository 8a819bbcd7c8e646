using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Microsoft.Playwright;
using SkiaSharp;
using Tailor.Data;
using Tailor.Studio;
using Tailor.Studio.Runs;
using Tailor.Studio.Web;
using Tailor.Training;

namespace Tailor.Bench;

/// <summary>
/// <c>bench studio [--photos N]</c>: the studio on a big generated data set. N small varied JPEGs (labels of 1,000 photos
/// each, plus 20 test photos per label) are written to a temporary folder and imported into a temporary workspace; then
/// the gallery API's page latency (first page, and a page at offset 4,000), a gallery of 1,000 opened in headless chromium
/// (time until its first screen of thumbnails is shown), retraining after adding 10 photos with the workspace's feature
/// store against without it (same run, the ratio), the process's peak resident memory and the workspace's size on disk.
/// Everything is deleted afterwards.
/// </summary>
internal static class StudioBenchmark
{
    private const int PerLabel = 1000, TestPerLabel = 20, PageSize = 60;

    public static Command CreateCommand()
    {
        var photos = new Option<int>("--photos") { Description = "Photos in the training set (labels of 1,000 each). Default 5000.", DefaultValueFactory = _ => 5000 };
        var noRetrain = new Option<bool>("--no-retrain") { Description = "Skip the retraining figures (three runs over every photo: the longest part)." };
        var command = new Command("studio", "The studio on N generated photos: import time, gallery page latency (API and chromium), retraining with " +
            "the per-example feature store against without (ratio), peak memory, workspace size.") { photos, noRetrain };
        command.SetAction(parse => Run(parse.GetValue(photos), !parse.GetValue(noRetrain)));
        return command;
    }

    private static int Run(int photos, bool retrain)
    {
        if (photos < 2 * PageSize) { Console.Error.WriteLine("bench studio: --photos is at least 120."); return 2; }
        string root = Directory.CreateTempSubdirectory("tailor-bench-studio").FullName;
        try
        {
            return RunAsync(root, photos, retrain).GetAwaiter().GetResult();
        }
        finally
        {
            try { Directory.Delete(root, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }

    private static async Task<int> RunAsync(string root, int photos, bool retrain)
    {
        int labels = Math.Max(2, (photos + PerLabel - 1) / PerLabel);
        string data = Path.Combine(root, "photos");
        var clock = Stopwatch.StartNew();
        Generate(data, photos, labels);
        Console.WriteLine($"bench studio: {photos} generated 320×240 JPEGs in {labels} labels (+{TestPerLabel * labels} test photos), written in {clock.Elapsed.TotalSeconds:0.0} s, {Bytes(FolderBytes(data))}");
        Console.WriteLine($"  machine: {Environment.ProcessorCount} cores");

        using var ws = Workspace.Open(Path.Combine(root, "ws"));
        clock.Restart();
        var project = ws.ImportFolder(data, "bench", null, CancellationToken.None);
        double import = clock.Elapsed.TotalSeconds;
        int imported = project.Labels.Sum(l => l.TrainCount + l.TestCount);
        Console.WriteLine($"  import: {imported} photos in {import:0.0} s ({imported / import:0} photos/s, thumbnails included); peak memory so far {PeakMb():0} MB");

        using var runs = new RunManager(ws);
        await using var server = await StudioServer.StartAsync(ws, runs, new StudioServerOptions { Port = 0 });
        using var http = new HttpClient { BaseAddress = server.Url };
        long firstLabel = project.Labels[0].Id;
        await Latency(http, "gallery page API, first page (60 of a label's 1,000)", $"/api/projects/{project.Id}/examples?label={firstLabel}&set=train&offset=0&limit={PageSize}");
        if (photos > 4000)
            await Latency(http, "gallery page API, offset 4,000 (60 of the project's examples)", $"/api/projects/{project.Id}/examples?offset=4000&limit={PageSize}");
        await Latency(http, "project with its label counts", $"/api/projects/{project.Id}");

        await Browser(server.Url, project.Id);
        Console.WriteLine($"  peak memory after serving the galleries: {PeakMb():0} MB");

        if (retrain) await Retrain(ws, runs, project, data, root);

        Console.WriteLine($"  peak resident memory of this process (VmHWM): {PeakMb():0} MB (server, import, three runs in one process; chromium is another process)");
        Console.WriteLine($"  workspace on disk: {Bytes(FolderBytes(ws.Directory))} (images {Bytes(FolderBytes(Path.Combine(ws.Directory, "images")))}, " +
            $"thumbnails {Bytes(FolderBytes(Path.Combine(ws.Directory, "thumbs")))}, features {Bytes(FolderBytes(Path.Combine(ws.Directory, "features")))})");
        return 0;
    }

    /// <summary>Median and worst of 21 GETs (the first, warming up, not counted).</summary>
    private static async Task Latency(HttpClient http, string what, string path)
    {
        (await http.GetAsync(path)).EnsureSuccessStatusCode();
        var times = new List<double>();
        for (int i = 0; i < 20; i++)
        {
            var clock = Stopwatch.StartNew();
            using var response = await http.GetAsync(path);
            await response.Content.ReadAsByteArrayAsync();
            response.EnsureSuccessStatusCode();
            times.Add(clock.Elapsed.TotalMilliseconds);
        }
        times.Sort();
        Console.WriteLine($"  {what}: median {times[10]:0.0} ms, worst {times[^1]:0.0} ms");
    }

    private static async Task Browser(Uri url, long projectId)
    {
        string? chromium = new[] { "/usr/bin/chromium", "/usr/bin/chromium-browser" }.FirstOrDefault(File.Exists);
        if (chromium is null)
        {
            Console.WriteLine("  gallery in chromium: skipped (no chromium at /usr/bin/chromium; apt-get install chromium)");
            return;
        }
        using var playwright = await Playwright.CreateAsync();
        await using var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = chromium, Headless = true,
            Args = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"],
        });
        var times = new List<double>();
        int shown = 0, inPage = 0;
        for (int i = 0; i < 4; i++)
        {
            // A fresh context each time: nothing cached (the first one also warms the server's JIT and is not counted).
            await using var context = await browser.NewContextAsync(new BrowserNewContextOptions { ViewportSize = new ViewportSize { Width = 1280, Height = 900 } });
            var page = await context.NewPageAsync();
            await page.GotoAsync(new Uri(url, $"#/p/{projectId}/collect").ToString());
            // The first screen: the first gallery lists its page, and every thumbnail asked for (those in view) has loaded.
            var result = await page.WaitForFunctionAsync("""
                () => {
                  const grid = document.querySelector('[data-testid=gallery-train] [data-testid=thumbs]');
                  if (!grid || grid.children.length === 0) return null;
                  const asked = [...grid.querySelectorAll('img[src]')];
                  if (asked.length === 0 || !asked.every(i => i.complete && i.naturalWidth > 0)) return null;
                  return [performance.now(), asked.length, document.querySelectorAll('[data-testid=example]').length];
                }
                """, null, new PageWaitForFunctionOptions { Timeout = 60_000, PollingInterval = 5 });
            var values = await result.JsonValueAsync<double[]>();
            if (i > 0) times.Add(values[0]);
            shown = (int)values[1];
            inPage = (int)values[2];
        }
        times.Sort();
        Console.WriteLine($"  gallery of 1,000 in chromium (headless, 1280×900): first screen of thumbnails ({shown} shown) " +
            $"{times[times.Count / 2]:0} ms after navigation (median of 3; worst {times[^1]:0} ms); the page holds {inPage} examples (60 per gallery)");
    }

    private static async Task Retrain(Workspace ws, RunManager runs, ProjectInfo project, string data, string root)
    {
        var request = new RunRequest { Head = RunHead.LogisticRegression };
        double Run(RunManager manager)
        {
            var clock = Stopwatch.StartNew();
            manager.Start(project.Id, request);
            manager.WhenEnded(project.Id).GetAwaiter().GetResult();
            var status = manager.Status(project.Id)!;
            if (status.State != RunState.Finished) throw new InvalidOperationException($"The run ended {status.State}: {status.Message}");
            return clock.Elapsed.TotalSeconds;
        }

        var store = ws.Features;
        double cold = Run(runs);
        long computedCold = store.RowsWritten;
        // Ten photos more, then train again with the store and without it.
        string extra = Path.Combine(root, "extra");
        Generate(extra, 10, 1, seed: 777_777);
        long label = project.Labels[0].Id;
        foreach (string file in Directory.GetFiles(Path.Combine(extra, "train", "label-1")))
        {
            using var stream = File.OpenRead(file);
            ws.AddExample(project.Id, label, ExampleSet.Train, stream, "upload", Path.GetFileName(file));
        }
        long readBefore = store.RowsRead;
        double warm = Run(runs);
        long computedWarm = store.RowsWritten - computedCold;
        long readWarm = store.RowsRead - readBefore;
        double without;
        using (var plain = new RunManager(new WithoutFeatureStore(ws)))
            without = Run(plain);
        Console.WriteLine($"  retrain (logistic regression, {project.Labels.Sum(l => l.TrainCount) + 10} training photos) after adding 10: " +
            $"with the feature store {warm:0.0} s ({computedWarm} rows computed, {readWarm} read), without {without:0.0} s: {without / warm:0.0}× faster " +
            $"(first run, filling the store: {cold:0.0} s)");
    }

    /// <summary>The workspace as a run store, without its feature store: every run computes every row.</summary>
    private sealed class WithoutFeatureStore(Workspace ws) : IRunStore
    {
        private readonly IRunStore _ws = ws;
        public UpdatableModel LoadCurrentModel(long projectId) => _ws.LoadCurrentModel(projectId);
        public UpdatableModel? LoadBaseModel(long projectId) => _ws.LoadBaseModel(projectId);
        public (LabeledFolder Train, LabeledFolder? Test) LoadData(long projectId) => _ws.LoadData(projectId);
        public IReadOnlyList<EpochRecord> PriorEpochs(long projectId) => _ws.PriorEpochs(projectId);
        public long BeginRun(long projectId, RunRequest request) => _ws.BeginRun(projectId, request);
        public void RecordEpoch(long runId, EpochRecord record) => _ws.RecordEpoch(runId, record);
        public long CommitModel(long projectId, long runId, UpdatableModel model) => _ws.CommitModel(projectId, runId, model);
        public void EndRun(long runId, TrainingState state, string? reason, long? modelVersionId) => _ws.EndRun(runId, state, reason, modelVersionId);
    }

    /// <summary>Writes <c>train/label-L/NNNNN.jpg</c> (<paramref name="photos"/> in all) and <c>test/label-L/…</c>: per label
    /// a background hue, then shapes whose places, sizes and colours come from the photo's number — every photo different.</summary>
    private static void Generate(string folder, int photos, int labels, int seed = 0)
    {
        var jobs = Enumerable.Range(0, photos).Select(i => (Set: "train", Label: i % labels, Index: i))
            .Concat(Enumerable.Range(0, photos >= PerLabel ? TestPerLabel * labels : 0).Select(i => (Set: "test", Label: i % labels, Index: photos + i)));
        foreach (var set in new[] { "train", "test" })
            for (int l = 0; l < labels; l++) Directory.CreateDirectory(Path.Combine(folder, set, $"label-{l + 1}"));
        Parallel.ForEach(jobs, job =>
        {
            var random = new Random(seed + job.Index);
            using var bitmap = new SKBitmap(320, 240);
            using (var canvas = new SKCanvas(bitmap))
            {
                canvas.Clear(SKColor.FromHsv(360f * job.Label / labels, 40, 80));
                using var paint = new SKPaint { IsAntialias = true };
                for (int s = 0; s < 6; s++)
                {
                    paint.Color = new SKColor((byte)random.Next(256), (byte)random.Next(256), (byte)random.Next(256));
                    float x = random.Next(320), y = random.Next(240), r = 10 + random.Next(50);
                    if (s % 2 == 0) canvas.DrawCircle(x, y, r, paint);
                    else canvas.DrawRect(x - r, y - r / 2, 2 * r, r, paint);
                }
            }
            using var encoded = bitmap.Encode(SKEncodedImageFormat.Jpeg, 85);
            using var file = File.Create(Path.Combine(folder, job.Set, $"label-{job.Label + 1}", $"{job.Index:00000}.jpg"));
            encoded.SaveTo(file);
        });
    }

    private static double PeakMb()
    {
        foreach (string line in File.ReadLines("/proc/self/status"))
            if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
                return double.Parse(line[6..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) / 1024;
        return double.NaN;
    }

    private static long FolderBytes(string folder) =>
        Directory.Exists(folder) ? Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories).Sum(f => new FileInfo(f).Length) : 0;

    private static string Bytes(long bytes) => bytes >= 1 << 30 ? $"{bytes / (double)(1 << 30):0.00} GiB" : $"{bytes / (double)(1 << 20):0.0} MiB";
}
