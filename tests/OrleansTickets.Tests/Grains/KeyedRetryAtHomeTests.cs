using OrleansTickets.Events;
using OrleansTickets.Inventory;
using OrleansTickets.Orders;
using OrleansTickets.Tests.Infrastructure;

namespace OrleansTickets.Tests.Grains;

/// <summary>
/// A retry whose key points at an order its holder refused may be sold by the home itself: the key moves from the
/// refused order to the home's own in the sale's commit.
/// </summary>
/// <remarks>Both engines: the move rides on a sale's commit here, where before it only came with a forward's reservation.</remarks>
[Collection(PostgresKeysCollection.Name)]
public sealed class KeyedRetryAtHomeTests(PostgresFixture postgres, ITestOutputHelper output) : EngineClusterTests(postgres, output)
{
    [Theory, InlineData(Engines.Sqlite), PostgresRow]
    public async Task A_retry_whose_home_has_taken_tickets_in_since_is_sold_there(string engine)
    {
        await StartAsync(engine);
        await RetryAsync("again-room", homeReceivesPull: false);
    }

    [Theory, InlineData(Engines.Sqlite), PostgresRow]
    public async Task A_retry_whose_home_is_named_the_receiver_of_a_pull_is_sold_there(string engine)
    {
        await StartAsync(engine);
        await RetryAsync("again-pull", homeReceivesPull: true);
    }

    private async Task RetryAsync(string eventId, bool homeReceivesPull)
    {
        // 3 shards of 2 tickets. The home (shard 0) and shard 1 are sold out; shard 2 holds the last two.
        await Cluster.CreateEventAsync(eventId, TicketingCluster.Type("ga", capacity: 6, shards: 3));
        foreach (var dry in new[] { 0, 1 })
        {
            Assert.Equal(PurchaseStatus.Created, (await Cluster.Shard(eventId, "ga", dry).Purchase(TicketingCluster.KeylessPurchase(eventId, "ga", 2))).Status);
        }
        await Cluster.ActivateShardsAsync(eventId, "ga", 2);
        var home = Cluster.Shard(eventId, "ga", 0);
        var request = new PurchaseRequest(eventId, "ga", 1, new Buyer("Ada", "ada@example.com"), "comes-back");

        // First attempt: the home forwards to shard 1, named with a donor that has nothing (so shard 1 is not asked for
        // room first); shard 1 refuses the order for good, and the key points at that refused order.
        var first = await home.Purchase(new ShardPurchase(request, request.Fingerprint(), [1], Donors: [0]));
        Assert.Equal(PurchaseStatus.SoldOut, first.Status);
        var (_, ledger) = await Cluster.LedgerAsync(eventId, "ga", 0);
        var refused = (await ledger.ReadKeyAsync("comes-back"))?.OrderId;
        Assert.True(OrderId.TryGetShard(refused, out var refusedBy));
        Assert.Equal(1, refusedBy.Index);

        ShardPurchase retry;
        if (homeReceivesPull)
        {
            // The dispatcher names the home as the pull's receiver (the only shard that can take tickets in), shard 2 as donor.
            retry = new ShardPurchase(request, request.Fingerprint(), [0], Donors: [2]);
        }
        else
        {
            // The home has taken tickets in since (a gathering, a drain, an operator's grant).
            Assert.Equal(2L, await Cluster.Shard(eventId, "ga", 2).GiveTickets(Guid.NewGuid().ToString("N"), new ShardAddress(eventId, "ga", 0).Key, 2));
            retry = new ShardPurchase(request, request.Fingerprint(), [1]);
        }

        var sold = await home.Purchase(retry);

        // Before, a retry could only be forwarded, never to the home, and got "sold out" here: 503 to the buyer after
        // the dispatcher's patience, every time, while the home held the tickets.
        Assert.Equal(PurchaseStatus.Created, sold.Status);
        Assert.True(OrderId.TryGetShard(sold.Order!.OrderId, out var seller));
        Assert.Equal(0, seller.Index);
        Assert.Equal(sold.Order.OrderId, (await ledger.ReadKeyAsync("comes-back"))?.OrderId);
        var replay = await home.Purchase(new ShardPurchase(request, request.Fingerprint(), [1]));
        Assert.Equal(PurchaseStatus.Replayed, replay.Status);
        Assert.Equal(sold.Order, replay.Order, OrderComparer.Instance);
        Assert.Equal(5, (await Cluster.SalesAsync(eventId)).TicketTypes[0].Sold);
    }
}
