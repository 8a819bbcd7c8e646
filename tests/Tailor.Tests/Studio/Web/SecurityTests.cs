using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Tailor.Studio.Web;

namespace Tailor.Tests.Studio.Web;

/// <summary>
/// The studio's HTTP security, on a real server on 127.0.0.1 (port 0) with test routes: a counter that only a
/// state-changing request moves, and a route that reads its whole body. Every refusal is measured by its status,
/// its JSON error and by the counter not moving.
/// </summary>
public sealed class SecurityTests : IAsyncLifetime
{
    private StudioServer _server = null!;
    private int _count;
    private readonly HttpClient _http = new();

    public async Task InitializeAsync()
    {
        _server = await StudioServer.StartAsync(new StudioServerOptions { Port = 0 }, (routes, _) =>
        {
            routes.MapGet("/api/test/count", () => Results.Json(new { count = _count }));
            routes.MapPost("/api/test/count", () => Results.Json(new { count = Interlocked.Increment(ref _count) }));
            routes.MapPost("/api/test/read", async (HttpContext c) =>
            {
                long n = 0;
                var buffer = new byte[1 << 16];
                int read;
                while ((read = await c.Request.Body.ReadAsync(buffer)) > 0) n += read;
                return Results.Json(new { bytes = n });
            });
            routes.MapGet("/api/test/crash", string () => throw new InvalidOperationException("secret detail at C:\\x"));
            routes.MapGet("/api/test/bad", string () => throw new TailorException("Label 'x' is not allowed; give a label."));
        }, CancellationToken.None);
        _http.BaseAddress = _server.Url;
    }

    public async Task DisposeAsync()
    {
        _http.Dispose();
        await _server.DisposeAsync();
    }

    private string Origin => _server.Url.GetLeftPart(UriPartial.Authority);

    private HttpRequestMessage Post(string path, string? origin = null, string? referer = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = JsonContent.Create(new { }) };
        if (origin is not null) request.Headers.Add("Origin", origin);
        if (referer is not null) request.Headers.Add("Referer", referer);
        return request;
    }

    private static async Task<string> Error(HttpResponseMessage response)
    {
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return json.RootElement.GetProperty("error").GetString()!;
    }

    [Fact]
    public void Server_ListensOnLoopback_ByDefault_OnThePortItPicked()
    {
        Assert.Equal(IPAddress.Loopback, _server.Address);
        Assert.NotEqual(0, _server.Port);
        Assert.Equal($"http://127.0.0.1:{_server.Port}/", _server.Url.ToString());
    }

    [Theory]
    [InlineData("evil.example")]          // DNS rebinding: the attacker's name, resolved to 127.0.0.1
    [InlineData("evil.example:{port}")]
    [InlineData("127.0.0.1:1")]           // another port
    [InlineData("127.0.0.1")]             // no port: 80
    [InlineData("localhost.evil.example:{port}")]
    public async Task Host_OfAnotherName_Is400(string host)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, "/api/test/count");
        request.Headers.Host = host.Replace("{port}", _server.Port.ToString(System.Globalization.CultureInfo.InvariantCulture));
        using var response = await _http.SendAsync(request);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("DNS rebinding", await Error(response));
    }

    [Theory]
    [InlineData("127.0.0.1")]
    [InlineData("localhost")]
    [InlineData("LOCALHOST")]
    public async Task Host_OfTheBoundAddressOrLocalhost_WithThePort_IsServed(string name)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, "/api/test/count");
        request.Headers.Host = $"{name}:{_server.Port}";
        using var response = await _http.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task Post_WithoutOrigin_Is403_AndChangesNothing()
    {
        using var response = await _http.SendAsync(Post("/api/test/count"));
        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Contains("no Origin or Referer", await Error(response));
        Assert.Equal(0, _count);
    }

    [Theory]
    [InlineData("http://evil.example")]
    [InlineData("null")]
    [InlineData("http://127.0.0.1:1")]
    [InlineData("https://127.0.0.1:{port}")]
    public async Task Post_FromAForeignOrigin_Is403_AndChangesNothing(string origin)
    {
        using var response = await _http.SendAsync(Post("/api/test/count", origin.Replace("{port}", _server.Port.ToString(System.Globalization.CultureInfo.InvariantCulture))));
        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Contains("must come from the studio's own page", await Error(response));
        Assert.Equal(0, _count);
    }

    [Fact]
    public async Task Post_WithAForeignReferer_AndNoOrigin_Is403()
    {
        using var response = await _http.SendAsync(Post("/api/test/count", referer: "http://evil.example/page"));
        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Equal(0, _count);
    }

    [Fact]
    public async Task Post_FromTheStudiosOwnOrigin_Works_AndSoDoesItsReferer()
    {
        using var byOrigin = await _http.SendAsync(Post("/api/test/count", Origin));
        Assert.Equal(HttpStatusCode.OK, byOrigin.StatusCode);
        using var byReferer = await _http.SendAsync(Post("/api/test/count", referer: Origin + "/index.html?project=1"));
        Assert.Equal(HttpStatusCode.OK, byReferer.StatusCode);
        Assert.Equal(2, _count);
    }

    [Fact]
    public async Task DeleteAndPatch_NeedTheOrigin_Too()
    {
        foreach (var method in new[] { HttpMethod.Delete, HttpMethod.Patch, HttpMethod.Put })
        {
            using var response = await _http.SendAsync(new HttpRequestMessage(method, "/api/test/count"));
            Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        }
    }

    [Fact]
    public async Task Upload_OverThePerRequestCap_Is413_BeforeTheBodyIsSent()
    {
        // A raw request that announces one byte more than the cap and sends 64 KiB of it: the answer comes at once,
        // so the server read none of the rest (it would wait for it otherwise).
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, _server.Port);
        var stream = tcp.GetStream();
        string head = $"POST /api/test/read HTTP/1.1\r\nHost: 127.0.0.1:{_server.Port}\r\nOrigin: {Origin}\r\n" +
                      $"Content-Type: multipart/form-data; boundary=b\r\nContent-Length: {StudioServer.MaxRequestBytes + 1}\r\n\r\n";
        await stream.WriteAsync(Encoding.ASCII.GetBytes(head));
        await stream.WriteAsync(new byte[64 << 10]);
        string response = await ReadResponse(stream);
        Assert.StartsWith("HTTP/1.1 413", response);
        Assert.Contains("\"error\":", response);
        Assert.Contains("send the files in several requests", response);
    }

    [Fact]
    public async Task ChunkedBody_OverTheCap_Is413_WhileItIsRead()
    {
        // No Content-Length: Kestrel counts while the handler reads, and stops at the cap.
        var content = new StreamContent(new MemoryStream(new byte[StudioServer.MaxJsonBytes + 4096]));
        content.Headers.ContentType = new("application/octet-stream");
        var request = new HttpRequestMessage(HttpMethod.Post, "/api/test/read") { Content = content };
        request.Headers.TransferEncodingChunked = true;
        request.Headers.Add("Origin", Origin);
        using var response = await _http.SendAsync(request);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Contains("larger than the studio takes", await Error(response));
    }

    [Fact]
    public async Task UnknownRoute_Is404Json_WithTheSecurityHeaders()
    {
        using var response = await _http.GetAsync("/api/nothing/here");
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Contains("/api/nothing/here", await Error(response));
        Assert.Equal("nosniff", response.Headers.GetValues("X-Content-Type-Options").Single());
        string csp = response.Headers.GetValues("Content-Security-Policy").Single();
        Assert.Contains("default-src 'self'", csp);
        Assert.Contains("script-src 'self';", csp);
        Assert.DoesNotContain("unsafe-inline", csp);
        Assert.DoesNotContain("unsafe-eval", csp);
        Assert.Contains("frame-ancestors 'none'", csp);
        Assert.Equal("same-origin", response.Headers.GetValues("Referrer-Policy").Single());
        Assert.False(response.Headers.Contains("Server"));
    }

    [Fact]
    public async Task WrongMethod_IsAJsonError()
    {
        using var response = await _http.SendAsync(Post("/api/test/crash", Origin));
        Assert.Equal(HttpStatusCode.MethodNotAllowed, response.StatusCode);
        Assert.Contains("not allowed", await Error(response));
    }

    [Fact]
    public async Task Crash_Is500_WithoutAStackTrace_OrTheExceptionsMessage()
    {
        using var response = await _http.GetAsync("/api/test/crash");
        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        string error = await Error(response);
        Assert.Contains("internal error (InvalidOperationException)", error);
        Assert.DoesNotContain("secret", error);
        Assert.DoesNotContain(" at ", error);
    }

    [Fact]
    public async Task LibraryError_Is400_WithTheLibrarysMessage()
    {
        using var response = await _http.GetAsync("/api/test/bad");
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("Label 'x' is not allowed; give a label.", await Error(response));
    }

    [Fact]
    public async Task Pages_AreServedFromTheAssembly_WithTheSecurityHeaders()
    {
        using var response = await _http.GetAsync("/");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains("Content-Security-Policy", response.Headers.Select(h => h.Key));
    }

    [Fact]
    public async Task TakenPort_FallsBackToAFreeOne_OrFails_WhenAsked()
    {
        await using var second = await StudioServer.StartAsync(new StudioServerOptions { Port = _server.Port }, (_, _) => { }, CancellationToken.None);
        Assert.True(second.FellBack);
        Assert.NotEqual(_server.Port, second.Port);
        var e = await Assert.ThrowsAsync<TailorException>(() =>
            StudioServer.StartAsync(new StudioServerOptions { Port = _server.Port, FallBackToFreePort = false }, (_, _) => { }, CancellationToken.None));
        Assert.Contains($"Port {_server.Port} on 127.0.0.1 is in use", e.Message);
    }

    /// <summary>Reads one HTTP response whose body has a Content-Length (or until the server closes).</summary>
    private static async Task<string> ReadResponse(NetworkStream stream)
    {
        var text = new StringBuilder();
        var buffer = new byte[4096];
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(1));   // a hang fails the test instead of blocking the run
        while (true)
        {
            int read;
            try
            {
                read = await stream.ReadAsync(buffer, timeout.Token);
            }
            catch (IOException)
            {
                break;   // the server closed the connection after answering
            }
            if (read == 0) break;
            text.Append(Encoding.UTF8.GetString(buffer, 0, read));
            string s = text.ToString();
            int end = s.IndexOf("\r\n\r\n", StringComparison.Ordinal);
            if (end < 0) continue;
            var length = System.Text.RegularExpressions.Regex.Match(s[..end], @"Content-Length: (\d+)", System.Text.RegularExpressions.RegexOptions.IgnoreCase);
            if (length.Success && s.Length - end - 4 >= int.Parse(length.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture)) break;
        }
        return text.ToString();
    }
}
