using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace Tailor.Studio.Web;

/// <summary>
/// The first middleware of every request, before routing and static files:
/// <list type="bullet">
/// <item>the Host header must name the address the studio is bound to (or localhost) with its port, else 400: a page
/// of another site that rebinds its own DNS name to 127.0.0.1 reaches the studio with its own name as Host
/// (DNS rebinding);</item>
/// <item>a state-changing request (any method but GET, HEAD and OPTIONS) must carry an Origin — or, without one, a
/// Referer — of the studio's own origin, else 403: a page the user happens to visit can send a form or a fetch to
/// 127.0.0.1, but its browser names that page's origin;</item>
/// <item>a body above its cap is refused with 413 before a byte of it is read (<see cref="StudioServer.MaxRequestBytes"/>
/// for multipart uploads, <see cref="StudioServer.MaxImportBytes"/> for an import's zip or project file,
/// <see cref="StudioServer.MaxJsonBytes"/> otherwise; Kestrel enforces the same cap on bodies
/// without a Content-Length while they are read);</item>
/// <item>every response says what the browser may do with it (<see cref="SecurityHeaders"/>).</item>
/// </list>
/// </summary>
internal sealed class Security(HostPolicy hosts)
{
    /// <summary>The Content-Security-Policy of every response: everything from the studio itself, no inline script or
    /// style, no plugins, no framing; images also from blob: and data: URLs (previews of captured or pasted photos),
    /// media from blob: and mediastream: (the webcam).</summary>
    public const string ContentSecurityPolicy =
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; media-src 'self' blob: mediastream:; " +
        "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

    /// <summary>
    /// Headers on every response. Referrer-Policy is <c>same-origin</c>, not <c>no-referrer</c>: with no-referrer a
    /// browser sends <c>Origin: null</c> on the page's own POST, PATCH and DELETE requests (Fetch standard, "append a
    /// request Origin header"), which the Origin check would refuse; same-origin keeps the studio's URLs from other
    /// sites all the same.
    /// </summary>
    public static readonly IReadOnlyList<KeyValuePair<string, string>> SecurityHeaders =
    [
        new("X-Content-Type-Options", "nosniff"),
        new("Content-Security-Policy", ContentSecurityPolicy),
        new("Referrer-Policy", "same-origin"),
        new("X-Frame-Options", "DENY"),
        new("Cross-Origin-Opener-Policy", "same-origin"),
        new("Cross-Origin-Resource-Policy", "same-origin"),
        new("Permissions-Policy", "camera=(self), microphone=(), geolocation=(), payment=(), usb=()"),
    ];

    public async Task InvokeAsync(HttpContext context, RequestDelegate next)
    {
        var response = context.Response;
        foreach (var (name, value) in SecurityHeaders) response.Headers[name] = value;
        var request = context.Request;
        if (!hosts.Allows(request.Host))
        {
            await Errors.WriteAsync(context, StatusCodes.Status400BadRequest,
                $"the Host header '{Shown(request.Host.Value)}' is not this studio's address; open {hosts.Origin}/ instead " +
                "(requests that name another host are refused: DNS rebinding)");
            return;
        }
        if (!IsSafe(request.Method))
        {
            string expected = "http://" + request.Host.Value;
            if (!IsSameOrigin(request, expected))
            {
                await Errors.WriteAsync(context, StatusCodes.Status403Forbidden,
                    $"a {request.Method} request must come from the studio's own page (Origin {expected}); this one names " +
                    (request.Headers.Origin is { Count: > 0 } o ? $"Origin '{Shown(o.ToString())}'" : "no Origin or Referer"));
                return;
            }
        }
        long cap = request.HasFormContentType
                ? (request.Path.Value?.EndsWith("/import", StringComparison.Ordinal) == true ? StudioServer.MaxImportBytes : StudioServer.MaxRequestBytes)
            : Api.IsImageBodyPath(request.Path) ? Workspace.MaxUploadBytes   // one image as the raw body (predict)
            : StudioServer.MaxJsonBytes;
        if (request.ContentLength > cap)
        {
            // Refused before reading: the connection closes instead of draining the body.
            response.Headers.Connection = "close";
            await Errors.WriteAsync(context, StatusCodes.Status413PayloadTooLarge, string.Create(System.Globalization.CultureInfo.InvariantCulture,
                $"the request body is {request.ContentLength:N0} bytes; the studio takes up to {cap:N0} bytes in one request{(request.HasFormContentType ? " (send the files in several requests)" : "")}"));
            return;
        }
        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit) limit.MaxRequestBodySize = cap;
        if (request.Path.StartsWithSegments("/api")) response.Headers.CacheControl = "no-store";
        await next(context);
    }

    private static bool IsSafe(string method) => HttpMethods.IsGet(method) || HttpMethods.IsHead(method) || HttpMethods.IsOptions(method);

    private static bool IsSameOrigin(HttpRequest request, string expected)
    {
        if (request.Headers.Origin is { Count: > 0 } origin)
            return origin.Count == 1 && string.Equals(origin.ToString(), expected, StringComparison.OrdinalIgnoreCase);
        return request.Headers.Referer is { Count: 1 } referer
               && Uri.TryCreate(referer.ToString(), UriKind.Absolute, out var uri)
               && string.Equals(uri.GetLeftPart(UriPartial.Authority), expected, StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>A header value as an error message quotes it: at most 100 characters, control characters dropped.</summary>
    private static string Shown(string? value)
    {
        var text = new string((value ?? "").Where(c => !char.IsControl(c)).Take(100).ToArray());
        return text.Length < (value ?? "").Length ? text + "…" : text;
    }
}

/// <summary>The Host names a studio bound to an address answers to.</summary>
internal sealed class HostPolicy
{
    private readonly IPAddress _address;
    private readonly int _port;
    private readonly HashSet<string> _names = new(StringComparer.OrdinalIgnoreCase) { "localhost" };

    /// <param name="address">The bound address. Bound to every interface (0.0.0.0 or ::), the studio answers to any IP
    /// address of this machine written as one (an IP literal cannot be rebound by DNS), to localhost and to the
    /// machine's name; bound to one address, to that address and localhost.</param>
    /// <param name="port">The bound port.</param>
    public HostPolicy(IPAddress address, int port)
    {
        _address = address;
        _port = port;
        _names.Add(Literal(address));
        if (IsWildcard) _names.Add(Dns.GetHostName());
    }

    private bool IsWildcard => _address.Equals(IPAddress.Any) || _address.Equals(IPAddress.IPv6Any);

    /// <summary>The studio's origin as its URL names it: http://ADDRESS:PORT (http://127.0.0.1:PORT when bound to every
    /// interface).</summary>
    public string Origin => $"http://{(IsWildcard ? "127.0.0.1" : Literal(_address))}:{_port}";

    public bool Allows(HostString host)
    {
        if (!host.HasValue) return false;
        if ((host.Port ?? 80) != _port) return false;
        string name = host.Host;
        if (_names.Contains(name)) return true;
        return IsWildcard && IPAddress.TryParse(name.Trim('[', ']'), out _) && !name.Contains('%');
    }

    /// <summary>An address as a URL writes it: 127.0.0.1, [::1].</summary>
    public static string Literal(IPAddress address) =>
        address.AddressFamily == AddressFamily.InterNetworkV6 ? $"[{address}]" : address.ToString();
}
