using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Tailor.Studio.Runs;

namespace Tailor.Studio.Web;

internal static partial class Api
{
    /// <summary>GET /api/projects/{p}/guidance: the project's hints (<see cref="Workspace.Guidance"/>), each with the screen
    /// it is shown on.</summary>
    static partial void MapGuidance(IEndpointRouteBuilder routes, Workspace ws, RunManager runs, CancellationToken stopping)
    {
        routes.MapGet("/api/projects/{p:long}/guidance", (long p) => Results.Json(ws.Guidance(p), StudioJson.Options));
    }
}
