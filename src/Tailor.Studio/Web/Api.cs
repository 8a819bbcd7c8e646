using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Tailor.Studio.Web;

/// <summary>The HTTP API's routes (see the studio contract); each handler is one library call.</summary>
internal static class Api
{
    public static void Map(IEndpointRouteBuilder routes, CancellationToken stopping)
    {
        routes.MapGet("/api/health", () => Results.Json(new { status = "ok" }));
    }
}
