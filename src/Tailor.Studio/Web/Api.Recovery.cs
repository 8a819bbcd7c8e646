using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Tailor.Studio.Runs;

namespace Tailor.Studio.Web;

internal static partial class Api
{
    /// <summary>
    /// <c>GET /api/projects/{p}/run/interrupted</c> → the project's run the studio was stopped during (<see cref="InterruptedRun"/>:
    /// its epochs done, whether it can resume and if not why), or 204; <c>POST /api/projects/{p}/runs/{r}/resume</c> →
    /// the resumed run's <see cref="RunStatus"/> (its events follow on <c>run/events</c> as any run's); 409 while a run goes.
    /// "Run again" is an ordinary <c>POST runs</c> with the interrupted run's request.
    /// </summary>
    static partial void MapRecovery(IEndpointRouteBuilder routes, Workspace ws, RunManager runs, CancellationToken stopping)
    {
        routes.MapGet("/api/projects/{p:long}/run/interrupted", (long p) =>
            runs.Status(p) is { IsActive: true } || ws.InterruptedRun(p) is not { } run ? Results.NoContent() : Results.Json(run, StudioJson.Options));
        routes.MapPost("/api/projects/{p:long}/runs/{r:long}/resume", (long p, long r) =>
        {
            ws.GetProject(p);
            RefuseWhileRunning(runs, p, "resuming another");
            return runs.Resume(p, r);
        });
    }
}
