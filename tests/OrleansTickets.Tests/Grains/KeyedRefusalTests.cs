using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
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
        var (hold, waiting) = await PauseBehindAHoldAsync(cluster, pauses, "last", left: 4, key: "retried");

        // While its next refresh is kept from the shard, the same key's retry (another front end's, say) reaches the home
        // as the tickets come free and buys one; other buyers take the rest.
        refreshes.Shut();
        await refreshes.Waiting.WaitAsync(TimeSpan.FromSeconds(20));
        var made = await ReleaseAndRetryAtHomeAsync(shard, hold, "last", "retried");
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

    [Fact]
    public async Task A_keyed_buyer_out_of_patience_whose_key_got_its_order_during_its_last_ask_gets_that_order()
    {
        // The home's answers to the buyer's key, once armed: the first is held before the home reads the key, then
        // after it answers. Other buyers' keys ("blocker-") are held before the home until the end.
        var armed = 0;
        var reached = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var read = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var answered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var deliver = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var blockersGo = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var blockersHeld = 0;
        var clock = new LeapingTimestamps();
        await using var cluster = await TicketingCluster.StartAsync(TestStorage.Sqlite(), configureSilo: silo =>
        {
            silo.Services.AddSingleton<TimeProvider>(clock);
            silo.AddIncomingGrainCallFilter(async call =>
            {
                var key = call.InterfaceMethod.Name == nameof(IInventoryShardGrain.Purchase) && call.Request.GetArgument(0) is ShardPurchase purchase
                    ? purchase.Request.IdempotencyKey : null;
                if (key is not null && key.StartsWith("blocker-", StringComparison.Ordinal))
                {
                    Interlocked.Increment(ref blockersHeld);
                    await blockersGo.Task;
                }
                else if (key == "patient-no-more" && Interlocked.CompareExchange(ref armed, 0, 1) == 1)
                {
                    reached.TrySetResult();
                    await read.Task;
                    await call.Invoke();
                    answered.TrySetResult();
                    await deliver.Task;
                    return;
                }
                await call.Invoke();
            });
        }, output: output);
        try
        {
            // One shard, so it is every key's home. A first sale makes the type's first dispatcher activation, which
            // every later request finds idle and takes first.
            await cluster.CreateEventAsync("late-ask", TicketingCluster.Type("ga", capacity: 3, shards: 1));
            Assert.Equal(PurchaseStatus.Created, (await cluster.BuyAsync("late-ask", "ga", 1, buyer: "Grace")).Status);
            using var pauses = cluster.CollectMetric<long>("orleanstickets.dispatch.pauses");
            var shard = cluster.Shard("late-ask", "ga", 0);

            // The two left are held for a forward: the buyer is refused by the home, refreshes (so a verdict may rest on
            // a refresh) and pauses for them. Once they are free it asks the home again: that ask is held.
            var (firstHold, buyer) = await PauseBehindAHoldAsync(cluster, pauses, "late-ask", left: 2, key: "patient-no-more");
            Volatile.Write(ref armed, 1);
            await shard.ReleaseHold(firstHold);
            await reached.Task.WaitAsync(TimeSpan.FromSeconds(20));

            // Before the home reads the key: one ticket is sold, the other held, so the home refuses (no order for the key).
            Assert.Equal(PurchaseStatus.Created, (await shard.Purchase(TicketingCluster.KeylessPurchase("late-ask", "ga", 1))).Status);
            var secondHold = OrderId.New(new ShardAddress("late-ask", "ga", 0), DateTimeOffset.UtcNow);
            Assert.Equal(1L, await shard.HoldForForward(secondHold, 1));
            read.TrySetResult();
            await answered.Task.WaitAsync(TimeSpan.FromSeconds(20));

            // After it: the held ticket comes free, and the same key's retry (another front end's) buys it at the home.
            var made = await ReleaseAndRetryAtHomeAsync(shard, secondHold, "late-ask", "patient-no-more");

            // A refresh of the buyer's dispatcher activation ends, finding the type sold out. The others (one per core at
            // most) are kept busy, so another buyer's request reaches that activation and starts it.
            var blockers = Enumerable.Range(0, Environment.ProcessorCount).Select(i => cluster.BuyAsync("late-ask", "ga", 1, key: $"blocker-{i}")).ToList();
            await Poll.UntilAsync(() => Task.FromResult(Volatile.Read(ref blockersHeld) >= Environment.ProcessorCount), Polls,
                failure: "The other buyers never reached the home.");
            Assert.Equal(PurchaseStatus.SoldOut, (await cluster.BuyAsync("late-ask", "ga", 1)).Status);

            // Past the buyer's patience, the home's refusal arrives: the refresh it would rest on came after the home read
            // the key, and the key has an order.
            clock.Leap(TimeSpan.FromSeconds(10));
            deliver.TrySetResult();
            var answer = await buyer;
            Assert.Equal(PurchaseStatus.Replayed, answer.Status);
            Assert.Equal(made.Order!.OrderId, answer.Order!.OrderId);
            Assert.Equal(3L, (await cluster.SalesAsync("late-ask")).TicketTypes[0].Sold);
            blockersGo.TrySetResult();
            // Their patience leapt past too: "sold out" or "nothing sold", never an order.
            Assert.All(await Task.WhenAll(blockers), result => Assert.Null(result.Order));
        }
        finally
        {
            read.TrySetResult();
            deliver.TrySetResult();
            blockersGo.TrySetResult();
        }
    }

    /// <summary>
    /// Holds the <paramref name="left"/> unsold tickets of the event's one shard for a forward that never comes, and
    /// sends a buyer of one with <paramref name="key"/>: it finds none free yet none sold, so its home reads the key (no
    /// order) and refuses, and its dispatcher refreshes and pauses for the held tickets. Returns once it has paused.
    /// </summary>
    private static async Task<(string Hold, Task<PurchaseResult> Buyer)> PauseBehindAHoldAsync(
        TicketingCluster cluster, MetricCollector<long> pauses, string eventId, int left, string key)
    {
        var hold = OrderId.New(new ShardAddress(eventId, "ga", 0), DateTimeOffset.UtcNow);
        Assert.Equal(left, await cluster.Shard(eventId, "ga", 0).HoldForForward(hold, left));
        var buyer = cluster.BuyAsync(eventId, "ga", 1, key: key);
        await Poll.UntilAsync(() => Task.FromResult(TicketingCluster.PausedFor(pauses, "tickets")), Polls,
            failure: "The buyer never paused for the held tickets.");
        return (hold, buyer);
    }

    /// <summary>
    /// Frees the tickets <paramref name="hold"/> kept on the home <paramref name="shard"/>, and has the same key's retry
    /// (another front end's, say) buy one of them there; returns the order it made.
    /// </summary>
    private static async Task<PurchaseResult> ReleaseAndRetryAtHomeAsync(IInventoryShardGrain shard, string hold, string eventId, string key)
    {
        await shard.ReleaseHold(hold);
        var retried = new PurchaseRequest(eventId, "ga", 1, new Buyer("Ada", "ada@example.com"), key);
        var made = await shard.Purchase(new ShardPurchase(retried, retried.Fingerprint(), []));
        Assert.Equal(PurchaseStatus.Created, made.Status);
        return made;
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
