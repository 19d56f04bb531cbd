using OrleansTickets.Hosting;
using OrleansTickets.Storage;

namespace OrleansTickets.Silo.Hosting;

/// <summary>
/// Refuses to start a cluster silo whose storage, service id or signing key differ from those the cluster's first silo
/// recorded (<see cref="ClusterBinding"/>). Runs after the membership schema exists and before the rehearsal. A
/// difference fails the start at once; only a database that cannot be reached is waited for.
/// </summary>
internal sealed class ClusterBindingCheck(string membershipConnectionString, ClusterBinding.Deployment deployment, ILogger<ClusterBindingCheck> logger)
    : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken) =>
        DatabaseStartRetry.RunAsync("cluster binding", token => ClusterBinding.CheckAsync(membershipConnectionString, deployment, token),
            logger, cancellationToken);

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
