using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Tailor.Studio.Runs;

namespace Tailor.Studio.Web;

internal static partial class Api
{
    /// <summary>
    /// <c>GET /api/projects/{p}/versions</c> → every model version, newest first, with its run's settings and accuracy;
    /// <c>GET /api/projects/{p}/history</c> → every run, newest first; <c>POST /api/projects/{p}/compare {a, b}</c> → the
    /// two versions side by side on the test set (<see cref="Workspace.Compare"/>).
    /// </summary>
    static partial void MapVersions(IEndpointRouteBuilder routes, Workspace ws, RunManager runs, CancellationToken stopping)
    {
        routes.MapGet("/api/projects/{p:long}/versions", (long p) => ws.ListVersionDetails(p));
        routes.MapGet("/api/projects/{p:long}/history", (long p) => ws.RunHistory(p));
        routes.MapPost("/api/projects/{p:long}/compare", (long p, CompareBody? body, HttpContext c) =>
        {
            if (body?.A is not long a || body.B is not long b)
                throw HttpError.BadRequest("Give the two versions to compare: { \"a\": 12, \"b\": 15 } (ids from GET /api/projects/{p}/versions).");
            return Task.Run(() => ws.Compare(p, a, b, c.RequestAborted), c.RequestAborted);
        });
    }

    internal sealed record CompareBody(long? A, long? B);
}
