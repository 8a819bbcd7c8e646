using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Routing;
using Microsoft.Net.Http.Headers;
using Tailor.Studio.Runs;

namespace Tailor.Studio.Web;

/// <summary>
/// Import and export (issue 12 item 5):
/// <code>
/// POST /api/projects/import         multipart: one file (a zip of photos or a .tailor project file), name? → 202 ImportJob
/// POST /api/projects/{p}/import     multipart: one zip of photos, added to the project's labels        → 202 ImportJob
/// GET  /api/imports/{id}                                                                              → ImportJob
/// GET  /api/projects/{p}/export/photos.zip      train/&lt;label&gt;/&lt;file&gt;, test/&lt;label&gt;/&lt;file&gt; (streamed)
/// GET  /api/projects/{p}/export/project.tailor  the whole project as one file (streamed)
/// </code>
/// An upload is streamed to a temporary file (never held in memory; up to <see cref="StudioServer.MaxImportBytes"/>), then
/// imported in the background while the page polls the job for its progress; the temporary file goes when it ends.
/// </summary>
internal static partial class Api
{
    static partial void MapTransfer(IEndpointRouteBuilder routes, Workspace ws, RunManager runs, CancellationToken stopping)
    {
        var jobs = new ImportJobs();
        // RequestDelegate handlers (the route-handler analyzer of this SDK throws on these routes; the ids are read here).
        routes.MapPost("/api/projects/import", c => Respond(c, StartImport(c, ws, jobs, null, stopping)));
        routes.MapPost("/api/projects/{p:long}/import", c => Respond(c, StartImport(c, ws, jobs, RouteId(c, "p"), stopping)));
        routes.MapGet("/api/imports/{id:long}", c => Respond(c, Task.FromResult(ImportStatus(jobs, RouteId(c, "id")))));
        routes.MapGet("/api/projects/{p:long}/export/photos.zip", c => Export(c, ws, RouteId(c, "p"), true));
        routes.MapGet("/api/projects/{p:long}/export/project.tailor", c => Export(c, ws, RouteId(c, "p"), false));
    }

    /// <summary>Streams an export to the response as it is written (the zip writer writes synchronously: on a pool thread,
    /// through a buffer). The file name is made of numbers only, never the project's text.</summary>
    private static async Task Export(HttpContext c, Workspace ws, long p, bool photos)
    {
        string fileName = photos ? $"tailor-project-{p}-photos.zip" : $"tailor-project-{p}.tailor", contentType = "application/zip";
        ws.GetProject(p);   // 404 before anything is sent
        c.Response.ContentType = contentType;
        c.Response.Headers.ContentDisposition = new ContentDispositionHeaderValue("attachment") { FileName = fileName }.ToString();
        if (c.Features.Get<IHttpBodyControlFeature>() is { } body) body.AllowSynchronousIO = true;
        await Task.Run(() =>
        {
            using var buffered = new BufferedStream(c.Response.Body, 1 << 16);
            if (photos) ws.ExportImages(p, buffered, c.RequestAborted);
            else ws.ExportProject(p, buffered, c.RequestAborted);
            buffered.Flush();
        }, c.RequestAborted);
    }

    private static long RouteId(HttpContext c, string name) =>
        long.Parse((string)c.Request.RouteValues[name]!, System.Globalization.CultureInfo.InvariantCulture);

    private static async Task Respond(HttpContext c, Task<IResult> result) => await (await result).ExecuteAsync(c);

    private static IResult ImportStatus(ImportJobs jobs, long id) => Results.Json(
        jobs.Get(id) ?? throw HttpError.NotFound($"There is no import {id} (imports are kept for an hour after they end)."), StudioJson.Options);

    private static async Task<IResult> StartImport(HttpContext c, Workspace ws, ImportJobs jobs, long? into, CancellationToken stopping)
    {
        if (into is { } target) ws.GetProject(target);
        var reader = Multipart(c);
        string temp = Path.Combine(Path.GetTempPath(), $"tailor-studio-import-{Guid.NewGuid():N}.zip");
        string? fileName = null, name = null;
        try
        {
            while (await reader.ReadNextSectionAsync(c.RequestAborted) is { } section)
            {
                if (!ContentDispositionHeaderValue.TryParse(section.ContentDisposition, out var d)) continue;
                if (d.IsFileDisposition())
                {
                    if (fileName is not null) throw HttpError.BadRequest("Send one file to import at a time (a zip of photos or a .tailor project file).");
                    fileName = Path.GetFileName((d.FileNameStar.HasValue ? d.FileNameStar.Value : d.FileName.Value)?.Trim('"') ?? "") is { Length: > 0 } n ? n : "upload.zip";
                    await using var file = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true);
                    await section.Body.CopyToAsync(file, 1 << 16, c.RequestAborted);
                }
                else if (d.IsFormDisposition() && d.Name.Value?.Trim('"') == "name")
                {
                    using var text = new StreamReader(new CappedStream(section.Body, 64 << 10));
                    name = (await text.ReadToEndAsync(c.RequestAborted)).Trim();
                }
            }
            if (fileName is null) throw HttpError.BadRequest("The form holds no file: send the zip of photos or the .tailor project file as a file part.");
            bool project = Workspace.IsProjectFile(temp);
            if (project && into is not null)
                throw HttpError.BadRequest($"'{Shown.Label(fileName)}' is a whole project (a .tailor file): import it as a new project on the Projects screen.");
            string upload = temp, shownName = fileName;
            var job = jobs.Start(project ? "project" : "photos", fileName, into, (progress, ct) => project
                ? ws.ImportProject(upload, name, progress, ct, shownName)
                : ws.ImportZip(upload, name, into, progress, ct, displayName: shownName), upload, stopping);
            temp = "";   // the job owns it now
            return Results.Json(job, StudioJson.Options, statusCode: StatusCodes.Status202Accepted);
        }
        finally
        {
            if (temp.Length > 0) File.Delete(temp);
        }
    }

    /// <summary>How an import is getting on, as the page polls it.</summary>
    /// <param name="Kind">photos (a zip of photos) or project (a .tailor file).</param>
    /// <param name="State">running, finished or failed.</param>
    /// <param name="Done">Files handled so far, of <paramref name="Total"/> (0 until the archive is read).</param>
    /// <param name="ProjectId">The project made or added to, when finished (or the one added to, from the start).</param>
    internal sealed record ImportJob(long Id, string Kind, string FileName, string State, int Done, int Total, int Added, int Duplicates, int Refused,
        string? LastRefusal, long? ProjectId, string? Error);

    /// <summary>The imports of this studio: one background task each, its latest progress kept (ended ones for an hour).</summary>
    private sealed class ImportJobs
    {
        private static readonly TimeSpan s_keep = TimeSpan.FromHours(1);
        private readonly ConcurrentDictionary<long, (ImportJob Job, DateTimeOffset? Ended)> _jobs = new();
        private long _next;

        public ImportJob? Get(long id) => _jobs.TryGetValue(id, out var entry) ? entry.Job : null;

        public ImportJob Start(string kind, string fileName, long? into, Func<IProgress<ImportProgress>, CancellationToken, ProjectInfo> import,
            string temp, CancellationToken stopping)
        {
            foreach (var (key, value) in _jobs)
                if (value.Ended is { } ended && DateTimeOffset.UtcNow - ended > s_keep) _jobs.TryRemove(key, out _);
            long id = Interlocked.Increment(ref _next);
            var job = new ImportJob(id, kind, fileName, "running", 0, 0, 0, 0, 0, null, into, null);
            _jobs[id] = (job, null);
            var progress = new Progress(p => Update(id, j => j with
            {
                Done = p.Done, Total = p.Total, Added = p.Added, Duplicates = p.Duplicates, Refused = p.Refused, LastRefusal = p.LastRefusal,
            }, null));
            _ = Task.Run(() =>
            {
                try
                {
                    var project = import(progress, stopping);
                    int photos = project.Labels.Sum(l => l.TrainCount + l.TestCount);
                    Update(id, j => j with
                    {
                        State = "finished", ProjectId = project.Id, Done = j.Total,
                        Added = kind == "project" ? photos : j.Added,
                    }, DateTimeOffset.UtcNow);
                }
                catch (Exception e) when (e is TailorException or OperationCanceledException or IOException or UnauthorizedAccessException)
                {
                    Update(id, j => j with { State = "failed", Error = e is OperationCanceledException ? "the studio stopped during the import" : e.Message }, DateTimeOffset.UtcNow);
                }
                catch (Exception e)
                {
                    Update(id, j => j with { State = "failed", Error = $"internal error ({e.GetType().Name}: {e.Message}); this is a bug in Tailor Studio" }, DateTimeOffset.UtcNow);
                }
                finally
                {
                    try { File.Delete(temp); } catch (IOException) { } catch (UnauthorizedAccessException) { }
                }
            }, CancellationToken.None);
            return job;
        }

        private void Update(long id, Func<ImportJob, ImportJob> change, DateTimeOffset? ended)
        {
            while (_jobs.TryGetValue(id, out var old))
                if (_jobs.TryUpdate(id, (change(old.Job), ended ?? old.Ended), old)) return;
        }

        /// <summary>Reports on the import's own thread (Progress&lt;T&gt; would post to the pool, out of order).</summary>
        private sealed class Progress(Action<ImportProgress> report) : IProgress<ImportProgress>
        {
            public void Report(ImportProgress value) => report(value);
        }
    }
}
