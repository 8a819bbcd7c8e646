using System.Net.Http.Headers;
using System.Text;
using Microsoft.Data.Sqlite;
using Tailor.Prediction;
using Tailor.Studio;
using Tailor.Studio.Runs;
using Tailor.Tests.Studio.Workspace;
using Xunit.Abstractions;
using StudioWorkspace = Tailor.Studio.Workspace;

namespace Tailor.Tests.Studio.Recovery;

/// <summary>
/// A real <c>tailor studio</c> process killed with SIGKILL during an upload, a model write and a run; then the workspace
/// is opened and must be consistent: the database passes <c>PRAGMA integrity_check</c>, every listed example's image and
/// thumbnail exist, the current model loads and predicts, and an interrupted run resumes.
/// </summary>
/// <remarks>
/// Landing a kill inside a window without a hook in the product: the test watches the workspace's folders (inotify, via
/// <see cref="FileSystemWatcher"/>) and kills the process the moment it creates a file there — the temporary file of an
/// atomic write of an image, a model, a checkpoint — skipping a seeded random number of such writes first so that kills
/// land at different writes. Where each kill landed is read from what the sweep at <see cref="StudioWorkspace.Open"/> had
/// to remove (a temporary file: during the write; an orphan image or model: after the file, before its row). Each test
/// repeats until a kill has landed inside the window it is about (at most <see cref="MaxAttempts"/> kills) and checks the
/// workspace after every one of them.
/// </remarks>
[Trait("Category", "Slow")]
public sealed class StudioKillTests(ITestOutputHelper output) : IDisposable
{
    private const int MaxAttempts = 8;
    private static readonly TimeSpan Patience = TimeSpan.FromMinutes(5);
    private readonly TempWorkspaceFolder _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <summary>A workspace with the hands photos imported as one project (train and test); returns the project id.</summary>
    private static long Imported(string folder)
    {
        using var ws = StudioWorkspace.Open(folder);
        return ws.ImportFolder(TestData.Hands, "hands", null, CancellationToken.None).Id;
    }

    /// <summary>Kills <paramref name="studio"/> at the (<paramref name="skip"/> + 1)-th file created under any of
    /// <paramref name="folders"/> (recursively). Dispose the result to stop watching.</summary>
    private static Watch KillAtFileCreated(StudioProcess studio, int skip, params string[] folders)
    {
        int seen = 0;
        Watch? watch = null;
        var watchers = folders.Select(f =>
        {
            Directory.CreateDirectory(f);
            var w = new FileSystemWatcher(f) { IncludeSubdirectories = true, InternalBufferSize = 64 * 1024 };
            w.Created += (_, _) =>
            {
                if (Interlocked.Increment(ref seen) == skip + 1)
                {
                    watch!.Fired = true;   // before the kill: the action loop sees the connection drop at once
                    studio.KillHard();
                }
            };
            w.EnableRaisingEvents = true;
            return w;
        }).ToList();
        return watch = new Watch(() => watchers.ForEach(w => w.Dispose()));
    }

    private sealed class Watch(Action dispose) : IDisposable
    {
        /// <summary>True once the kill was sent.</summary>
        public volatile bool Fired;

        public void Dispose() => dispose();
    }

    /// <summary>After the action loop ended: the kill must have been the watcher's; otherwise the process is killed here
    /// (so that the workspace can be opened) and the attempt does not count.</summary>
    private bool KilledByWatcher(Watch watch, StudioProcess studio, Exception? ended)
    {
        if (watch.Fired)
        {
            studio.KillHard();   // the watcher's kill may still be on its way: wait until the process is gone
            return true;
        }
        output.WriteLine($"  the action loop ended before the watcher's kill ({ended?.GetType().Name}: {ended?.Message}); killed now");
        studio.KillHard();
        return false;
    }

    /// <summary>Opens the workspace after a kill and checks it; returns what the sweep removed (where the kill landed).</summary>
    private SweepReport OpenAndCheck(string folder, long project)
    {
        SweepReport sweep;
        using (var ws = StudioWorkspace.Open(folder))
        {
            sweep = ws.LastSweep;
            var examples = new List<ExampleInfo>();
            for (int offset = 0; ; offset += 1000)
            {
                var page = ws.ListExamples(project, null, null, offset, 1000);
                examples.AddRange(page.Items);
                if (examples.Count >= page.Total) break;
            }
            foreach (var e in examples)
            {
                Assert.True(File.Exists(Path.Combine(folder, "images", e.Sha256[..2], e.Sha256)), $"example {e.Id}: its image is missing");
                if (!e.Corrupt)
                    Assert.True(File.Exists(Path.Combine(folder, "thumbs", e.Sha256[..2], e.Sha256 + ".jpg")), $"example {e.Id}: its thumbnail is missing");
            }
            // Nothing unreferenced is left: as many image files as distinct hashes, no temporary file anywhere.
            Assert.Equal(examples.Select(e => e.Sha256).Distinct().Count(),
                Directory.EnumerateFiles(Path.Combine(folder, "images"), "*", SearchOption.AllDirectories).Count());
            Assert.Empty(Directory.EnumerateFiles(folder, "*.tmp", SearchOption.AllDirectories));

            // The current model loads and predicts.
            var model = ws.LoadModel(project);
            using var predictor = new Predictor(model);
            var photo = Directory.GetFiles(TestData.HandsTest, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal).First();
            var prediction = Assert.Single(predictor.Predict([photo]));
            Assert.False(string.IsNullOrEmpty(prediction.Label));
        }
        using var db = new SqliteConnection($"Data Source={Path.Combine(folder, "workspace.db")};Pooling=False");
        db.Open();
        using var check = db.CreateCommand();
        check.CommandText = "PRAGMA integrity_check;";
        Assert.Equal("ok", check.ExecuteScalar() as string);
        output.WriteLine($"  sweep: {sweep}");
        return sweep;
    }

    [Fact]
    public async Task KilledDuringUploads_TheWorkspaceOpensConsistent_WithTheHalfAddedImageSwept()
    {
        string folder = _dir.Sub("ws");
        long project = Imported(folder);
        long label;
        using (var ws = StudioWorkspace.Open(folder)) label = ws.GetProject(project).Labels[0].Id;
        var photos = Directory.GetFiles(TestData.HandsTrain, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal).ToArray();
        var random = new Random(12);
        int landed = 0, attempts = 0, afterFile = 0;
        long nonce = 0;
        while (attempts < 4 || (landed == 0 && attempts < MaxAttempts))
        {
            attempts++;
            await using var studio = await StudioProcess.StartAsync(folder);
            int skip = random.Next(0, 6);
            bool byWatcher;
            using (var watch = KillAtFileCreated(studio, skip, Path.Combine(folder, "images"), Path.Combine(folder, "thumbs")))
            {
                Exception? ended = null;
                // Uploads one after another (new bytes each: a photo with bytes appended after its end) until the kill.
                while (true)
                {
                    var bytes = File.ReadAllBytes(photos[nonce % photos.Length]).Concat(BitConverter.GetBytes(++nonce)).ToArray();
                    using var form = new MultipartFormDataContent();
                    var file = new ByteArrayContent(bytes);
                    file.Headers.ContentType = new MediaTypeHeaderValue("image/jpeg");
                    form.Add(file, "files", $"upload-{nonce}.jpg");
                    try
                    {
                        using var response = await studio.Http.PostAsync($"/api/projects/{project}/examples?label={label}&set=train&source=upload", form);
                        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
                    }
                    catch (Exception e) when (e is HttpRequestException or IOException or TaskCanceledException)
                    {
                        ended = e;
                        break;   // killed
                    }
                }
                byWatcher = KilledByWatcher(watch, studio, ended);
            }
            output.WriteLine($"kill {attempts} (after {skip} files written):");
            var sweep = OpenAndCheck(folder, project);
            if (byWatcher && sweep.Images + sweep.Thumbnails + sweep.TemporaryFiles > 0) landed++;
            if (byWatcher && sweep.Images > 0) afterFile++;
        }
        output.WriteLine($"{afterFile} of {attempts} kills left a whole image file without its row");
        output.WriteLine($"{landed} of {attempts} kills landed between an image's first byte on disk and its row");
        Assert.True(landed > 0, $"no kill of {attempts} landed inside an upload");
    }

    [Fact]
    public async Task KilledDuringAModelWrite_TheWorkspaceOpensConsistent_AndTheCurrentModelPredicts()
    {
        string folder = _dir.Sub("ws");
        long project = Imported(folder);
        var random = new Random(7);
        int landed = 0, attempts = 0;
        while (landed == 0 && attempts < MaxAttempts)
        {
            attempts++;
            await using var studio = await StudioProcess.StartAsync(folder);
            int skip = random.Next(0, 3);
            bool byWatcher;
            using (var watch = KillAtFileCreated(studio, skip, Path.Combine(folder, "models")))
            {
                Exception? ended = null;
                // Resets to an empty model, one after another: each writes a model file (tens of MB) and records a version.
                while (true)
                {
                    try
                    {
                        using var response = await studio.Http.PostAsync($"/api/projects/{project}/models/reset",
                            new StringContent("""{"to":"empty"}""", Encoding.UTF8, "application/json"));
                        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
                    }
                    catch (Exception e) when (e is HttpRequestException or IOException or TaskCanceledException)
                    {
                        ended = e;
                        break;
                    }
                }
                byWatcher = KilledByWatcher(watch, studio, ended);
            }
            output.WriteLine($"kill {attempts} (after {skip} model files written):");
            var sweep = OpenAndCheck(folder, project);
            if (byWatcher && sweep.Models + sweep.TemporaryFiles > 0) landed++;
        }
        output.WriteLine($"{landed} of {attempts} kills landed between a model file's first byte on disk and its version's row");
        Assert.True(landed > 0, $"no kill of {attempts} landed inside a model write");
    }

    /// <summary>The network run of the kill test: the classifier only (fast epochs), enough of them that a kill at an
    /// early checkpoint lands mid-run, a fixed seed.</summary>
    private static readonly RunRequest Request = new() { Layers = RunLayers.ClassifierOnly, Epochs = 40, Seed = 11 };

    [Fact]
    public async Task KilledDuringARun_TheRunIsInterrupted_AndResumesToTheWeightsOfARunNeverInterrupted()
    {
        string folder = _dir.Sub("ws");
        long project = Imported(folder);
        var random = new Random(3);
        int skip = random.Next(0, 4);
        await using (var studio = await StudioProcess.StartAsync(folder))
        using (var watch = KillAtFileCreated(studio, skip, Path.Combine(folder, "checkpoints")))
        {
            using var start = await studio.Http.PostAsync($"/api/projects/{project}/runs",
                new StringContent(System.Text.Json.JsonSerializer.Serialize(Request, Tailor.Studio.Web.StudioJson.Options), Encoding.UTF8, "application/json"));
            Assert.True(start.IsSuccessStatusCode, await start.Content.ReadAsStringAsync());
            // The run's events until the connection drops with the process.
            try
            {
                using var events = new StreamReader(await studio.Http.GetStreamAsync($"/api/projects/{project}/run/events"));
                while (await events.ReadLineAsync() is { } line)
                    Assert.False(line == "event: finished", "the run finished before the kill");
            }
            catch (HttpRequestException) { }
            catch (IOException) { }
            Assert.True(KilledByWatcher(watch, studio, null), "the run's event stream ended without the kill");
        }
        output.WriteLine($"kill at checkpoint write {skip + 1}:");
        OpenAndCheck(folder, project);

        RunStatus resumed;
        int recordedAtKill, done;
        using (var ws = StudioWorkspace.Open(folder))
        {
            var run = ws.ListRuns(project).First();
            Assert.Equal("interrupted", run.State);
            recordedAtKill = run.Epochs.Count;
            var interrupted = ws.InterruptedRun(project);
            Assert.NotNull(interrupted);
            Assert.True(interrupted.Resumable, interrupted.WhyNot);
            done = interrupted.EpochsDone;
            Assert.InRange(done, Math.Max(0, recordedAtKill - 1), recordedAtKill);   // at most the epoch in the middle of its checkpoint is trained again
            Assert.True(done >= skip, $"the kill came at checkpoint write {skip + 1}; {done} epochs are checkpointed");
            using var runs = new RunManager(ws);
            var first = runs.Resume(project, run.Id);
            Assert.Equal(run.Id, first.RunId);
            Assert.Equal(done, first.Epoch);
            await runs.WhenEnded(project).WaitAsync(Patience);
            resumed = runs.Status(project)!;
            Assert.Equal(RunState.Finished, resumed.State);
            Assert.Equal(Enumerable.Range(1, Request.Epochs), ws.ListRuns(project).First().Epochs.Select(e => e.Epoch));
            Assert.Equal("completed", ws.ListRuns(project).First().State);
            Assert.Null(ws.InterruptedRun(project));
            Assert.Empty(Directory.EnumerateFiles(Path.Combine(folder, "checkpoints")));   // the ended run's checkpoint is gone
        }
        output.WriteLine($"{recordedAtKill} epochs recorded at the kill, {done} checkpointed: {recordedAtKill - done} trained again");

        // The same run never interrupted, on a workspace made the same way.
        string reference = _dir.Sub("reference");
        long referenceProject = Imported(reference);
        using var refWs = StudioWorkspace.Open(reference);
        using (var runs = new RunManager(refWs))
        {
            runs.Start(referenceProject, Request);
            await runs.WhenEnded(referenceProject).WaitAsync(Patience);
            Assert.Equal(RunState.Finished, runs.Status(referenceProject)!.State);
        }
        using var resumedWs = StudioWorkspace.Open(folder);
        var a = resumedWs.LoadModel(project);
        var b = refWs.LoadModel(referenceProject);
        foreach (string parameter in a.Spec.UpdatableLayers.SelectMany(l => l.Parameters))
            Assert.True(a.GetParameter(parameter).AsSpan().SequenceEqual(b.GetParameter(parameter)), $"{parameter} differs from the uninterrupted run's");
        var ea = resumedWs.ListRuns(project).First().Epochs;
        var eb = refWs.ListRuns(referenceProject).First().Epochs;
        Assert.Equal(eb.Select(e => (e.Epoch, e.TrainLossMean, e.ValidationLoss, e.ValidationAccuracy)), ea.Select(e => (e.Epoch, e.TrainLossMean, e.ValidationLoss, e.ValidationAccuracy)));
    }
}
