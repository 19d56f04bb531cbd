using OrleansTickets.Orders;
using OrleansTickets.Tests.Infrastructure;

namespace OrleansTickets.Tests.Grains;

/// <summary>
/// An order that no single shard can take is first pulled together as the dispatcher's view plans it, without asking
/// every shard for its count. With many small shards every order is such an order, and a refresh of all of them before
/// each pull cost far more than the pull.
/// </summary>
public sealed class ViewPullTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData(null)]
    [InlineData("view-pull-key")]
    public async Task An_order_larger_than_any_shard_pulls_from_the_view_once_a_refresh_has_filled_it(string? key)
    {
        await using var cluster = await TicketingCluster.StartAsync(TestStorage.Sqlite(), output: output);
        // Four shards of two tickets: a type of four shards or fewer does not gather its shards' last tickets on a few
        // (InventoryShardGrain.Gathering.cs), which could otherwise make room for an order of 4 without a pull.
        await cluster.CreateEventAsync("view-pull", TicketingCluster.Type("ga", capacity: 8, shards: 4, maxPerOrder: 4));

        // A new dispatcher's view holds the blocks the shards started with, which may be long gone: it asks every shard
        // before its first pull.
        Assert.Equal(1, await PulledAsync(cluster, key is null ? null : key + "-first"));
        // Then it plans the next pull from what it heard, without asking them again.
        Assert.Equal(0, await PulledAsync(cluster, key));

        var sales = (await cluster.SalesAsync("view-pull")).TicketTypes[0];
        Assert.Equal((8L, 0L), (sales.Sold, sales.Remaining));
    }

    /// <summary>Buys 4 tickets, which no shard holds alone; answers how many refreshes the purchase took.</summary>
    private static async Task<long> PulledAsync(TicketingCluster cluster, string? key)
    {
        using var refreshes = cluster.CollectMetric<long>("orleanstickets.dispatch.refreshes");
        using var pulls = cluster.CollectMetric<long>("orleanstickets.shards.transfers");

        var result = await cluster.BuyAsync("view-pull", "ga", 4, key: key);

        Assert.Equal(PurchaseStatus.Created, result.Status);
        Assert.Equal(4, result.Order!.Quantity);
        Assert.Contains(pulls.GetMeasurementSnapshot(), m => (string?)m.Tags["reason"] == "pull");
        return refreshes.GetMeasurementSnapshot().Sum(m => m.Value);
    }
}
