using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Net.Http.Headers;
using Tailor.Studio.Runs;

namespace Tailor.Studio.Web;

internal static partial class Api
{
    /// <summary>
    /// <c>POST /api/projects/{p}/predict</c>: one image — the raw request body (any image Content-Type, or
    /// application/octet-stream) or the first file of a multipart/form-data body — predicted by the project's current
    /// model → <c>{ versionId, top: [{ label, probability }], ms }</c> (every label, most probable first). The image is
    /// checked as uploads are (at most <see cref="Workspace.MaxUploadBytes"/>: 413; not an image by its content: 415;
    /// empty, damaged or too many pixels: 400) and never stored. A project whose model was trained on none of its labels
    /// answers 409 saying so.
    /// </summary>
    /// <remarks><c>GET /api/projects/{p}/predict</c> → <c>{ versionId, trainedLabels, message, ready }</c>: whether it can
    /// answer now (the page asks before it starts the camera, so an untrained model is said, not refused frame after frame).</remarks>
    static partial void MapLive(IEndpointRouteBuilder routes, Workspace ws, RunManager runs, CancellationToken stopping)
    {
        routes.MapPost("/api/projects/{p:long}/predict", (HttpContext c, long p) => Predict(c, ws, p));
        routes.MapGet("/api/projects/{p:long}/predict", (long p, CancellationToken cancellationToken) =>
            Task.Run(() => ws.PredictReadiness(p), cancellationToken));
    }

    /// <summary>Requests whose raw body is one image, capped at <see cref="Workspace.MaxUploadBytes"/> rather than the JSON
    /// cap (<see cref="Security"/>).</summary>
    internal static bool IsImageBodyPath(PathString path) =>
        path.Value is { } value && System.Text.RegularExpressions.Regex.IsMatch(value, @"^/api/projects/\d+/predict/?$");

    private static async Task<IResult> Predict(HttpContext c, Workspace ws, long p)
    {
        ws.GetProject(p);
        var (image, name) = await ReadOneImage(c);
        string shown = name is { Length: > 0 } ? $"'{Shown.Label(name)}'" : "The request body";
        if (image.Length > Workspace.MaxUploadBytes)
            throw new HttpError(StatusCodes.Status413PayloadTooLarge,
                $"{shown} is larger than {Workspace.MaxUploadBytes / (1 << 20)} MiB, the most one image may be (Workspace.MaxUploadBytes).");
        if (image.Length == 0)
            throw HttpError.BadRequest($"{shown} is empty: send one image (JPEG, PNG, GIF, BMP or WebP) as the request body, or as a multipart/form-data file.");
        if (ImageStore.Sniff(image.AsSpan(0, Math.Min(image.Length, 32))) is null)
            throw new HttpError(StatusCodes.Status415UnsupportedMediaType,
                $"{shown} is not an image Tailor reads ({Images.ImageLoader.SupportedFormats}): its content is none of these formats, whatever its type or name says.");
        return Results.Json(await Task.Run(() => ws.Predict(p, image, name, c.RequestAborted), c.RequestAborted), StudioJson.Options);
    }

    /// <summary>The image of a predict request and its file name (multipart only), read up to one byte past the cap.</summary>
    private static async Task<(byte[] Image, string? Name)> ReadOneImage(HttpContext c)
    {
        var limit = Workspace.MaxUploadBytes + 1;
        if (MediaTypeHeaderValue.TryParse(c.Request.ContentType, out var type))
        {
            if (type.MediaType.Equals("multipart/form-data", StringComparison.OrdinalIgnoreCase))
            {
                var reader = Multipart(c);
                while (await reader.ReadNextSectionAsync(c.RequestAborted) is { } section)
                {
                    if (!ContentDispositionHeaderValue.TryParse(section.ContentDisposition, out var disposition) || !disposition.IsFileDisposition()) continue;
                    string? name = (disposition.FileNameStar.HasValue ? disposition.FileNameStar.Value : disposition.FileName.Value)?.Trim('"');
                    return (await ReadCapped(section.Body, limit, c.RequestAborted), name is { Length: > 0 } ? name : null);
                }
                throw HttpError.BadRequest("The form holds no file: send the image as a multipart/form-data file part, or as the raw request body.");
            }
            if (type.MediaType.Value is { } media && (media.EndsWith("/json", StringComparison.OrdinalIgnoreCase)
                || media.StartsWith("text/", StringComparison.OrdinalIgnoreCase) || media.Equals("application/x-www-form-urlencoded", StringComparison.OrdinalIgnoreCase)))
                throw new HttpError(StatusCodes.Status415UnsupportedMediaType,
                    $"Content-Type {media} is not an image: send the image's bytes as the request body (image/jpeg, image/png… or application/octet-stream), or as a multipart/form-data file.");
        }
        return (await ReadCapped(c.Request.Body, limit, c.RequestAborted), null);
    }

    private static async Task<byte[]> ReadCapped(Stream body, long limit, CancellationToken cancellationToken)
    {
        using var buffer = new MemoryStream();
        await new CappedStream(body, limit).CopyToAsync(buffer, cancellationToken);
        return buffer.ToArray();
    }
}
