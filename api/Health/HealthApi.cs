using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using OrleansTickets.Api.Hosting;
using OrleansTickets.Api.Http;

namespace OrleansTickets.Api.Health;

/// <summary>What a load balancer asks before it sends buyers to this server.</summary>
public static class HealthApi
{
    /// <summary>
    /// While the server stops, its HTTP/1.x answers close their connections, so keep-alive clients come back through
    /// the balancer to another server. HTTP/2 has no such header; Kestrel ends those connections with GOAWAY when it stops.
    /// </summary>
    /// <remarks>
    /// Decided as the answer starts, not as the request arrives, so a request that was in progress when the stop began
    /// closes its connection too; and a callback survives the exception handler, which clears the headers for its 500.
    /// </remarks>
    public static WebApplication UseClosingConnectionsWhileStopping(this WebApplication app)
    {
        // Both delegates are made once, here: a purchase registers the callback with itself as its state, which
        // allocates nothing and looks nothing up, for a stop that rarely comes.
        var stopping = app.Lifetime.ApplicationStopping;
        Func<object, Task> closeIfStopping = state =>
        {
            if (stopping.IsCancellationRequested) ((HttpContext)state).Response.Headers.Connection = "close";
            return Task.CompletedTask;
        };
        app.Use((context, next) =>
        {
            if (!HttpProtocol.IsHttp2(context.Request.Protocol) && !HttpProtocol.IsHttp3(context.Request.Protocol))
            {
                context.Response.OnStarting(closeIfStopping, context);
            }
            return next(context);
        });
        return app;
    }

    public static IEndpointRouteBuilder MapHealthApi(this IEndpointRouteBuilder app)
    {
        app.MapGroup("/health").MapRead("/ready", Ready);
        return app;
    }

    /// <summary>
    /// Ready unless stopping, and, in a separate front end (<paramref name="connection"/>), unless it cannot reach the
    /// cluster: with no gateway connection open, one call to the cluster decides (a call opens a connection to a gateway
    /// the client knows, and makes it look for new ones when all it knows are gone).
    /// </summary>
    public static async Task<Results<Ok<ReadinessResponse>, ProblemHttpResult>> Ready(
        HttpContext context, IHostApplicationLifetime lifetime, IGrainFactory grains, [FromServices] ClusterConnection? connection)
    {
        if (lifetime.ApplicationStopping.IsCancellationRequested) return Problems.Stopping(context, "Send buyers to another server.");
        if (connection is { IsConnected: false })
        {
            try
            {
                await grains.GetGrain<IManagementGrain>(0).GetHosts(onlyActive: true).WaitAsync(ClusterProbeTimeout, context.RequestAborted);
            }
            catch (Exception) when (!context.RequestAborted.IsCancellationRequested)
            {
                return Problems.RetryLater(context, Problems.Unavailable, "This server cannot reach the cluster.", "Send buyers to another server.");
            }
        }
        return TypedResults.Ok(new ReadinessResponse("ready"));
    }

    /// <summary>How long readiness waits for the cluster when no gateway connection is open: less than a balancer's check.</summary>
    private static readonly TimeSpan ClusterProbeTimeout = TimeSpan.FromSeconds(2);
}
