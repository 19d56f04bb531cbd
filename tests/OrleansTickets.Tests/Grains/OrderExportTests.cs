using OrleansTickets.Export;
using OrleansTickets.Orders;
using OrleansTickets.Tests.Infrastructure;

namespace OrleansTickets.Tests.Grains;

/// <summary>
/// The back office reads an event's orders after the sale, page by page: every acknowledged order exactly once, as it
/// was acknowledged, and nothing of another event that shares the databases.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class OrderExportTests(PostgresFixture postgres, ITestOutputHelper output) : EngineClusterTests(postgres, output)
{
    [Theory, MemberData(nameof(Engines.All), MemberType = typeof(Engines))]
    public async Task Walking_the_pages_gives_every_acknowledged_order_once_as_it_was_acknowledged(string engine)
    {
        await StartAsync(engine);
        // Seven shards over the four test databases, and a second event whose shards share them.
        await Cluster.CreateEventAsync("fest", TicketingCluster.Type("ga", capacity: 40, shards: 5, maxPerOrder: 4),
            TicketingCluster.Type("vip", capacity: 12, shards: 2, maxPerOrder: 4));
        await Cluster.CreateEventAsync("other", TicketingCluster.Type("ga", capacity: 10, shards: 2));
        var acknowledged = new List<OrderDetails>();
        acknowledged.AddRange(await SellOutAsync("fest", "ga", 40));
        acknowledged.AddRange(await SellOutAsync("fest", "vip", 12));
        await SellOutAsync("other", "ga", 10);

        var exporter = Cluster.Client.GetGrain<IOrderExportGrain>("fest");
        var exported = new List<OrderDetails>();
        ExportCursor? cursor = null;
        var pages = 0;
        while (true)
        {
            var page = await exporter.ReadPage(cursor, limit: 7);
            Assert.NotNull(page);
            Assert.True(page.Orders.Length <= 7);
            exported.AddRange(page.Orders);
            pages++;
            if (page.Next is null) break;
            Assert.Equal(7, page.Orders.Length);
            // A page asked for again (a client that lost the answer) is the same page.
            Assert.Equal(page.Orders.Select(o => o.OrderId), (await exporter.ReadPage(cursor, limit: 7))!.Orders.Select(o => o.OrderId));
            cursor = page.Next;
        }

        Assert.True(pages >= acknowledged.Count / 7, $"{exported.Count} orders in only {pages} pages.");
        Assert.Equal(acknowledged.Count, exported.Count);
        var byId = exported.ToDictionary(o => o.OrderId);
        foreach (var order in acknowledged)
        {
            var found = byId[order.OrderId];
            Assert.Equal(order with { Tickets = [] }, found with { Tickets = [] });
            Assert.Equal(order.Tickets.Select(t => (t.Serial, t.Code)), found.Tickets.Select(t => (t.Serial, t.Code)));
        }
        Assert.Equal(52, exported.Sum(o => o.Tickets.Length));
        Assert.Null(await Cluster.Client.GetGrain<IOrderExportGrain>("no-such-event").ReadPage(null, limit: 7));
    }

    private async Task<List<OrderDetails>> SellOutAsync(string eventId, string typeId, int capacity)
    {
        var orders = new List<OrderDetails>();
        var tickets = 0;
        for (var i = 0; tickets < capacity; i++)
        {
            var quantity = Math.Min(1 + i % 4, capacity - tickets);
            var key = i % 3 == 0 ? $"{eventId}-{typeId}-{i}" : null;
            var result = await Cluster.BuyAsync(eventId, typeId, quantity, key, buyer: $"Buyer{i}");
            // Nothing sold yet (tickets still moving between shards on a loaded machine): the same request again.
            for (var retry = 0; result.Status == PurchaseStatus.Unavailable && retry < 20; retry++)
            {
                result = await Cluster.BuyAsync(eventId, typeId, quantity, key, buyer: $"Buyer{i}");
            }
            Assert.Equal(PurchaseStatus.Created, result.Status);
            orders.Add(result.Order!);
            tickets += quantity;
        }
        return orders;
    }
}
