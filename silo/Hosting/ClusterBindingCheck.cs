using OrleansTickets.Hosting;
using OrleansTickets.Storage;

namespace OrleansTickets.Silo.Hosting;

/// <summary>
/// Refuses to start a cluster silo whose storage, service id or signing key differ from those the cluster's first silo
/// recorded, and a silo (of another cluster, or in Localhost mode) while a cluster recorded on its catalog runs
/// (<see cref="ClusterBinding"/>). Runs before the rehearsal and again after it; for a cluster silo, after the membership
/// schema exists. A difference fails the start at once; only a database that cannot be reached is waited for.
/// </summary>
internal sealed class ClusterBindingCheck(Func<ILogger, CancellationToken, Task> check, ILogger<ClusterBindingCheck> logger) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken) =>
        DatabaseStartRetry.RunAsync("cluster binding", token => check(logger, token), logger, cancellationToken);

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
