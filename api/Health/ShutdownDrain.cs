using Microsoft.Extensions.Options;

namespace OrleansTickets.Api.Health;

/// <summary>Holds a stop's first step for <see cref="ShutdownDrainOptions.Drain"/>, while the web server still listens.</summary>
/// <remarks>
/// The host calls every service's <see cref="IHostedLifecycleService.StoppingAsync"/> before it stops any of them, and
/// the web server stops listening only in its own stop (the silo leaves the cluster after that). Without this wait the
/// server stopped listening at once on SIGTERM: a balancer that had not yet seen it go was refused connections, and a
/// purchase sent on a keep-alive connection as it closed got a reset, which tells a buyer without an Idempotency-Key
/// nothing. The drain marks the stop begun first (<see cref="IHostApplicationLifetime.ApplicationStopping"/>, which
/// SIGTERM has already fired, but a host stopped by its owner fires only after this step), so readiness and purchases
/// answer 503 and connections close meanwhile.
/// </remarks>
internal sealed class ShutdownDrain(IOptions<ShutdownDrainOptions> options, IHostApplicationLifetime lifetime) : IHostedLifecycleService
{
    // A host stopped twice (its owner's stop, then its disposal) runs this step twice; one drain is enough.
    private int _drained;

    public async Task StoppingAsync(CancellationToken cancellationToken)
    {
        // A host whose start failed, or was stopped before it finished (SIGTERM during the rehearsal), never listened:
        // no balancer has it in rotation, and waiting would only take the time the silo's own stop needs to leave the
        // cluster properly (StoppableRun bounds a failed start's whole stop).
        if (!lifetime.ApplicationStarted.IsCancellationRequested) return;
        if (options.Value.Drain <= TimeSpan.Zero || Interlocked.Exchange(ref _drained, 1) == 1) return;
        lifetime.StopApplication();
        try
        {
            await Task.Delay(options.Value.Drain, cancellationToken);
        }
        catch (OperationCanceledException)
        {
            // The stop's budget ran out: the rest of the stop goes on without the drain. (A second SIGTERM cancels nothing:
            // the host stops with no token of its own.)
        }
    }

    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
