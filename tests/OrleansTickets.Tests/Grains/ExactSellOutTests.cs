using OrleansTickets.Orders;
using OrleansTickets.Tests.Infrastructure;

namespace OrleansTickets.Tests.Grains;

/// <summary>
/// No stranded ticket: an order is refused as sold out only when fewer tickets than it asks for remain across all
/// shards of the type. Orders larger than any one shard's share are served by pulling tickets between shards.
/// </summary>
[Collection(PostgresSalesCollection.Name)]
public sealed class ExactSellOutTests(PostgresFixture postgres, ITestOutputHelper output) : EngineClusterTests(postgres, output)
{
    [Theory, InlineData(Engines.Sqlite), PostgresRow]
    public async Task An_order_for_every_ticket_of_a_type_spread_over_five_shards_succeeds(string engine)
    {
        await StartAsync(engine);
        await Cluster.CreateEventAsync("whole", TicketingCluster.Type("ga", capacity: 10, shards: 5));
        await Cluster.ActivateShardsAsync("whole", "ga", 0, 1, 2, 3, 4);

        var result = await Cluster.BuyAsync("whole", "ga", 10);

        Assert.Equal(PurchaseStatus.Created, result.Status);
        var order = result.Order!;
        Assert.Equal(Enumerable.Range(1, 10).Select(i => (long)i), order.Tickets.Select(t => t.Serial).Order());
        var sales = (await Cluster.SalesAsync("whole")).TicketTypes[0];
        Assert.Equal((10L, 10L, 0L), (sales.Capacity, sales.Sold, sales.Remaining));
        Assert.All(sales.Shards, s => Assert.Equal(0L, s.InTransit));

        // Its serials are not one run; the stored order still reads back whole.
        Assert.True(OrderId.TryGetShard(order.OrderId, out var holder));
        Assert.Equal(order, await Cluster.Client.GetGrain<Inventory.IInventoryShardGrain>(holder.Key).GetOrder(order.OrderId), OrderComparer.Instance);
        Assert.Equal(PurchaseStatus.SoldOut, (await Cluster.BuyAsync("whole", "ga", 1)).Status);
    }

    [Theory, InlineData(Engines.Sqlite), PostgresRow]
    public async Task A_keyed_order_larger_than_any_shard_succeeds_once_and_replays(string engine)
    {
        await StartAsync(engine);
        await Cluster.CreateEventAsync("keyed-whole", TicketingCluster.Type("ga", capacity: 12, shards: 4), TicketingCluster.Type("vip", capacity: 8, shards: 4));
        await Cluster.ActivateShardsAsync("keyed-whole", "ga", 0, 1, 2, 3);

        var first = await Cluster.BuyAsync("keyed-whole", "ga", 9, key: "pull-key-1");
        var again = await Cluster.BuyAsync("keyed-whole", "ga", 9, key: "pull-key-1");

        // Replayed to the first request too when the service itself had to ask again with the key (a holder's answer
        // that did not come within 2 s on a loaded machine, once in a fresh-clone CI): the order is the buyer's either way.
        Assert.Contains(first.Status, new[] { PurchaseStatus.Created, PurchaseStatus.Replayed });
        Assert.Equal(PurchaseStatus.Replayed, again.Status);
        Assert.Equal(first.Order, again.Order, OrderComparer.Instance);
        var ga = (await Cluster.SalesAsync("keyed-whole")).TicketTypes[0];
        Assert.Equal((9L, 3L), (ga.Sold, ga.Remaining));
    }

    [Theory, InlineData(Engines.Sqlite), PostgresRow]
    public async Task Concurrent_buyers_with_mixed_quantities_leave_nothing_unsold(string engine)
    {
        await StartAsync(engine);
        const int capacity = 1_003;
        await Cluster.CreateEventAsync("mixed", TicketingCluster.Type("ga", capacity, shards: 12, maxPerOrder: 4));

        // A buyer keeps its quantity until refused, and every refusal must be exact: fewer than asked remained.
        var buyers = Enumerable.Range(0, 48).Select(async buyer =>
        {
            var mine = new List<OrderDetails>();
            var quantity = buyer % 4 + 1;
            var attempt = 0;
            var unavailable = 0;
            while (quantity > 0)
            {
                var key = buyer % 2 == 0 ? $"mixed-{buyer}-{attempt}" : null;
                var result = await Cluster.BuyAsync("mixed", "ga", quantity, key);
                // Nothing sold (tickets moving between shards for longer than the dispatcher's patience, on a loaded
                // machine): the same request again, with the same key.
                if (result.Status == PurchaseStatus.Unavailable && ++unavailable < 20) continue;
                attempt++;
                if (result.Status == PurchaseStatus.Created) mine.Add(result.Order!);
                else if (result.Status == PurchaseStatus.SoldOut)
                {
                    Assert.True(result.Remaining < quantity, $"Refused {quantity} while {result.Remaining} remained.");
                    quantity = (int)Math.Min(quantity - 1, result.Remaining);
                }
                else throw new Xunit.Sdk.XunitException($"Unexpected {result.Status}");
            }
            return mine;
        });
        var orders = (await Task.WhenAll(buyers)).SelectMany(o => o).ToList();

        Assert.Equal(capacity, orders.Sum(o => o.Quantity));
        OrderAssertions.AllSerialsAndCodesUnique(orders);
        var sales = (await Cluster.SalesAsync("mixed")).TicketTypes[0];
        Assert.Equal(((long)capacity, (long)capacity, 0L), (sales.Capacity, sales.Sold, sales.Remaining));
    }
}
