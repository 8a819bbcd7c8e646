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
        var repeat = new Option<int>("--runs") { Description = "Then this many logistic-regression runs in a row, the memory after each (resident, GC heap, the rest native). Default 0." };
        var noBrowser = new Option<bool>("--no-browser") { Description = "Skip the gallery in chromium." };
        var runMemory = new Option<bool>("--run-memory")
        {
            Description = "Only this: a training run's peak memory in a `tailor studio` process against `tailor train` then `tailor evaluate` " +
                          "(fresh processes, same photos and head; the ratio), on the hands photos and on the generated set (--photos 0: hands only).",
        };
        var heads = new Option<string>("--heads") { Description = "With --run-memory: the heads, comma-separated (nn, logreg, knn). Default nn,logreg.", DefaultValueFactory = _ => "nn,logreg" };
        var epochs = new Option<int>("--epochs") { Description = "With --run-memory: epochs of the nn runs. Default 3.", DefaultValueFactory = _ => 3 };
        var command = new Command("studio", "The studio on N generated photos: import time, gallery page latency (API and chromium), retraining with " +
            "the per-example feature store against without (ratio), peak memory, workspace size; or (--run-memory) a run's peak against the CLI's.")
            { photos, noRetrain, repeat, noBrowser, runMemory, heads, epochs };
        command.SetAction(parse => parse.GetValue(runMemory)
            ? RunMemory(parse.GetValue(photos), parse.GetValue(heads)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries), parse.GetValue(epochs))
            : Run(parse.GetValue(photos), !parse.GetValue(noRetrain), parse.GetValue(repeat), !parse.GetValue(noBrowser)));
        return command;
    }

    private static int RunMemory(int photos, string[] heads, int epochs)
    {
        if (!OperatingSystem.IsLinux()) { Console.Error.WriteLine("bench studio --run-memory reads /proc/PID/status (VmHWM): Linux only."); return 1; }
        if (photos != 0 && photos < PerLabel) { Console.Error.WriteLine($"bench studio --run-memory: --photos is 0 (hands only) or at least {PerLabel}."); return 2; }
        if (heads.Length == 0 || heads.Any(h => h is not ("nn" or "logreg" or "knn"))) { Console.Error.WriteLine("bench studio --heads: nn, logreg or knn, comma-separated."); return 2; }
        string root = Directory.CreateTempSubdirectory("tailor-bench-studio").FullName;
        try
        {
            var sets = new List<(string, string)> { ("hands (30+15)", FeatureSets.HandsRoot()) };
            if (photos > 0)
            {
                int labels = Math.Max(2, (photos + PerLabel - 1) / PerLabel);
                string data = Path.Combine(root, "photos");
                Generate(data, photos, labels);
                sets.Add(($"generated {photos}+{TestPerLabel * labels}", data));
            }
            Console.WriteLine($"bench studio --run-memory: {Environment.ProcessorCount} cores, load average {LoadAverage()}");
            return StudioRunMemory.RunAsync(sets, heads, epochs, root).GetAwaiter().GetResult();
        }
        finally
        {
            try { Directory.Delete(root, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }

    private static int Run(int photos, bool retrain, int repeat, bool browser)
    {
        if (photos < 2 * PageSize) { Console.Error.WriteLine("bench studio: --photos is at least 120."); return 2; }
        string root = Directory.CreateTempSubdirectory("tailor-bench-studio").FullName;
        try
        {
            return RunAsync(root, photos, retrain, repeat, browser).GetAwaiter().GetResult();
        }
        finally
        {
            try { Directory.Delete(root, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }

    private static async Task<int> RunAsync(string root, int photos, bool retrain, int repeat, bool browser)
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

        if (browser) await Browser(server.Url, project.Id);
        Console.WriteLine($"  peak memory after serving the galleries: {PeakMb():0} MB");

        if (retrain) await Retrain(ws, runs, project, data, root);
        if (repeat > 0) Repeat(runs, project, repeat);

        int runCount = (retrain ? 3 : 0) + repeat;
        Console.WriteLine($"  peak resident memory of this process (VmHWM): {PeakMb():0} MB (server, import, {runCount} run{(runCount == 1 ? "" : "s")} in one process; chromium is another process)");
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
        var phases = new List<double[]>();
        int shown = 0, inPage = 0;
        const int Repeats = 7;
        for (int i = 0; i < Repeats; i++)
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
            // Where the time went (Resource Timing, ms after navigation): the scripts, the project, the galleries' pages, the thumbnails.
            var phase = await page.EvaluateAsync<double[]>("""
                () => {
                  const r = performance.getEntriesByType('resource');
                  const end = f => Math.max(0, ...r.filter(f).map(e => e.responseEnd));
                  const start = f => Math.min(...r.filter(f).map(e => e.startTime));
                  const nav = performance.getEntriesByType('navigation')[0];
                  return [nav.responseEnd, end(e => e.name.includes('/js/') || e.name.includes('/lib/') || e.name.endsWith('.css')),
                    end(e => /\/api\/projects\/\d+$/.test(e.name)), start(e => e.name.includes('/examples?')), end(e => e.name.includes('/examples?')),
                    start(e => e.name.includes('/thumbnail')), r.filter(e => e.name.includes('/thumbnail')).length];
                }
                """);
            if (i > 0) { times.Add(values[0]); phases.Add(phase); }
            shown = (int)values[1];
            inPage = (int)values[2];
        }
        double Median(IEnumerable<double> v) { var sorted = v.Order().ToList(); return sorted[sorted.Count / 2]; }
        double median = Median(times);
        Console.WriteLine($"  gallery of 1,000 in chromium (headless, 1280×900): first screen of thumbnails ({shown} shown) " +
            $"{median:0} ms after navigation (median of {times.Count}; best {times.Min():0}, worst {times.Max():0} ms; load average {LoadAverage()}); the page holds {inPage} examples (60 per gallery)");
        Console.WriteLine($"    medians, ms after navigation: page {Median(phases.Select(p => p[0])):0}, scripts and styles in {Median(phases.Select(p => p[1])):0}, " +
            $"project {Median(phases.Select(p => p[2])):0}, gallery pages asked {Median(phases.Select(p => p[3])):0} and in {Median(phases.Select(p => p[4])):0}, " +
            $"first thumbnail asked {Median(phases.Select(p => p[5])):0}; thumbnails asked by then {Median(phases.Select(p => p[6])):0}");
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

    /// <summary>Logistic-regression runs in a row (the store filled, so each reads every row): after each, a full GC, then
    /// the resident memory, the GC heap, and the rest (native: ONNX Runtime, SQLite, the allocators' free lists).
    /// A leak shows as a column growing run after run; one run's working set as a peak that stays flat.</summary>
    private static void Repeat(RunManager runs, ProjectInfo project, int count)
    {
        var request = new RunRequest { Head = RunHead.LogisticRegression };
        Console.WriteLine($"  {count} logistic-regression runs in a row, memory after each (full GC first):");
        int phase = 0;
        var peaks = new double[2];
        var heapPeaks = new double[2];
        runs.Published += e => { if (e.Kind == RunEvent.FeaturesKind && e.Done == e.Total) phase = 1; };
        for (int i = 1; i <= count; i++)
        {
            var clock = Stopwatch.StartNew();
            phase = 0;
            Array.Clear(peaks);
            Array.Clear(heapPeaks);
            runs.Start(project.Id, request);
            var ended = runs.WhenEnded(project.Id);
            while (!ended.IsCompleted)
            {
                int ph = phase;
                peaks[ph] = Math.Max(peaks[ph], Status("VmRSS:"));
                heapPeaks[ph] = Math.Max(heapPeaks[ph], GC.GetTotalMemory(false) / (1024.0 * 1024));
                Thread.Sleep(5);
            }
            Console.WriteLine($"    peaks (resident/GC heap MB, sampled every 5 ms): model loaded and features computed or read {peaks[0]:0}/{heapPeaks[0]:0}, " +
                $"head fitted, model committed, test set evaluated {peaks[1]:0}/{heapPeaks[1]:0}");
            var status = runs.Status(project.Id)!;
            if (status.State != RunState.Finished) throw new InvalidOperationException($"The run ended {status.State}: {status.Message}");
            double seconds = clock.Elapsed.TotalSeconds;
            GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
            GC.WaitForPendingFinalizers();
            GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
            double rss = Status("VmRSS:"), heap = GC.GetTotalMemory(false) / (1024.0 * 1024), committed = GC.GetGCMemoryInfo().TotalCommittedBytes / (1024.0 * 1024);
            Console.WriteLine($"    run {i}: {seconds:0.0} s; resident {rss:0} MB, GC heap {heap:0} MB live ({committed:0} MB committed), " +
                $"the rest {rss - committed:0} MB; peak so far {PeakMb():0} MB");
        }
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

    private static double PeakMb() => Status("VmHWM:");

    private static string LoadAverage() => File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Split(' ')[0] : "?";

    /// <summary>A memory figure of /proc/self/status (VmHWM:, VmRSS:) in MB.</summary>
    private static double Status(string key)
    {
        foreach (string line in File.ReadLines("/proc/self/status"))
            if (line.StartsWith(key, StringComparison.Ordinal))
                return double.Parse(line[6..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) / 1024;
        return double.NaN;
    }

    private static long FolderBytes(string folder) =>
        Directory.Exists(folder) ? Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories).Sum(f => new FileInfo(f).Length) : 0;

    private static string Bytes(long bytes) => bytes >= 1 << 30 ? $"{bytes / (double)(1 << 30):0.00} GiB" : $"{bytes / (double)(1 << 20):0.0} MiB";
}
