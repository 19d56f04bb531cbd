namespace OrleansTickets.Silo.Hosting;

/// <summary>
/// Warns as a cluster's silo starts when it gives its peers 127.0.0.1 (no <c>Cluster:Address</c>) while its membership
/// database is on another machine (<c>ClusterHostOptions.RemoteMembershipHostWhileLoopback</c>).
/// </summary>
internal sealed partial class LoopbackAddressWarning(string membershipHost, ILogger<LoopbackAddressWarning> logger) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        LogLoopback(logger, membershipHost);
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(Level = LogLevel.Warning, Message = "Cluster:Address is not set, so this silo tells the cluster it is at 127.0.0.1, while its membership database is on {MembershipHost}. Silos on other machines cannot reach it, and one on another machine that also says 127.0.0.1 with the same port would be taken for a restart of this one. Set Cluster:Address to this machine's address.")]
    private static partial void LogLoopback(ILogger logger, string membershipHost);
}
