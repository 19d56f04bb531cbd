namespace OrleansTickets.Api.Hosting;

/// <summary>
/// Whether a front end holds an open connection to a gateway silo, as its Orleans client reports it. Readiness asks
/// (<see cref="Health.HealthApi"/>): a front end cut off from every gateway would otherwise tell its load balancer
/// it is ready, and answer every buyer sent to it 503, keyless ones "outcome unknown" though nothing was sent.
/// </summary>
/// <remarks>
/// The client opens connections on demand (a call to a gateway it knows but is not connected to opens one) and never
/// on its own. So no connection now does not mean none can be made: readiness then tries one call before it answers.
/// Counted by the changes each notice carries, not by the count it names: notices from two connections that open or
/// close at the same moment can arrive in either order, and the last count named need not be the last made.
/// </remarks>
public sealed class ClusterConnection : IClusterConnectionStatusObserver
{
    private int _gateways;

    /// <summary>Whether at least one gateway connection is open.</summary>
    public bool IsConnected => Volatile.Read(ref _gateways) > 0;

    /// <inheritdoc />
    public void NotifyGatewayCountChanged(int currentNumberOfGateways, int previousNumberOfGateways, bool connectionRecovered) =>
        Interlocked.Add(ref _gateways, currentNumberOfGateways - previousNumberOfGateways);

    /// <inheritdoc />
    public void NotifyClusterConnectionLost()
    {
        // The count's own notice (to 0) comes with this one.
    }
}
