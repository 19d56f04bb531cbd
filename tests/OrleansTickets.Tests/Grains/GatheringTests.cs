using OrleansTickets.Events;
using OrleansTickets.Inventory;
using OrleansTickets.Orders;
using OrleansTickets.Tests.Infrastructure;

namespace OrleansTickets.Tests.Grains;

/// <summary>
/// A shard left with fewer tickets than one order may take gives them to its type's collector, so the end of a sale
/// finds them together; nothing is lost or sold twice on the way.
/// </summary>
[Collection(PostgresSalesCollection.Name)]
public sealed class GatheringTests(PostgresFixture postgres, ITestOutputHelper output) : EngineClusterTests(postgres, output)
{
    // 20 s for the gift to be delivered: 200 polls, 100 ms apart.
    private const int DeliveryPolls = 200;

    [Theory, InlineData(Engines.Sqlite), PostgresRow]
    public async Task A_shard_left_with_less_than_one_order_gives_it_to_its_collector_which_sells_it(string engine)
    {
        await StartAsync(engine);
        // 8 shards of 10 (two on each of the 4 test databases, so blocks shared by database are still 10 each), at most 4 tickets per order: shards 0-3 collect, shard 5 gives to shard 1.
        await Cluster.CreateEventAsync("gather", TicketingCluster.Type("ga", capacity: 80, shards: 8, maxPerOrder: 4));
        var giver = Cluster.Shard("gather", "ga", 5);
        await Cluster.ActivateShardsAsync("gather", "ga", 1);

        Assert.Equal(PurchaseStatus.Created, (await giver.Purchase(TicketingCluster.KeylessPurchase("gather", "ga", 4))).Status);
        Assert.Equal(6L, await giver.GetSellable());
        var last = await giver.Purchase(TicketingCluster.KeylessPurchase("gather", "ga", 4));

        // Two were left, fewer than one order may take: the answer already counts them as given away.
        Assert.Equal(PurchaseStatus.Created, last.Status);
        Assert.Equal(0L, last.Remaining);
        await Poll.UntilAsync(async () => (await Cluster.Shard("gather", "ga", 1).GetSales()).Capacity == 12, DeliveryPolls,
            failure: "The collector never held the gathered tickets.");
        var collector = await Cluster.Shard("gather", "ga", 1).GetSales();
        Assert.Equal((12L, 0L, 12L, 0L), (collector.Capacity, collector.Sold, collector.Remaining, collector.InTransit));
        await Poll.UntilAsync(async () => (await giver.GetSales()).InTransit == 0, DeliveryPolls,
            failure: "The giver never marked its gift delivered.");
        var given = await giver.GetSales();
        Assert.Equal((8L, 8L, 0L, 0L), (given.Capacity, given.Sold, given.Remaining, given.InTransit));

        // The collector sells the gathered tickets as its own, and the type still adds up.
        var orders = new List<OrderDetails>();
        for (var i = 0; i < 3; i++)
        {
            var sold = await Cluster.Shard("gather", "ga", 1).Purchase(TicketingCluster.KeylessPurchase("gather", "ga", 4));
            Assert.Equal(PurchaseStatus.Created, sold.Status);
            orders.Add(sold.Order!);
        }
        Assert.Equal(PurchaseStatus.SoldOut, (await Cluster.Shard("gather", "ga", 1).Purchase(TicketingCluster.KeylessPurchase("gather", "ga", 1))).Status);
        OrderAssertions.AllSerialsAndCodesUnique(orders);
        var type = (await Cluster.SalesAsync("gather")).TicketTypes[0];
        Assert.Equal((80L, 20L, 60L), (type.Capacity, type.Sold, type.Remaining));
    }

    [PostgresFact]
    public async Task A_gathering_whose_commit_failed_gathers_after_the_next_sale()
    {
        // As above, shard 5 gives to shard 1, and both live on one database. The collector's answer to "can you take it
        // in" is held until the test has cut that database off, so the gift's commit fails.
        var armed = false;
        var asked = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var answer = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await StartAsync(Engines.Postgres, TicketingCluster.Intercepting(new ShardAddress("gather-again", "ga", 1), nameof(IInventoryShardGrain.GetSales), async call =>
        {
            if (Volatile.Read(ref armed))
            {
                asked.TrySetResult();
                await answer.Task;
            }
            await call.Invoke();
        }));
        await Cluster.CreateEventAsync("gather-again", TicketingCluster.Type("ga", capacity: 80, shards: 8, maxPerOrder: 4));
        var giver = Cluster.Shard("gather-again", "ga", 5);
        var collector = Cluster.Shard("gather-again", "ga", 1);
        Assert.Equal(PurchaseStatus.Created, (await giver.Purchase(TicketingCluster.KeylessPurchase("gather-again", "ga", 4))).Status);
        // Loaded now, so that it answers the question from memory while its database is cut off.
        Assert.Equal(10L, (await collector.GetSales()).Capacity);
        var database = Cluster.PostgresShardDatabase((await Cluster.Client.GetEventGrain("gather-again").GetPlacement("ga", 5))!.DatabaseOrdinal);
        using var transfers = Cluster.CollectMetric<long>("orleanstickets.shards.transfers");
        Volatile.Write(ref armed, true);
        Assert.Equal(0L, (await giver.Purchase(TicketingCluster.KeylessPurchase("gather-again", "ga", 4))).Remaining);
        await asked.Task.WaitAsync(TimeSpan.FromSeconds(20));

        // Within the question's 2 s: an answer later than that is "cannot take it in", and nothing is given at all.
        await Postgres.Server.SetConnectionsAsync(database, allowed: false);
        try
        {
            Volatile.Write(ref armed, false);
            answer.TrySetResult();
            // The gift's commit fails, and its two tickets are the giver's to sell again.
            await Poll.UntilAsync(async () => await giver.GetSales() is { Reserved: 0, InTransit: 0, Sold: 8, Capacity: 10 }, DeliveryPolls,
                failure: "The gift's commit never failed and left its tickets with the giver.");
            Assert.True(transfers.GetMeasurementSnapshot().Any(m => (string?)m.Tags["reason"] == "gather"),
                "The gathering never went on to give (its question timed out?); the test proves nothing.");
        }
        finally
        {
            await Postgres.Server.SetConnectionsAsync(database, allowed: true);
        }

        // The next sale leaves one, and that one is gathered. Before, the failed gathering counted as this activation's
        // one, and the giver kept its last ticket, scattered, for the rest of the sale.
        await Poll.UntilAsync(async () => (await giver.Purchase(TicketingCluster.KeylessPurchase("gather-again", "ga", 1))).Status == PurchaseStatus.Created,
            DeliveryPolls, failure: "The giver never sold again once its database was back.");
        await Poll.UntilAsync(async () => (await collector.GetSales()).Capacity == 11, DeliveryPolls,
            failure: "The giver never gathered what its failed gift left.");
        var given = await giver.GetSales();
        Assert.Equal((9L, 9L, 0L), (given.Capacity, given.Sold, given.Remaining));
        var type = (await Cluster.SalesAsync("gather-again")).TicketTypes[0];
        Assert.Equal((80L, 9L, 71L), (type.Capacity, type.Sold, type.Remaining));
    }

    [Theory, InlineData(Engines.Sqlite), PostgresRow]
    public async Task A_collector_keeps_its_own_last_tickets(string engine)
    {
        await StartAsync(engine);
        await Cluster.CreateEventAsync("keeps", TicketingCluster.Type("ga", capacity: 80, shards: 8, maxPerOrder: 4));
        var collector = Cluster.Shard("keeps", "ga", 2);

        Assert.Equal(PurchaseStatus.Created, (await collector.Purchase(TicketingCluster.KeylessPurchase("keeps", "ga", 4))).Status);
        var last = await collector.Purchase(TicketingCluster.KeylessPurchase("keeps", "ga", 4));

        Assert.Equal(2L, last.Remaining);
        Assert.Equal(2L, await collector.GetSellable());
        Assert.All((await Cluster.SalesAsync("keeps")).TicketTypes[0].Shards, s => Assert.Equal(0L, s.InTransit));
    }

    [Theory, InlineData(Engines.Sqlite), PostgresRow]
    public async Task Keyed_buyers_sell_a_gathering_type_out_exactly(string engine)
    {
        await StartAsync(engine);
        using var transfers = Cluster.CollectMetric<long>("orleanstickets.shards.transfers");
        // 16 shards of 7: a shard past the collectors is left with 1 to 3 at some point unless an order takes exactly
        // what it has each time, so among the twelve of them a gather is all but certain.
        const int capacity = 112;
        await Cluster.CreateEventAsync("exact", TicketingCluster.Type("ga", capacity, shards: 16, maxPerOrder: 4));

        var sale = new BuyerCrowd(Cluster, "exact", "ga", capacity);

        await Task.WhenAll(sale.Start(buyers: 12));

        await sale.VerifyAsync();
        Assert.All((await Cluster.SalesAsync("exact")).TicketTypes[0].Shards, s => Assert.Equal(0L, s.InTransit));
        Assert.Contains(transfers.GetMeasurementSnapshot(), m => m.Tags.TryGetValue("reason", out var reason) && (string?)reason == "gather");
    }
}
