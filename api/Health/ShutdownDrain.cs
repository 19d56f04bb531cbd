using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace OrleansTickets.Api.Health;

/// <summary>Holds a stop's first step for <see cref="ShutdownDrainOptions.Drain"/>, while the web server still listens.</summary>
/// <remarks>
/// The host calls every service's <see cref="IHostedLifecycleService.StoppingAsync"/> before it stops any of them, and
/// the web server stops listening only in its own stop. Without this wait it did so at once on SIGTERM: a balancer
/// that had not yet seen the server go was refused connections, and a purchase sent on a keep-alive connection as it
/// closed got a reset, which tells a buyer without an Idempotency-Key nothing. The stop has already begun when this
/// runs (<see cref="IHostApplicationLifetime.ApplicationStopping"/>), so purchases get 503 and go elsewhere meanwhile.
/// </remarks>
internal sealed class ShutdownDrain(IOptions<ShutdownDrainOptions> options) : IHostedLifecycleService
{
    public async Task StoppingAsync(CancellationToken cancellationToken)
    {
        if (options.Value.Drain <= TimeSpan.Zero) return;
        try
        {
            await Task.Delay(options.Value.Drain, cancellationToken);
        }
        catch (OperationCanceledException)
        {
            // The stop's budget ran out (or a second signal): the rest of the stop goes on without the drain.
        }
    }

    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
