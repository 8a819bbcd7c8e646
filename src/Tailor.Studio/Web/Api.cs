using System.Globalization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Net.Http.Headers;
using Tailor.Building;
using Tailor.Heads;
using Tailor.Spec;
using Tailor.Studio.Runs;
using H = Tailor.Spec.HyperparameterNames;

namespace Tailor.Studio.Web;

/// <summary>
/// The HTTP API (see the studio contract): JSON in camelCase, ids as numbers, errors as <c>{ "error": … }</c>. Each
/// handler is one call of the <see cref="Workspace"/> or the <see cref="RunManager"/>; nothing here trains or decides.
/// </summary>
internal static partial class Api
{
    public static void Map(IEndpointRouteBuilder routes, Workspace ws, RunManager runs, CancellationToken stopping)
    {
        routes.MapGet("/api/health", () => Results.Json(new { status = "ok" }));

        // Projects
        routes.MapGet("/api/projects", () => ws.ListProjects());
        routes.MapPost("/api/projects", (Delegate)((HttpContext c) => CreateProject(c, ws)));
        routes.MapGet("/api/projects/{p:long}", (long p) => ws.GetProject(p));
        routes.MapDelete("/api/projects/{p:long}", (long p) =>
        {
            RefuseWhileRunning(runs, p, "deleting the project");
            ws.DeleteProject(p);
            return Results.NoContent();
        });
        routes.MapGet("/api/projects/{p:long}/options", (long p) => Options(ws, p));

        // Labels
        routes.MapPost("/api/projects/{p:long}/labels", (long p, NameBody body) => ws.AddLabel(p, body.Name ?? ""));
        routes.MapPatch("/api/projects/{p:long}/labels/{l:long}", (long p, long l, NameBody body) => ws.RenameLabel(p, l, body.Name ?? ""));
        routes.MapDelete("/api/projects/{p:long}/labels/{l:long}", (long p, long l) =>
        {
            ws.DeleteLabel(p, l);
            return Results.NoContent();
        });

        // Examples
        routes.MapGet("/api/projects/{p:long}/examples", (long p, long? label, string? set, int? offset, int? limit) =>
            ws.ListExamples(p, label, ParseSet(set), offset ?? 0, limit ?? 100));
        routes.MapPost("/api/projects/{p:long}/examples", (HttpContext c, long p, long? label, string? set, string? source) =>
            Upload(c, ws, p, label, set, source));
        routes.MapPatch("/api/projects/{p:long}/examples/{e:long}", (long p, long e, MoveBody body) =>
            ws.MoveExample(p, e, body.LabelId, ParseSet(body.Set)));
        routes.MapDelete("/api/projects/{p:long}/examples/{e:long}", (long p, long e) =>
        {
            ws.DeleteExample(p, e);
            return Results.NoContent();
        });
        routes.MapGet("/api/examples/{e:long}/image", (HttpContext c, long e) => Image(c, ws.OpenImage(e)));
        routes.MapGet("/api/examples/{e:long}/thumbnail", (HttpContext c, long e) => Image(c, ws.OpenThumbnail(e)));

        // Runs
        routes.MapPost("/api/projects/{p:long}/runs", (long p, RunRequest request) =>
        {
            ws.GetProject(p);
            try
            {
                return runs.Start(p, request);
            }
            catch (TailorException e) when (runs.Status(p) is { IsActive: true })
            {
                throw HttpError.Conflict(e.Message);   // the run manager's message names the run going on
            }
        });
        routes.MapGet("/api/projects/{p:long}/run", (long p) =>
        {
            ws.GetProject(p);
            return runs.Status(p) is { } status ? Results.Json(status, StudioJson.Options) : Results.NoContent();
        });
        routes.MapPost("/api/projects/{p:long}/run/stop", (long p) =>
        {
            ws.GetProject(p);
            return Results.Json(new { stopping = runs.Stop(p) }, StudioJson.Options);
        });
        routes.MapPost("/api/projects/{p:long}/run/learning-rate", (long p, LearningRateBody body) =>
        {
            ws.GetProject(p);
            runs.SetLearningRate(p, body.LearningRate ?? throw HttpError.BadRequest("Give the learning rate: { \"learningRate\": 0.001 }."));
            return runs.Status(p);
        });
        routes.MapGet("/api/projects/{p:long}/run/events", (HttpContext c, long p) =>
        {
            ws.GetProject(p);
            return ServerSentEvents.WriteAsync(c, runs.Subscribe(p, c.RequestAborted), e => e.Kind, StudioServer.HeartbeatInterval, stopping);
        });
        routes.MapGet("/api/projects/{p:long}/runs", (long p) => ws.ListRuns(p));

        // Evaluation and models
        routes.MapPost("/api/projects/{p:long}/evaluate", (long p, EvaluateBody? body, HttpContext c) =>
            ws.Evaluate(p, body?.VersionId, c.RequestAborted));
        routes.MapGet("/api/projects/{p:long}/models", (long p) => ws.ListModelVersions(p));
        routes.MapPost("/api/projects/{p:long}/models/reset", (long p, ResetBody body) =>
        {
            RefuseWhileRunning(runs, p, "changing the current model");
            if (body.VersionId is long version) return ws.MakeCurrent(p, version);
            if (string.Equals(body.To, "empty", StringComparison.OrdinalIgnoreCase)) return ws.ResetToEmpty(p);
            throw HttpError.BadRequest("Say what to reset to: { \"to\": \"empty\" } for an empty classifier, or { \"versionId\": N } for an earlier version (the base version is the pretrained one).");
        });
        routes.MapGet("/api/projects/{p:long}/models/current.onnx", (long p) =>
        {
            var project = ws.GetProject(p);
            long version = project.CurrentVersionId ?? throw HttpError.NotFound($"Project {p} has no current model version.");
            // The file name is made of numbers only: never the project's or a label's text.
            return Results.File(ws.ModelFile(version), "application/octet-stream", $"tailor-project-{p}-version-{version}.onnx");
        });

        // Part 2 (issue 12): each feature maps its endpoints in a file of its own (Api.<Feature>.cs).
        MapRecovery(routes, ws, runs, stopping);
        MapVersions(routes, ws, runs, stopping);
        MapLive(routes, ws, runs, stopping);
        MapScale(routes, ws, runs, stopping);
        MapTransfer(routes, ws, runs, stopping);
        MapGuidance(routes, ws, runs, stopping);
    }

    /// <summary>Interrupted runs and Resume (Api.Recovery.cs).</summary>
    static partial void MapRecovery(IEndpointRouteBuilder routes, Workspace ws, RunManager runs, CancellationToken stopping);

    /// <summary>Model versions compared, run history (Api.Versions.cs).</summary>
    static partial void MapVersions(IEndpointRouteBuilder routes, Workspace ws, RunManager runs, CancellationToken stopping);

    /// <summary>Live prediction (Api.Live.cs).</summary>
    static partial void MapLive(IEndpointRouteBuilder routes, Workspace ws, RunManager runs, CancellationToken stopping);

    /// <summary>Big data sets (Api.Scale.cs).</summary>
    static partial void MapScale(IEndpointRouteBuilder routes, Workspace ws, RunManager runs, CancellationToken stopping);

    /// <summary>Import and export (Api.Transfer.cs).</summary>
    static partial void MapTransfer(IEndpointRouteBuilder routes, Workspace ws, RunManager runs, CancellationToken stopping);

    /// <summary>Guidance (Api.Guidance.cs).</summary>
    static partial void MapGuidance(IEndpointRouteBuilder routes, Workspace ws, RunManager runs, CancellationToken stopping);

    private static void RefuseWhileRunning(RunManager runs, long projectId, string what)
    {
        if (runs.Status(projectId) is { IsActive: true } s)
            throw HttpError.Conflict($"A run is going on project {projectId} (run {s.RunId}, epoch {s.Epoch} of {s.Epochs}); stop it or wait for it to end before {what}.");
    }

    private static ExampleSet? ParseSet(string? set) => set?.Trim().ToLowerInvariant() switch
    {
        null or "" => null,
        "train" => ExampleSet.Train,
        "test" => ExampleSet.Test,
        _ => throw HttpError.BadRequest($"set '{set}' is not train or test."),
    };

    private static IResult Image(HttpContext c, (Stream Content, string ContentType) image)
    {
        // Content-addressed and never changed in place: the browser may keep it.
        c.Response.Headers.CacheControl = "private, max-age=86400";
        return Results.Stream(image.Content, image.ContentType);
    }

    /// <summary>
    /// Stores each file of a multipart upload as it arrives: one section at a time is buffered (in memory up to 1 MiB,
    /// then in a temporary file) up to one byte past the workspace's per-file cap — so the workspace's own check names
    /// a file too large — and handed to <see cref="Workspace.AddExample"/>; the whole request is never held. A file the
    /// workspace refuses (too large, not an image by its content, too many pixels) is reported by name and the others
    /// go on.
    /// </summary>
    private static async Task<IResult> Upload(HttpContext c, Workspace ws, long p, long? label, string? setText, string? source)
    {
        long labelId = label ?? throw HttpError.BadRequest("Give the label to add the photos to: ?label=ID.");
        var set = ParseSet(setText) ?? ExampleSet.Train;
        var reader = Multipart(c);
        var added = new List<ExampleInfo>();
        var duplicates = new List<ExampleInfo>();
        var refused = new List<Refusal>();
        int files = 0;
        while (await reader.ReadNextSectionAsync(c.RequestAborted) is { } section)
        {
            if (!ContentDispositionHeaderValue.TryParse(section.ContentDisposition, out var disposition) || !disposition.IsFileDisposition()) continue;
            files++;
            string name = (disposition.FileNameStar.HasValue ? disposition.FileNameStar.Value : disposition.FileName.Value)?.Trim('"') ?? "";
            await using var buffered = new FileBufferingReadStream(new CappedStream(section.Body, Workspace.MaxUploadBytes + 1), 1 << 20, null, Path.GetTempPath());
            await buffered.DrainAsync(c.RequestAborted);
            buffered.Position = 0;
            try
            {
                var result = ws.AddExample(p, labelId, set, buffered, source ?? "upload", name.Length == 0 ? null : name);
                (result.Duplicate ? duplicates : added).Add(result.Example);
            }
            catch (TailorException e) when (e is not NotFoundException && !e.Message.StartsWith("Unknown example source", StringComparison.Ordinal))
            {
                refused.Add(new Refusal(name, e.Message));
            }
        }
        if (files == 0) throw HttpError.BadRequest("The request holds no file: send the photos as multipart/form-data file parts.");
        return Results.Json(new UploadResult(added, duplicates, refused), StudioJson.Options);
    }

    private static MultipartReader Multipart(HttpContext c)
    {
        if (!MediaTypeHeaderValue.TryParse(c.Request.ContentType, out var type) || !type.MediaType.Equals("multipart/form-data", StringComparison.OrdinalIgnoreCase))
            throw new HttpError(StatusCodes.Status415UnsupportedMediaType, "Send the files as multipart/form-data.");
        string boundary = HeaderUtilities.RemoveQuotes(type.Boundary).Value ?? "";
        if (boundary.Length is 0 or > 200) throw HttpError.BadRequest("The multipart body has no valid boundary.");
        return new MultipartReader(boundary, c.Request.Body) { HeadersLengthLimit = 16 << 10, BodyLengthLimit = null };
    }

    /// <summary>POST /api/projects: JSON <c>{ name, base: "resnet18", capacity? }</c>, or multipart with the name, the ONNX
    /// file (<c>model</c>) and the options a base model needs as <c>tailor prepare</c> takes them.</summary>
    private static async Task<ProjectInfo> CreateProject(HttpContext c, Workspace ws)
    {
        if (!c.Request.HasFormContentType)
        {
            var body = await c.Request.ReadFromJsonAsync<CreateProjectBody>(StudioJson.Options, c.RequestAborted)
                       ?? throw HttpError.BadRequest("Give the project: { \"name\": \"…\", \"base\": \"resnet18\" }.");
            if (body.Base is not (null or "resnet18"))
                throw HttpError.BadRequest($"base '{body.Base}' is not one the studio knows: give \"resnet18\", or upload an ONNX model as multipart/form-data.");
            return await Task.Run(() => ws.CreateProject(body.Name ?? "", ProjectBase.EmbeddedResNet18(body.Capacity ?? 0)), c.RequestAborted);
        }
        var reader = Multipart(c);
        var fields = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        string? modelName = null;
        string temp = Path.Combine(Path.GetTempPath(), $"tailor-studio-upload-{Guid.NewGuid():N}.onnx");
        try
        {
            while (await reader.ReadNextSectionAsync(c.RequestAborted) is { } section)
            {
                if (!ContentDispositionHeaderValue.TryParse(section.ContentDisposition, out var d)) continue;
                if (d.IsFileDisposition())
                {
                    modelName = (d.FileNameStar.HasValue ? d.FileNameStar.Value : d.FileName.Value)?.Trim('"');
                    await using var file = File.Create(temp);
                    await section.Body.CopyToAsync(file, c.RequestAborted);
                }
                else if (d.IsFormDisposition() && d.Name.Value is { } field)
                {
                    using var text = new StreamReader(new CappedStream(section.Body, 64 << 10));
                    fields[field.Trim('"')] = (await text.ReadToEndAsync(c.RequestAborted)).Trim();
                }
            }
            if (modelName is null) throw HttpError.BadRequest("The form holds no ONNX file: send it as the part 'model'.");
            var options = PrepareOptionsFrom(fields);
            string name = fields.GetValueOrDefault("name") ?? "";
            string shownName = Path.GetFileName(modelName);
            try
            {
                return await Task.Run(() => ws.CreateProject(name, ProjectBase.FromOnnx(temp, options, shownName)), c.RequestAborted);
            }
            catch (TailorException e) when (e.Message.Contains(temp, StringComparison.Ordinal))
            {
                // The library names the file it read, which is the server's temporary copy: name the user's upload.
                throw new TailorException(e.Message.Replace(temp, $"{shownName} (uploaded)", StringComparison.Ordinal), e);
            }
        }
        finally
        {
            File.Delete(temp);
        }
    }

    private static PrepareOptions PrepareOptionsFrom(Dictionary<string, string> f)
    {
        int Int(string key, int fallback) => f.TryGetValue(key, out var v) && v.Length > 0
            ? int.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out int n) ? n : throw HttpError.BadRequest($"{key} '{v}' is not a whole number.")
            : fallback;
        T Enum<T>(string key, T fallback) where T : struct, System.Enum => f.TryGetValue(key, out var v) && v.Length > 0
            ? System.Enum.TryParse<T>(v, ignoreCase: true, out var e) && System.Enum.IsDefined(e) ? e
                : throw HttpError.BadRequest($"{key} '{v}' is not one of {string.Join(", ", System.Enum.GetNames<T>())}.")
            : fallback;
        var options = new PrepareOptions
        {
            Capacity = Int("capacity", TrainingDefaults.Capacity),
            FeatureOutput = f.GetValueOrDefault("featureOutput") is { Length: > 0 } output ? output : null,
            UpdatableLayers = f.GetValueOrDefault("updatableLayers") is { Length: > 0 } layers
                ? layers.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries) : null,
        };
        if (f.ContainsKey("width") || f.ContainsKey("height"))
        {
            float scale = f.TryGetValue("scale", out var s) && s.Length > 0
                ? float.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out float v) && float.IsFinite(v) ? v : throw HttpError.BadRequest($"scale '{s}' is not a number.")
                : 1f;
            var defaults = new ImagePreprocessing();
            options = options with
            {
                Preprocessing = defaults with
                {
                    Width = Int("width", defaults.Width), Height = Int("height", defaults.Height),
                    Resize = Enum("resize", defaults.Resize), Channels = Enum("channels", defaults.Channels), Layout = Enum("layout", defaults.Layout),
                    Scale = scale,
                },
            };
        }
        return options;
    }

    /// <summary>What a run may be given on this project: the allowed values and defaults of the current model's update
    /// spec, k and L2 for the other heads, and the layers a network run can train.</summary>
    private static object Options(Workspace ws, long p)
    {
        var spec = ws.CurrentSpec(p);
        Range? Of(string name) => spec.Hyperparameters.TryGetValue(name, out var h) ? Range.From(h) : null;
        return new
        {
            head = spec.Head,
            learningRate = Of(H.LearningRate),
            batchSize = Of(H.BatchSize),
            epochs = Of(H.Epochs),
            k = new Range(KNearestNeighbors.MinK, KNearestNeighbors.MaxK, KNearestNeighbors.DefaultK, null),
            l2 = new Range(0, 1, TrainingDefaults.LogisticRegressionL2, null),
            classifier = spec.Classifier,
            // The camera draws (and cuts captures to) the part of the frame the model sees.
            preprocessing = spec.Preprocessing,
            layers = spec.UpdatableLayers.Select(l => new { name = l.Name, op = l.Op }),
            hyperparameters = spec.Hyperparameters,
        };
    }

    private sealed record Range(double Min, double Max, double Default, IReadOnlyList<double>? Values)
    {
        public static Range From(Hyperparameter h) => h.Allowed.Set is { } set
            ? new Range(set.Min(), set.Max(), h.Default, set)
            : new Range(h.Allowed.Range![0], h.Allowed.Range[1], h.Default, null);
    }

    internal sealed record NameBody(string? Name);

    internal sealed record MoveBody(long? LabelId, string? Set);

    internal sealed record LearningRateBody(double? LearningRate);

    internal sealed record EvaluateBody(long? VersionId);

    internal sealed record ResetBody(string? To, long? VersionId);

    internal sealed record CreateProjectBody(string? Name, string? Base, int? Capacity);

    internal sealed record Refusal(string Name, string Error);

    internal sealed record UploadResult(IReadOnlyList<ExampleInfo> Added, IReadOnlyList<ExampleInfo> Duplicates, IReadOnlyList<Refusal> Refused);
}
