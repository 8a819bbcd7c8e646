using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Tailor.Studio.Web;

namespace Tailor.Tests.Studio.Web;

/// <summary>The event stream: each event as <c>event: KIND</c> and one <c>data:</c> line of camelCase JSON, written as
/// it comes; the source is let go when the client goes.</summary>
public sealed class ServerSentEventsTests
{
    private sealed record Sample(string Kind, int EpochNumber, double? Loss);

    [Fact]
    public async Task Events_ArriveAsTheyCome_AndTheSourceEnds_WhenTheClientGoes()
    {
        var channel = Channel.CreateUnbounded<Sample>();
        var released = new TaskCompletionSource();
        async IAsyncEnumerable<Sample> Source([EnumeratorCancellation] CancellationToken ct = default)
        {
            try
            {
                await foreach (var s in channel.Reader.ReadAllAsync(ct)) yield return s;
            }
            finally
            {
                released.TrySetResult();
            }
        }
        await using var server = await StudioServer.StartAsync(new StudioServerOptions { Port = 0 }, (routes, stopping) =>
            routes.MapGet("/api/test/events", (HttpContext c) =>
                ServerSentEvents.WriteAsync(c, Source(), s => s.Kind, StudioServer.HeartbeatInterval, stopping)), CancellationToken.None);
        using var http = new HttpClient { BaseAddress = server.Url };
        using var response = await http.GetAsync("/api/test/events", HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        var reader = new StreamReader(await response.Content.ReadAsStreamAsync());

        // Each event is read before the next is sent: nothing waits for a buffer to fill.
        await channel.Writer.WriteAsync(new Sample("epoch", 1, 0.5));
        Assert.Equal(("epoch", """{"kind":"epoch","epochNumber":1,"loss":0.5}"""), await NextEvent(reader));
        await channel.Writer.WriteAsync(new Sample("finished", 2, double.NaN));
        Assert.Equal(("finished", """{"kind":"finished","epochNumber":2,"loss":"NaN"}"""), await NextEvent(reader));

        reader.Dispose();
        response.Dispose();
        http.Dispose();
        await released.Task.WaitAsync(TimeSpan.FromMinutes(1));   // a hang fails instead of blocking the run
    }

    private static async Task<(string Kind, string Data)> NextEvent(StreamReader reader)
    {
        string? kind = null, data = null;
        while (await reader.ReadLineAsync() is { } line)
        {
            if (line.StartsWith("event: ", StringComparison.Ordinal)) kind = line["event: ".Length..];
            else if (line.StartsWith("data: ", StringComparison.Ordinal)) data = line["data: ".Length..];
            else if (line.Length == 0 && kind is not null) return (kind, data!);
        }
        throw new EndOfStreamException();
    }
}
