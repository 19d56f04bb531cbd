using OrleansTickets.Events;
using OrleansTickets.Inventory;
using OrleansTickets.Orders;
using OrleansTickets.Tests.Infrastructure;

namespace OrleansTickets.Tests.Grains;

/// <summary>
/// A keyed buyer is told "sold out" only while the key has no order: a refusal resting on a refresh is checked with the
/// key's home after that refresh.
/// </summary>
public sealed class KeyedRefusalTests(ITestOutputHelper output)
{
    // 20 s at most for the buyer to pause, or for a refresh to reach the shard: 200 polls, 100 ms apart.
    private const int Polls = 200;

    [Fact]
    public async Task A_keyed_buyer_whose_key_got_its_order_while_it_waited_gets_that_order_not_sold_out()
    {
        var refreshes = new Gate();
        await using var cluster = await TicketingCluster.StartAsync(TestStorage.Sqlite(), configureSilo: TicketingCluster.Intercepting(
            new ShardAddress("last", "ga", 0), nameof(IInventoryShardGrain.GetSales), async call =>
            {
                await refreshes.PassAsync();
                await call.Invoke();
            }), output: output);
        using var pauses = cluster.CollectMetric<long>("orleanstickets.dispatch.pauses");
        using var soldOut = cluster.CollectMetric<long>("orleanstickets.dispatch.sold_out");
        // One shard, so it is every key's home. A first sale warms the dispatcher and the shard.
        await cluster.CreateEventAsync("last", TicketingCluster.Type("ga", capacity: 5, shards: 1));
        Assert.Equal(PurchaseStatus.Created, (await cluster.BuyAsync("last", "ga", 1, buyer: "Grace")).Status);

        // The other four are held for a forward that never comes, so the buyer finds none free yet none sold: the home
        // reads the key (no order) and refuses, and the dispatcher refreshes and pauses for the held tickets.
        var shard = cluster.Shard("last", "ga", 0);
        var hold = OrderId.New(new ShardAddress("last", "ga", 0), DateTimeOffset.UtcNow);
        Assert.Equal(4L, await shard.HoldForForward(hold, 4));
        var waiting = cluster.BuyAsync("last", "ga", 1, key: "retried");
        await Poll.UntilAsync(() => Task.FromResult(TicketingCluster.PausedFor(pauses, "tickets")), Polls,
            failure: "The buyer never paused for the held tickets.");

        // While its next refresh is kept from the shard, the same key's retry (another front end's, say) reaches the home
        // as the tickets come free and buys one; other buyers take the rest.
        refreshes.Shut();
        await refreshes.Waiting.WaitAsync(TimeSpan.FromSeconds(20));
        await shard.ReleaseHold(hold);
        var retried = new PurchaseRequest("last", "ga", 1, new Buyer("Ada", "ada@example.com"), "retried");
        var made = await shard.Purchase(new ShardPurchase(retried, retried.Fingerprint(), []));
        Assert.Equal(PurchaseStatus.Created, made.Status);
        Assert.Equal(PurchaseStatus.Created, (await shard.Purchase(TicketingCluster.KeylessPurchase("last", "ga", 3))).Status);
        refreshes.Open();

        // The refresh finds the type sold out, and the key has an order: the waiting buyer is answered with it.
        var answer = await waiting;
        Assert.Equal(PurchaseStatus.Replayed, answer.Status);
        Assert.Equal(made.Order!.OrderId, answer.Order!.OrderId);
        Assert.Equal(0L, soldOut.GetMeasurementSnapshot().Sum(m => m.Value));
        Assert.Equal(5L, (await cluster.SalesAsync("last")).TicketTypes[0].Sold);

        // A key without an order still hears "sold out", once the home has looked.
        Assert.Equal(PurchaseStatus.SoldOut, (await cluster.BuyAsync("last", "ga", 1, key: "late")).Status);
        Assert.Equal(1L, soldOut.GetMeasurementSnapshot().Sum(m => m.Value));
    }

    /// <summary>Lets calls through until shut; then holds them until opened, and says when the first one waits.</summary>
    private sealed class Gate
    {
        private readonly TaskCompletionSource _waiting = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private volatile TaskCompletionSource? _shut;

        /// <summary>Completes when a call has come to the shut gate.</summary>
        public Task Waiting => _waiting.Task;

        public void Shut() => _shut = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        public void Open() => _shut?.TrySetResult();

        public async Task PassAsync()
        {
            if (_shut is not { } shut) return;
            _waiting.TrySetResult();
            await shut.Task;
        }
    }
}
