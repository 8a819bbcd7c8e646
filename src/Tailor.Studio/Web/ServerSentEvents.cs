using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace Tailor.Studio.Web;

/// <summary>
/// Writes a sequence of events as a <c>text/event-stream</c> response: each as <c>event: KIND</c> and <c>data: JSON</c>
/// (one line: the serializer writes no line breaks), flushed at once, with a comment line every heartbeat interval so an
/// idle stream stays open. Ends when the client goes, when the server stops, or when the sequence ends; the sequence
/// itself (a run) goes on.
/// </summary>
internal static class ServerSentEvents
{
    public static async Task WriteAsync<T>(HttpContext context, IAsyncEnumerable<T> events, Func<T, string> kind, TimeSpan heartbeat,
        CancellationToken stopping)
    {
        var response = context.Response;
        response.ContentType = "text/event-stream; charset=utf-8";
        response.Headers.CacheControl = "no-store";
        response.Headers["X-Accel-Buffering"] = "no";
        context.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
        using var ending = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, stopping);
        var token = ending.Token;
        using var gate = new SemaphoreSlim(1, 1);
        async Task Send(string text)
        {
            await gate.WaitAsync(token);
            try
            {
                await response.WriteAsync(text, token);
                await response.Body.FlushAsync(token);
            }
            finally
            {
                gate.Release();
            }
        }

        Task beats = Task.CompletedTask;
        try
        {
            await response.StartAsync(token);
            await Send(": tailor studio events\n\n");
            beats = Heartbeats();
            await foreach (var item in events.WithCancellation(token))
            {
                if (item is null) continue;
                string data = JsonSerializer.Serialize(item, item.GetType(), StudioJson.Events);
                await Send($"event: {kind(item)}\ndata: {data}\n\n");
            }
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            // The client went away or the server is stopping.
        }
        catch (IOException) when (context.RequestAborted.IsCancellationRequested)
        {
        }
        finally
        {
            await ending.CancelAsync();
            await beats;
        }

        async Task Heartbeats()
        {
            using var timer = new PeriodicTimer(heartbeat);
            try
            {
                while (await timer.WaitForNextTickAsync(token)) await Send(": heartbeat\n\n");
            }
            catch (OperationCanceledException)
            {
            }
            catch (IOException)
            {
            }
        }
    }
}
