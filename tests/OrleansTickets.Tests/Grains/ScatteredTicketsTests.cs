using Microsoft.Extensions.DependencyInjection;
using OrleansTickets.Orders;
using OrleansTickets.Tests.Infrastructure;

namespace OrleansTickets.Tests.Grains;

/// <summary>
/// Tickets left on drained shards, none holding a whole order: such an order can never sell, and the buyer is told so
/// at once, with the largest order that can.
/// </summary>
public sealed class ScatteredTicketsTests(ITestOutputHelper output)
{
    [Fact]
    public async Task An_order_larger_than_any_drained_shard_holds_is_scattered_and_smaller_orders_sell_the_rest()
    {
        // 3 shards of 3 tickets each, all drained while no other shard could take their tickets: 3 are left on each.
        var (cluster, eventId) = await StartScatteredAsync("scattered", output);
        await using var _ = cluster;

        // Without a key and with one: before, both paused and refreshed to the end of the 5 s patience, then heard
        // "unavailable, try again", which no retry could change.
        var keyless = await cluster.BuyAsync(eventId, "ga", 4);
        var keyed = await cluster.BuyAsync(eventId, "ga", 4, key: "four-at-once");
        Assert.Equal((PurchaseStatus.Scattered, 3L), (keyless.Status, keyless.Remaining));
        Assert.Equal((PurchaseStatus.Scattered, 3L), (keyed.Status, keyed.Remaining));

        // Nothing was sold, and what the answer said may still sell does.
        Assert.Equal(PurchaseStatus.Created, (await cluster.BuyAsync(eventId, "ga", 3, key: "three")).Status);
        Assert.Equal(PurchaseStatus.Created, (await cluster.BuyAsync(eventId, "ga", 2)).Status);
        var later = await cluster.BuyAsync(eventId, "ga", 4);
        Assert.Equal((PurchaseStatus.Scattered, 3L), (later.Status, later.Remaining));
        Assert.Equal(PurchaseStatus.Created, (await cluster.BuyAsync(eventId, "ga", 3)).Status);
        Assert.Equal(PurchaseStatus.Created, (await cluster.BuyAsync(eventId, "ga", 1)).Status);

        // Fewer left than asked for is still "sold out", with the type's own count.
        var soldOut = await cluster.BuyAsync(eventId, "ga", 1);
        Assert.Equal((PurchaseStatus.SoldOut, 0L), (soldOut.Status, soldOut.Remaining));
        Assert.Equal(9L, (await cluster.SalesAsync(eventId)).TicketTypes.Single().Sold);
    }

    [Fact]
    public async Task While_one_shard_is_not_drained_the_order_is_pulled_together_instead()
    {
        var (cluster, eventId) = await StartScatteredAsync("pooled", output, drainLast: false);
        await using var _ = cluster;

        var order = await cluster.BuyAsync(eventId, "ga", 4);

        Assert.Equal(PurchaseStatus.Created, order.Status);
        Assert.Equal(4, order.Order!.Tickets.Length);
    }

    /// <summary>
    /// Starts a cluster with event <paramref name="eventId"/>: type "ga", 9 tickets on 3 shards, at most 4 per order;
    /// each shard drained in turn while no other can take its tickets (<see cref="ScatteringDrains"/>), so each keeps its
    /// 3. Shard 2 is left undrained unless <paramref name="drainLast"/>.
    /// </summary>
    private static async Task<(TicketingCluster Cluster, string EventId)> StartScatteredAsync(
        string eventId, ITestOutputHelper output, bool drainLast = true)
    {
        var drains = new ScatteringDrains();
        var cluster = await TicketingCluster.StartAsync(TestStorage.Sqlite(),
            configureSilo: silo => silo.Services.AddSingleton<IIncomingGrainCallFilter>(drains), output: output);
        try
        {
            await cluster.CreateEventAsync(eventId, TicketingCluster.Type("ga", capacity: 9, shards: 3, maxPerOrder: 4));
            await drains.DrainAsync(eventId, "ga", shards: 3, async index =>
            {
                var drain = await cluster.Shard(eventId, "ga", index).Drain();
                Assert.Equal((0L, 3L), (drain.Moved, drain.Left));
            }, drained: drainLast ? 3 : 2);
            return (cluster, eventId);
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }
}
