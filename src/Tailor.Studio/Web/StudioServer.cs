using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.FileProviders;
using Microsoft.Extensions.Hosting;

namespace Tailor.Studio.Web;

/// <summary>
/// The studio's web server: Kestrel serving the HTTP API (JSON, and the run's events as server-sent events) and the
/// pages embedded in this assembly, behind <see cref="Security"/> from the first line. A thin layer: every handler is
/// one call of the workspace or the run manager.
/// </summary>
public sealed class StudioServer : IAsyncDisposable
{
    /// <summary>The port <see cref="StudioServerOptions.Port"/> takes by default.</summary>
    public const int DefaultPort = 5177;

    /// <summary>The largest request body with multipart content (uploads): 256 MiB; a larger one is refused with 413
    /// before it is read. Each file in it is also held to the workspace's per-file cap.</summary>
    public const long MaxRequestBytes = 256L << 20;

    /// <summary>The largest import (<c>POST …/import</c>: one zip of photos or one project file, streamed to a temporary
    /// file, never held in memory): 8 GiB.</summary>
    public const long MaxImportBytes = 8L << 30;

    /// <summary>The largest request body of any other kind (JSON): 1 MiB.</summary>
    public const long MaxJsonBytes = 1L << 20;

    /// <summary>How often an idle event stream gets a comment, so proxies and browsers keep it open.</summary>
    internal static readonly TimeSpan HeartbeatInterval = TimeSpan.FromSeconds(15);

    private readonly WebApplication _app;
    private readonly CancellationTokenSource _stopping;

    private StudioServer(WebApplication app, CancellationTokenSource stopping, IPAddress address, int port, bool fellBack)
    {
        _app = app;
        _stopping = stopping;
        Address = address;
        Port = port;
        FellBack = fellBack;
        Url = new Uri(new HostPolicy(address, port).Origin + "/");
    }

    /// <summary>The address the server listens on.</summary>
    public IPAddress Address { get; }

    /// <summary>The port the server listens on (the one picked when <see cref="StudioServerOptions.Port"/> was 0 or taken).</summary>
    public int Port { get; }

    /// <summary>True when the requested port was taken and the server listens on a free one instead.</summary>
    public bool FellBack { get; }

    /// <summary>The studio's address, e.g. <c>http://127.0.0.1:5177/</c> (on 127.0.0.1 when listening on every interface).</summary>
    public Uri Url { get; }

    /// <summary>The page of a project: the studio's address with <c>?project=ID</c>.</summary>
    public Uri ProjectUrl(long projectId) => new(Url, $"?project={projectId}");

    /// <summary>Starts serving <paramref name="workspace"/> and <paramref name="runs"/> (the caller keeps both and
    /// disposes them after the server).</summary>
    /// <exception cref="TailorException">The port is taken (and <see cref="StudioServerOptions.FallBackToFreePort"/> is
    /// false), or the address cannot be listened on (not one of this machine's); the message names them.</exception>
    public static Task<StudioServer> StartAsync(Workspace workspace, Runs.RunManager runs, StudioServerOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(workspace);
        ArgumentNullException.ThrowIfNull(runs);
        return StartAsync(options ?? new StudioServerOptions(), (routes, stopping) => Api.Map(routes, workspace, runs, stopping), cancellationToken);
    }

    /// <summary>Starts a server with these endpoints (tests add their own).</summary>
    internal static async Task<StudioServer> StartAsync(StudioServerOptions options, Action<IEndpointRouteBuilder, CancellationToken> map,
        CancellationToken cancellationToken)
    {
        if (options.Port is < 0 or > 65535) throw new TailorException($"Port {options.Port} is not a TCP port; give 0 (a free port) to 65535.");
        var server = await TryStartAsync(options, options.Port, map, cancellationToken);
        if (server is not null) return server;
        if (options.Port == 0 || !options.FallBackToFreePort)
            throw new TailorException($"Port {options.Port} on {HostPolicy.Literal(options.Address)} is in use by another program; give another port, or 0 for a free one.");
        return await TryStartAsync(options, 0, map, cancellationToken) ?? throw new TailorException("No free port to listen on.");
    }

    /// <summary>The server on <paramref name="port"/>, or null when the port is taken.</summary>
    private static async Task<StudioServer?> TryStartAsync(StudioServerOptions options, int port, Action<IEndpointRouteBuilder, CancellationToken> map,
        CancellationToken cancellationToken)
    {
        var stopping = new CancellationTokenSource();
        var hosts = new HostPolicyHolder(options.Address);
        var app = Build();
        try
        {
            await app.StartAsync(cancellationToken);
        }
        catch (Exception e) when (e is Microsoft.AspNetCore.Connections.AddressInUseException || e.InnerException is Microsoft.AspNetCore.Connections.AddressInUseException)
        {
            await app.DisposeAsync();
            stopping.Dispose();
            return null;
        }
        catch (IOException e)
        {
            await app.DisposeAsync();
            stopping.Dispose();
            throw new TailorException($"Cannot listen on {HostPolicy.Literal(options.Address)}:{port}: {e.Message}", e);
        }
        int bound = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses
            .Select(a => new Uri(a).Port).First();
        hosts.Port = bound;
        return new StudioServer(app, stopping, options.Address, bound, fellBack: port != options.Port);

        WebApplication Build()
        {
            var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions
            {
                EnvironmentName = Environments.Production,
                ContentRootPath = AppContext.BaseDirectory,
                ApplicationName = typeof(StudioServer).Assembly.GetName().Name,
            });
            builder.WebHost.UseKestrelCore().ConfigureKestrel(kestrel =>
            {
                kestrel.Listen(options.Address, port);
                kestrel.AddServerHeader = false;
                kestrel.Limits.MaxRequestBodySize = MaxRequestBytes;
                kestrel.Limits.MaxRequestHeadersTotalSize = 64 << 10;
            });
            builder.Services.AddRoutingCore();
            builder.Services.ConfigureHttpJsonOptions(json => StudioJson.Configure(json.SerializerOptions));
            builder.Services.Configure<RouteHandlerOptions>(o => o.ThrowOnBadRequest = true);
            builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(5));
            // Signals are the command's (Interrupts), not the host's.
            builder.Services.AddSingleton<IHostLifetime, NoSignals>();
            var app = builder.Build();
            app.Use(Errors.Handler(options.ErrorLog));
            app.Use((context, next) => new Security(hosts.Policy).InvokeAsync(context, next));
            app.Use(Errors.EmptyStatus);
            var pages = Pages();
            if (pages is not null)
            {
                app.UseDefaultFiles(new DefaultFilesOptions { FileProvider = pages });
                app.UseStaticFiles(new StaticFileOptions { FileProvider = pages });
            }
            app.UseRouting();
            map(app, stopping.Token);
            app.UseEndpoints(_ => { });
            app.Run(Errors.NotFound);
            return app;
        }
    }

    /// <summary>The pages embedded in this assembly (wwwroot, as resources named Tailor.Studio.wwwroot.PATH), or null when
    /// it was built without them.</summary>
    internal static IFileProvider? Pages()
    {
        var assembly = typeof(StudioServer).Assembly;
        return assembly.GetManifestResourceNames().Any(n => n.StartsWith(PagesPrefix + ".", StringComparison.Ordinal))
            ? new EmbeddedFileProvider(assembly, PagesPrefix) : null;
    }

    private const string PagesPrefix = "Tailor.Studio.wwwroot";

    /// <summary>Ends every event stream and stops listening; requests under way get a few seconds to finish.</summary>
    public async Task StopAsync(CancellationToken cancellationToken = default)
    {
        await _stopping.CancelAsync();
        await _app.StopAsync(cancellationToken);
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await StopAsync();
        }
        finally
        {
            await _app.DisposeAsync();
            _stopping.Dispose();
        }
    }

    /// <summary>The host policy, known once the port is (port 0 is picked as the server starts).</summary>
    private sealed class HostPolicyHolder(IPAddress address)
    {
        public HostPolicy Policy { get; private set; } = new(address, -1);   // -1: no request passes before the port is known

        public int Port { set => Policy = new HostPolicy(address, value); }
    }

    private sealed class NoSignals : IHostLifetime
    {
        public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
