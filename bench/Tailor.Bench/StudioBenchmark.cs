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
        var keep = new Option<string?>("--workspace") { Description = "Keep the generated photos' workspace in this folder and reuse it next time (the generation and import are skipped when it holds the project already): for repeated gallery measurements." };
        var opens = new Option<int>("--opens") { Description = "How many times the gallery is opened in chromium (the first, warming up, not counted). Default 7.", DefaultValueFactory = _ => 7 };
        var waterfall = new Option<bool>("--waterfall") { Description = "Also print every request of the last gallery opening (start and end, ms after navigation)." };
        var runMemory = new Option<bool>("--run-memory")
        {
            Description = "Only this: a training run's peak memory in a `tailor studio` process against `tailor train` then `tailor evaluate` " +
                          "(fresh processes, same photos and head; the ratio), on the hands photos and on the generated set (--photos 0: hands only).",
        };
        var heads = new Option<string>("--heads") { Description = "With --run-memory: the heads, comma-separated (nn, logreg, knn). Default nn,logreg.", DefaultValueFactory = _ => "nn,logreg" };
        var epochs = new Option<int>("--epochs") { Description = "With --run-memory: epochs of the nn runs. Default 3.", DefaultValueFactory = _ => 3 };
        var command = new Command("studio", "The studio on N generated photos: import time, gallery page latency (API and chromium), retraining with " +
            "the per-example feature store against without (ratio), peak memory, workspace size; or (--run-memory) a run's peak against the CLI's.")
            { photos, noRetrain, repeat, noBrowser, keep, waterfall, opens, runMemory, heads, epochs };
        command.SetAction(parse => parse.GetValue(runMemory)
            ? RunMemory(parse.GetValue(photos), parse.GetValue(heads)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries), parse.GetValue(epochs))
            : Run(parse.GetValue(photos), !parse.GetValue(noRetrain), parse.GetValue(repeat), !parse.GetValue(noBrowser),
                parse.GetValue(keep), parse.GetValue(waterfall), parse.GetValue(opens)));
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

    private static int Run(int photos, bool retrain, int repeat, bool browser, string? keep, bool waterfall, int opens)
    {
        if (opens < 2) { Console.Error.WriteLine("bench studio: --opens is at least 2 (the first is not counted)."); return 2; }
        if (photos < 2 * PageSize) { Console.Error.WriteLine("bench studio: --photos is at least 120."); return 2; }
        if (keep is not null && (retrain || repeat > 0))
        {
            Console.Error.WriteLine("bench studio: --workspace is for the gallery figures (runs would change the kept project): add --no-retrain, without --runs.");
            return 2;
        }
        string root = keep is null ? Directory.CreateTempSubdirectory("tailor-bench-studio").FullName : Directory.CreateDirectory(keep).FullName;
        try
        {
            return RunAsync(root, photos, retrain, repeat, browser, waterfall, opens).GetAwaiter().GetResult();
        }
        finally
        {
            if (keep is null)
                try { Directory.Delete(root, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }

    private static async Task<int> RunAsync(string root, int photos, bool retrain, int repeat, bool browser, bool waterfall, int opens)
    {
        int labels = Math.Max(2, (photos + PerLabel - 1) / PerLabel);
        string data = Path.Combine(root, "photos");
        var clock = Stopwatch.StartNew();
        using var ws = Workspace.Open(Path.Combine(root, "ws"));
        string name = $"bench-{photos}";
        var project = ws.ListProjects().FirstOrDefault(p => p.Name == name);
        if (project is not null)
            Console.WriteLine($"bench studio: the workspace in {root} holds {name} already ({project.Labels.Sum(l => l.TrainCount + l.TestCount)} photos): not generated nor imported again");
        else
        {
            if (Directory.Exists(data)) Directory.Delete(data, recursive: true);
            Generate(data, photos, labels);
            Console.WriteLine($"bench studio: {photos} generated 320×240 JPEGs in {labels} labels (+{TestPerLabel * labels} test photos), written in {clock.Elapsed.TotalSeconds:0.0} s, {Bytes(FolderBytes(data))}");
            clock.Restart();
            project = ws.ImportFolder(data, name, null, CancellationToken.None);
            double import = clock.Elapsed.TotalSeconds;
            int imported = project.Labels.Sum(l => l.TrainCount + l.TestCount);
            Console.WriteLine($"  import: {imported} photos in {import:0.0} s ({imported / import:0} photos/s, thumbnails included); peak memory so far {PeakMb():0} MB");
        }
        Console.WriteLine($"  machine: {Environment.ProcessorCount} cores");

        using var runs = new RunManager(ws);
        await using var server = await StudioServer.StartAsync(ws, runs, new StudioServerOptions { Port = 0 });
        using var http = new HttpClient { BaseAddress = server.Url };
        long firstLabel = project.Labels[0].Id;
        await Latency(http, "gallery page API, first page (60 of a label's 1,000)", $"/api/projects/{project.Id}/examples?label={firstLabel}&set=train&offset=0&limit={PageSize}");
        if (photos > 4000)
            await Latency(http, "gallery page API, offset 4,000 (60 of the project's examples)", $"/api/projects/{project.Id}/examples?offset=4000&limit={PageSize}");
        await Latency(http, "project with its label counts", $"/api/projects/{project.Id}");

        if (browser) await Browser(server.Url, project.Id, waterfall, opens);
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

    private static async Task Browser(Uri url, long projectId, bool waterfall, int opens)
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
        string[] lastWaterfall = [];
        string lastBreakdown = "";
        for (int i = 0; i < opens; i++)
        {
            bool traced = waterfall && i == opens - 1;
            // A fresh context each time: nothing cached (the first one also warms the server's JIT and is not counted).
            await using var context = await browser.NewContextAsync(new BrowserNewContextOptions { ViewportSize = new ViewportSize { Width = 1280, Height = 900 } });
            var page = await context.NewPageAsync();
            // When the page first sets a thumbnail's src, and when the first example is in the page (the client's own steps,
            // which Resource Timing does not show).
            await page.AddInitScriptAsync("""
                (() => {
                  const marks = window.__bench = { firstSrc: 0, firstExample: 0, frames: [], painted: new WeakMap() };
                  // When each thumbnail was first painted, as the browser reports it (Element Timing's renderTime for images marked
                  // with elementtiming as their src is set), so that the first screen's time does not depend on how often the
                  // harness looks: polling often forces a layout of the whole page each time and slows the page itself.
                  new PerformanceObserver(list => {
                    for (const e of list.getEntries()) if (e.element) marks.painted.set(e.element, e.renderTime || e.loadTime);
                  }).observe({ type: 'element', buffered: true });
                  // Long animation frames (over 50 ms): where the main thread's time went (scripts, then style and layout).
                  new PerformanceObserver(list => {
                    for (const f of list.getEntries())
                      marks.frames.push([f.startTime, f.duration, f.renderStart ? f.styleAndLayoutStart - f.renderStart : 0,
                        f.renderStart ? f.startTime + f.duration - f.styleAndLayoutStart : 0, f.scripts.reduce((s, x) => s + x.duration, 0),
                        f.scripts.map(x => `${x.invoker} ${x.sourceFunctionName || ''}@${(x.sourceURL || '').split('/').pop()} ${x.duration.toFixed(0)} ms (layout forced ${x.forcedStyleAndLayoutDuration.toFixed(0)})`).join('; ')]);
                  }).observe({ type: 'long-animation-frame', buffered: true });
                  const setAttribute = Element.prototype.setAttribute;
                  const src = Object.getOwnPropertyDescriptor(HTMLImageElement.prototype, 'src');
                  Object.defineProperty(HTMLImageElement.prototype, 'src', {
                    configurable: true, get() { return src.get.call(this); },
                    set(v) {
                      if (String(v).includes('/thumbnail')) { if (!marks.firstSrc) marks.firstSrc = performance.now(); setAttribute.call(this, 'elementtiming', 'thumbnail'); }
                      src.set.call(this, v);
                    },
                  });
                  Element.prototype.setAttribute = function (name, value) {
                    if (this instanceof HTMLImageElement && name === 'src' && String(value).includes('/thumbnail')) {
                      if (!marks.firstSrc) marks.firstSrc = performance.now();
                      setAttribute.call(this, 'elementtiming', 'thumbnail');
                    }
                    if (!marks.firstExample && value === 'example' && name === 'data-testid') marks.firstExample = performance.now();
                    return setAttribute.call(this, name, value);
                  };
                })();
                """);
            // The last opening with --waterfall is traced: where the renderer's main thread spent its time.
            var trace = new List<System.Text.Json.JsonElement>();
            var traceDone = new TaskCompletionSource();
            ICDPSession? cdp = null;
            if (traced)
            {
                cdp = await context.NewCDPSessionAsync(page);
                cdp.Event("Tracing.dataCollected").OnEvent += (_, e) => { if (e is { } v) trace.AddRange(v.GetProperty("value").EnumerateArray().Select(x => x.Clone())); };
                cdp.Event("Tracing.tracingComplete").OnEvent += (_, _) => traceDone.TrySetResult();
                await cdp.SendAsync("Tracing.start", new Dictionary<string, object>
                {
                    ["transferMode"] = "ReportEvents",
                    ["traceConfig"] = new Dictionary<string, object> { ["includedCategories"] = new[] { "devtools.timeline", "disabled-by-default-devtools.timeline", "v8.execute", "blink.user_timing", "loading", "__metadata" } },
                });
                await cdp.SendAsync("Profiler.enable");
                await cdp.SendAsync("Profiler.setSamplingInterval", new Dictionary<string, object> { ["interval"] = 200 });
                await cdp.SendAsync("Profiler.start");
            }
            await page.GotoAsync(new Uri(url, $"#/p/{projectId}/collect").ToString());
            // The first screen: the first gallery lists its page, and every thumbnail in view (in the window and in the
            // gallery box's visible part) has been painted; its time is the last of their paint times, not when this poll saw it.
            var result = await page.WaitForFunctionAsync("""
                () => {
                  const grid = document.querySelector('[data-testid=gallery-train] [data-testid=thumbs]');
                  if (!grid || grid.children.length === 0) return null;
                  const box = grid.getBoundingClientRect();
                  const top = Math.max(box.top, 0), bottom = Math.min(box.bottom, innerHeight);
                  const shown = [...grid.querySelectorAll('img')].filter(i => { const r = i.getBoundingClientRect(); return r.bottom > top && r.top < bottom; });
                  if (shown.length === 0 || !shown.every(i => i.complete && i.naturalWidth > 0 && window.__bench.painted.has(i))) return null;
                  return [Math.max(...shown.map(i => window.__bench.painted.get(i))), shown.length, document.querySelectorAll('[data-testid=example]').length];
                }
                """, null, new PageWaitForFunctionOptions { Timeout = 60_000, PollingInterval = 250 });
            var values = await result.JsonValueAsync<double[]>();
            // Where the time went (Resource Timing, ms after navigation): the scripts, the project, the galleries' pages, the
            // thumbnails; and the page's own steps: the first example built, the first thumbnail's src set.
            var phase = await page.EvaluateAsync<double[]>("""
                () => {
                  const r = performance.getEntriesByType('resource');
                  const end = f => Math.max(0, ...r.filter(f).map(e => e.responseEnd));
                  const start = f => Math.min(...r.filter(f).map(e => e.startTime));
                  const nav = performance.getEntriesByType('navigation')[0];
                  const pages = r.filter(e => e.name.includes('/examples?'));
                  return [nav.responseEnd, end(e => e.name.includes('/js/') || e.name.includes('/lib/') || e.name.endsWith('.css')),
                    end(e => /\/api\/projects\/\d+$/.test(e.name)), start(e => e.name.includes('/examples?')), end(e => e.name.includes('/examples?')),
                    start(e => e.name.includes('/thumbnail')), r.filter(e => e.name.includes('/thumbnail')).length,
                    pages.length ? pages[0].responseEnd : 0, window.__bench.firstExample, window.__bench.firstSrc,
                    window.__bench.frames.filter(f => f[0] < performance.now()).reduce((s, f) => s + f[2] + f[3], 0),
                    window.__bench.frames.filter(f => f[0] < performance.now()).reduce((s, f) => s + f[4], 0)];
                }
                """);
            if (traced)
            {
                var profile = await cdp!.SendAsync("Profiler.stop");
                await cdp.SendAsync("Tracing.end");
                await traceDone.Task.WaitAsync(TimeSpan.FromSeconds(30));
                lastBreakdown = MainThreadBreakdown(trace, values[0]) + "\n" + ScriptProfile(profile!.Value.GetProperty("profile"));
                // TAILOR_BENCH_TRACE=FILE keeps the trace (chrome://tracing or Perfetto open it).
                if (Environment.GetEnvironmentVariable("TAILOR_BENCH_TRACE") is { Length: > 0 } keepTrace)
                    File.WriteAllText(keepTrace, System.Text.Json.JsonSerializer.Serialize(new { traceEvents = trace }));
            }
            if (i > 0) { times.Add(values[0]); phases.Add(phase); }
            shown = (int)values[1];
            inPage = (int)values[2];
            if (waterfall)
                lastWaterfall = await page.EvaluateAsync<string[]>("""
                    () => performance.getEntriesByType('resource').map(e => [e.startTime, `${e.startTime.toFixed(0).padStart(6)} ${e.responseEnd.toFixed(0).padStart(6)}  ${e.name.replace(location.origin, '')} (sent ${e.requestStart.toFixed(0)}, first byte ${e.responseStart.toFixed(0)})`])
                      .concat(window.__bench.frames.map(f => [f[0], `${f[0].toFixed(0).padStart(6)} ${(f[0] + f[1]).toFixed(0).padStart(6)}  (long frame: scripts ${f[4].toFixed(0)} ms, frame callbacks ${f[2].toFixed(0)} ms, style, layout and paint ${f[3].toFixed(0)} ms) ${f[5]}`]))
                      .concat([[window.__bench.firstExample, `${window.__bench.firstExample.toFixed(0).padStart(6)}         (first example built)`],
                        [window.__bench.firstSrc, `${window.__bench.firstSrc.toFixed(0).padStart(6)}         (first thumbnail src set)`]])
                      .sort((a, b) => a[0] - b[0]).map(e => e[1])
                    """);
        }
        double Median(IEnumerable<double> v) { var sorted = v.Order().ToList(); return sorted[sorted.Count / 2]; }
        double median = Median(times);
        Console.WriteLine($"  gallery of 1,000 in chromium (headless, 1280×900): first screen of thumbnails ({shown} shown) " +
            $"{median:0} ms after navigation (median of {times.Count}; best {times.Min():0}, worst {times.Max():0} ms; load average {LoadAverage()}); the page holds {inPage} examples (60 per gallery)");
        Console.WriteLine($"    medians, ms after navigation: page {Median(phases.Select(p => p[0])):0}, scripts and styles in {Median(phases.Select(p => p[1])):0}, " +
            $"project {Median(phases.Select(p => p[2])):0}, gallery pages asked {Median(phases.Select(p => p[3])):0}, the first in {Median(phases.Select(p => p[7])):0}, all in {Median(phases.Select(p => p[4])):0}, " +
            $"first example built {Median(phases.Select(p => p[8])):0}, first thumbnail src set {Median(phases.Select(p => p[9])):0} and asked {Median(phases.Select(p => p[5])):0}; " +
            $"thumbnails asked by the first screen's end {Median(phases.Select(p => p[6])):0}; in long frames (over 50 ms) until then: rendering (style, layout, paint) {Median(phases.Select(p => p[10])):0} ms, scripts {Median(phases.Select(p => p[11])):0} ms");
        Console.WriteLine($"    medians of the client's own steps (load matters less): first thumbnail asked {Median(phases.Select(p => p[5] - p[7])):0} ms after the first gallery page is in, " +
            $"{Median(phases.Select(p => p[5] - p[8])):0} ms after the first example is built; first screen shown {Median(phases.Zip(times, (p, t) => t - p[5])):0} ms after the first thumbnail is asked");
        if (waterfall)
        {
            Console.WriteLine("    the last opening's requests (start, end ms after navigation):");
            foreach (string line in lastWaterfall) Console.WriteLine("      " + line);
            Console.WriteLine(lastBreakdown);
        }
    }

    /// <summary>The page's scripts by self time (V8's sampling profiler, the whole traced opening): the functions where
    /// the script time went.</summary>
    private static string ScriptProfile(System.Text.Json.JsonElement profile)
    {
        var nodes = profile.GetProperty("nodes").EnumerateArray().ToDictionary(n => n.GetProperty("id").GetInt32(), n => n.GetProperty("callFrame"));
        var samples = profile.GetProperty("samples").EnumerateArray().Select(x => x.GetInt32()).ToList();
        var deltas = profile.GetProperty("timeDeltas").EnumerateArray().Select(x => x.GetDouble() / 1000).ToList();
        var self = new Dictionary<string, double>();
        for (int i = 0; i + 1 < samples.Count; i++)
        {
            var frame = nodes[samples[i]];
            string url = frame.GetProperty("url").GetString() ?? "";
            string function = frame.GetProperty("functionName").GetString() is { Length: > 0 } f ? f : "(anonymous)";
            string name = $"{function}@{url.Split('/')[^1]}:{frame.GetProperty("lineNumber").GetInt32() + 1}";
            self[name] = self.GetValueOrDefault(name) + deltas[i + 1];
        }
        return "    scripts by self time (ms, whole opening): " + string.Join(", ", self.Where(s => s.Key != "(idle)@:0").OrderByDescending(s => s.Value).Take(20).Select(s => $"{s.Key} {s.Value:0}"));
    }

    /// <summary>From a Chromium trace: the renderer main thread's busy time until <paramref name="until"/> ms after
    /// navigation, and the events it went to (durations include nested events: a script's forced layout counts in both).</summary>
    private static string MainThreadBreakdown(List<System.Text.Json.JsonElement> events, double until)
    {
        // The page's renderer main thread: the CrRendererMain thread with the most events.
        var mains = events.Where(e => e.GetProperty("ph").GetString() == "M" && e.GetProperty("name").GetString() == "thread_name"
                                      && e.GetProperty("args").GetProperty("name").GetString() == "CrRendererMain")
            .Select(e => (e.GetProperty("pid").GetInt32(), e.GetProperty("tid").GetInt32())).ToHashSet();
        var main = events.Where(e => e.TryGetProperty("tid", out _) && mains.Contains((e.GetProperty("pid").GetInt32(), e.GetProperty("tid").GetInt32())))
            .GroupBy(e => (e.GetProperty("pid").GetInt32(), e.GetProperty("tid").GetInt32())).MaxBy(g => g.Count());
        if (main is null) return "    main thread: not found in the trace";
        // Trace clock (µs) to ms after navigation: the navigation's own mark (navigationStart) is time 0.
        var start = events.FirstOrDefault(e => e.GetProperty("name").GetString() == "navigationStart" && e.GetProperty("pid").GetInt32() == main.Key.Item1);
        if (start.ValueKind == System.Text.Json.JsonValueKind.Undefined) return "    main thread: no navigationStart in the trace";
        double t0 = start.GetProperty("ts").GetDouble();
        var totals = new Dictionary<string, double>();
        double busy = 0;
        foreach (var e in main)
        {
            if (e.GetProperty("ph").GetString() != "X" || !e.TryGetProperty("dur", out var d)) continue;
            double at = (e.GetProperty("ts").GetDouble() - t0) / 1000, ms = d.GetDouble() / 1000;
            if (at > until) continue;
            ms = Math.Min(ms, until - at);
            string name = e.GetProperty("name").GetString()!;
            if (name is "RunTask" or "ThreadControllerImpl::RunTask") busy += ms;
            else totals[name] = totals.GetValueOrDefault(name) + ms;
        }
        return $"    the renderer's main thread until the first screen ({until:0} ms): busy {busy:0} ms; " +
               string.Join(", ", totals.Where(t => t.Value >= 3).OrderByDescending(t => t.Value).Take(16).Select(t => $"{t.Key} {t.Value:0}"));
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
