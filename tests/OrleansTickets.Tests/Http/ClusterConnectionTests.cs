using OrleansTickets.Api.Hosting;

namespace OrleansTickets.Tests.Http;

/// <summary>A front end's count of open gateway connections, from the notices its Orleans client sends.</summary>
public sealed class ClusterConnectionTests
{
    [Fact]
    public void Notices_that_arrive_out_of_order_still_add_up()
    {
        var connection = new ClusterConnection();
        Assert.False(connection.IsConnected);
        connection.NotifyGatewayCountChanged(1, 0, connectionRecovered: true);
        Assert.True(connection.IsConnected);

        // The one connection closes (1 to 0) and a new one opens (0 to 1) at the same moment, and the notices arrive
        // the other way round. The count the last notice names is 0, with a connection open; the changes add up to 1.
        connection.NotifyGatewayCountChanged(1, 0, connectionRecovered: true);
        connection.NotifyGatewayCountChanged(0, 1, connectionRecovered: false);
        connection.NotifyClusterConnectionLost();
        Assert.True(connection.IsConnected);

        connection.NotifyGatewayCountChanged(0, 1, connectionRecovered: false);
        Assert.False(connection.IsConnected);
    }
}
