using System.Net;

namespace Tailor.Studio.Web;

/// <summary>Where and how <see cref="StudioServer"/> listens.</summary>
public sealed record StudioServerOptions
{
    /// <summary>The address to listen on. Default: 127.0.0.1, this machine only. Any other address lets every machine
    /// that can reach it use the studio (there is no login); the CLI warns.</summary>
    public IPAddress Address { get; init; } = IPAddress.Loopback;

    /// <summary>The TCP port; 0 picks a free one. Default: <see cref="StudioServer.DefaultPort"/>.</summary>
    public int Port { get; init; } = StudioServer.DefaultPort;

    /// <summary>When <see cref="Port"/> is taken: true listens on a free port instead (<see cref="StudioServer.FellBack"/>
    /// says so), false fails with a <see cref="TailorException"/> naming the port. Default: true.</summary>
    public bool FallBackToFreePort { get; init; } = true;

    /// <summary>Receives a line for each unexpected server error (its exception with stack trace), which clients never
    /// see: they get "internal error" and the exception's type. Default: none.</summary>
    public Action<string>? ErrorLog { get; init; }
}
