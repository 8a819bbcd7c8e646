using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace Tailor.Studio.Web;

/// <summary>An error a handler answers with a status of its own (404 for a project that does not exist, 409 for a second
/// run, 415 for content that is not an image); its message goes to the client as <c>{ "error": message }</c>.</summary>
internal sealed class HttpError(int status, string message) : Exception(message)
{
    public int Status { get; } = status;

    public static HttpError NotFound(string message) => new(StatusCodes.Status404NotFound, message);

    public static HttpError Conflict(string message) => new(StatusCodes.Status409Conflict, message);

    public static HttpError BadRequest(string message) => new(StatusCodes.Status400BadRequest, message);
}

/// <summary>
/// Every error leaves the studio as <c>{ "error": "…" }</c> with its status, never as a stack trace: <see cref="HttpError"/>
/// with its own status, a <see cref="TailorException"/> (bad input, in the library's words) with 400 — 404 for a
/// <see cref="NotFoundException"/> (no such project, label, example, version or run), 409 for a
/// <see cref="ProjectStateException"/> (not possible yet in the project's state) —, a request
/// Kestrel or the API refuses (a body too large, JSON that does not parse) with its status, and anything else — a bug —
/// with 500, "internal error" and the exception's type, the whole exception going to <see cref="StudioServerOptions.ErrorLog"/>.
/// </summary>
internal static class Errors
{
    public static async Task WriteAsync(HttpContext context, int status, string message)
    {
        var response = context.Response;
        if (response.HasStarted) return;   // an event stream already under way: nothing to say but to end it
        response.StatusCode = status;
        response.ContentType = "application/json; charset=utf-8";
        await JsonSerializer.SerializeAsync(response.Body, new ErrorBody(message), StudioJson.Options, context.RequestAborted);
    }

    public static Func<HttpContext, RequestDelegate, Task> Handler(Action<string>? log) => async (context, next) =>
    {
        try
        {
            await next(context);
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            // The client went away: nobody to answer.
        }
        catch (HttpError e)
        {
            await WriteAsync(context, e.Status, e.Message);
        }
        catch (TailorException e)
        {
            await WriteAsync(context, e switch { NotFoundException => StatusCodes.Status404NotFound, ProjectStateException => StatusCodes.Status409Conflict, _ => StatusCodes.Status400BadRequest }, e.Message);
        }
        catch (BadHttpRequestException e)
        {
            // Kestrel's refusals (413 for a body over the cap) and the API's (400 for a body that does not parse).
            await WriteAsync(context, e.StatusCode, e.StatusCode == StatusCodes.Status413PayloadTooLarge
                ? string.Create(System.Globalization.CultureInfo.InvariantCulture,
                    $"the request body is larger than the studio takes in one request ({context.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpMaxRequestBodySizeFeature>()?.MaxRequestBodySize:N0} bytes)")
                : e.InnerException is JsonException json ? "the request body is not the JSON expected: " + json.Message : e.Message);
        }
        catch (Exception e)
        {
            log?.Invoke($"internal error in {context.Request.Method} {context.Request.Path}: {e}");
            await WriteAsync(context, StatusCodes.Status500InternalServerError, $"internal error ({e.GetType().Name}); this is a bug in Tailor Studio");
        }
    };

    /// <summary>The last handler: nothing answered the request.</summary>
    public static Task NotFound(HttpContext context) =>
        WriteAsync(context, StatusCodes.Status404NotFound, $"nothing here: {context.Request.Method} {context.Request.Path}");

    /// <summary>A status without a body (405 for a known path with another method) gets one.</summary>
    public static async Task EmptyStatus(HttpContext context, RequestDelegate next)
    {
        await next(context);
        var response = context.Response;
        if (response.HasStarted || response.StatusCode < 400 || response.ContentLength > 0) return;
        string message = response.StatusCode switch
        {
            StatusCodes.Status405MethodNotAllowed => $"{context.Request.Method} is not allowed on {context.Request.Path}",
            StatusCodes.Status404NotFound => $"nothing here: {context.Request.Method} {context.Request.Path}",
            StatusCodes.Status415UnsupportedMediaType => "the request's Content-Type is not one this endpoint takes",
            _ => $"the request was refused ({response.StatusCode})",
        };
        await WriteAsync(context, response.StatusCode, message);
    }

    private sealed record ErrorBody(string Error);
}
