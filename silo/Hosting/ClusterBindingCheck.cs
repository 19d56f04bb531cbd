using OrleansTickets.Storage;

namespace OrleansTickets.Silo.Hosting;

/// <summary>
/// Refuses to start a cluster silo whose storage, service id or signing key differ from those the cluster's first silo
/// recorded (<see cref="ClusterBinding"/>). Runs after the membership schema exists and before the rehearsal.
/// </summary>
internal sealed class ClusterBindingCheck(string membershipConnectionString, ClusterBinding.Deployment deployment) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken) =>
        ClusterBinding.CheckAsync(membershipConnectionString, deployment, cancellationToken);

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
