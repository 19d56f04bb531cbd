using OrleansTickets.Events;
using OrleansTickets.Inventory;
using OrleansTickets.Orders;
using OrleansTickets.Storage;
using OrleansTickets.Tests.Infrastructure;

namespace OrleansTickets.Tests.Grains;

/// <summary>
/// A replay of a forwarded order id that arrives while the first forward of that id is still running, and joins it.
/// </summary>
public sealed class ForwardedRefusalTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_replay_that_joins_a_refused_forward_answers_only_once_the_refusal_is_durable()
    {
        // A replay's answer lets the home move on, while an older message for the id may still be on its way,
        // possibly to a later activation; so a replay is answered "sold out" only once the refusal is in the database
        // (the first forward's own refusal is committed too, before it is answered, and the replay that joined it
        // passes that answer on). Here the replay joins the first forward while it waits on a pull from shard 1,
        // whose donor fails only once the replay has joined.
        var pulling = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var joined = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var receiverJoins = TicketingCluster.Intercepting(new ShardAddress("join", "ga", 0), nameof(IInventoryShardGrain.Purchase), async call =>
        {
            // Invoke runs the call up to its first wait, which for the replay is the wait on the running forward.
            var invoked = call.Invoke();
            // Only the replay: a forward (ForwardedOrderId set) that is not the first. The set-up's own purchase below
            // is not fresh either, and once let the donor fail before the replay had joined anything.
            if (call.Request.GetArgument(0) is ShardPurchase { ForwardedOrderId: not null, FreshOrderId: false }) joined.TrySetResult();
            await invoked;
        });
        var donorFails = TicketingCluster.Intercepting(new ShardAddress("join", "ga", 1), nameof(IInventoryShardGrain.GiveTickets), async _ =>
        {
            pulling.TrySetResult();
            await joined.Task;
            throw new TimeoutException("The donor did not answer.");
        });
        await using var cluster = await TicketingCluster.StartAsync(TestStorage.Sqlite(), configureSilo: silo =>
        {
            receiverJoins(silo);
            donorFails(silo);
        }, output: output);
        await cluster.CreateEventAsync("join", TicketingCluster.Type("ga", capacity: 4, shards: 2, maxPerOrder: 4));
        var receiver = cluster.Shard("join", "ga", 0);
        Assert.Equal(PurchaseStatus.Created, (await receiver.Purchase(TicketingCluster.KeylessPurchase("join", "ga", 2))).Status);

        var orderId = OrderId.New(new ShardAddress("join", "ga", 0), DateTimeOffset.UtcNow);
        try
        {
            var request = new PurchaseRequest("join", "ga", 2, new Buyer("Ada", "ada@example.com"), "join-key");
            Task<PurchaseResult> first, replay;
            // Writes are held from before the first forward, so its refusal's commit is the one held: neither answer may
            // come before it, however late the replay arrives (the receiver gives up on the pull after 2 s of its own).
            await using (await cluster.HoldWritesAsync("join", "ga", 0))
            {
                first = receiver.Purchase(new ShardPurchase(request, "FP", [], orderId, FreshOrderId: true, Donors: [1]));
                await pulling.Task.WaitAsync(TimeSpan.FromSeconds(20));
                replay = receiver.Purchase(new ShardPurchase(request, "FP", [], orderId, FreshOrderId: false));
                await joined.Task.WaitAsync(TimeSpan.FromSeconds(20));
                await Task.WhenAny(replay, Task.Delay(TimeSpan.FromSeconds(1)));
                Assert.False(replay.IsCompleted, "the replay was answered while the refusal's commit was held");
                Assert.False(first.IsCompleted, "the first forward was answered while the refusal's commit was held");
            }

            Assert.Equal(PurchaseStatus.SoldOut, (await first).Status);
            Assert.Equal(PurchaseStatus.SoldOut, (await replay).Status);
        }
        finally
        {
            // A failed assertion must not leave the donor's call held while the cluster stops.
            joined.TrySetResult();
        }

        // What a later activation of the shard would find: the refusal, in the database.
        var (placement, ledger) = await cluster.LedgerAsync("join", "ga", 0);
        Assert.Contains(orderId, (await ledger.ClaimAsync(placement.Block)).Refused);
    }

    [Theory]
    [InlineData(2, false)]
    [InlineData(8, false)]
    [InlineData(2, true)]
    [InlineData(8, true)]
    public async Task A_late_first_forward_of_an_order_a_replay_already_created_gets_that_order(int capacity, bool holderMoved)
    {
        // The home gave up waiting for its first forward of X, and the buyer's retry replayed X. Then the first forward
        // arrives.
        // - With capacity 2 the replay sold the holder's last ticket. Refused as sold out and remembered, X would be
        //   refused to the next replay, durably, and the home would move the key to a second order.
        // - With capacity 8 tickets are left. Sold again, X went into a commit a second time, where the orders table's
        //   key refused the whole commit, every sale in it answered 503, and the shard sat out a second.
        // With the holder moved between the two (deactivated here), the first forward reaches an activation that did not
        // create X.
        await using var cluster = await TicketingCluster.StartAsync(TestStorage.Sqlite(), output: output);
        await cluster.CreateEventAsync("late", TicketingCluster.Type("ga", capacity: capacity, shards: 2));
        var holder = cluster.Shard("late", "ga", 0);
        var orderId = OrderId.New(new ShardAddress("late", "ga", 0), DateTimeOffset.UtcNow);
        var request = new PurchaseRequest("late", "ga", 1, new Buyer("Ada", "ada@example.com"), "late-key");

        var replay = await holder.Purchase(new ShardPurchase(request, "FP", [], orderId, FreshOrderId: false));
        Assert.Equal(PurchaseStatus.Created, replay.Status);
        var epochOfReplay = await EpochAsync(cluster, "late", 0);
        if (holderMoved) await cluster.Cluster.DeactivateAsync(holder);
        var lateFirst = await holder.Purchase(new ShardPurchase(request, "FP", [], orderId, FreshOrderId: true));
        // Moved, the late message met an activation of its own, which claimed the shard anew.
        Assert.Equal(epochOfReplay + (holderMoved ? 1 : 0), await EpochAsync(cluster, "late", 0));
        var again = await holder.Purchase(new ShardPurchase(request, "FP", [], orderId, FreshOrderId: false));

        Assert.Equal((PurchaseStatus.Replayed, orderId), (lateFirst.Status, lateFirst.Order?.OrderId));
        Assert.Equal((PurchaseStatus.Replayed, orderId), (again.Status, again.Order?.OrderId));
        Assert.Equal(1L, (await holder.GetSales()).Sold);
        var (placement, ledger) = await cluster.LedgerAsync("late", "ga", 0);
        Assert.DoesNotContain(orderId, (await ledger.ClaimAsync(placement.Block)).Refused);
    }

    [PostgresFact]
    public async Task A_first_forward_whose_commit_landed_without_its_answer_gets_its_order_when_it_comes_again()
    {
        // The same activation created X in a commit whose answer was lost, so X is not among the forwards it knows it
        // created, and the reload after the lost answer claimed the shard anew. A first forward of X that comes again (a
        // stale duplicate) was minted before that claim: read for first, it gets X. Sold, it met the orders table's key,
        // which refused its whole group commit (503 to every sale in it).
        await using var server = new PostgresServer();
        await server.StartAsync();
        var commits = new UnreplicatedCommits(server);
        await using var cluster = await TicketingCluster.StartAsync(TestStorage.Postgres(server), output: output);
        await cluster.CreateEventAsync("landed", TicketingCluster.Type("ga", capacity: 8, shards: 2));
        var holder = cluster.Shard("landed", "ga", 0);
        await holder.GetSales();
        // Minted past the first claim's allowance (2 s), so only the reload's claim makes X one to read for.
        await Task.Delay(TimeSpan.FromSeconds(2.5));
        var orderId = OrderId.New(new ShardAddress("landed", "ga", 0), DateTimeOffset.UtcNow);
        var request = new PurchaseRequest("landed", "ga", 1, new Buyer("Ada", "ada@example.com"), "landed-key");
        var epochBefore = await EpochAsync(cluster, "landed", 0);

        Task<PurchaseResult> first;
        try
        {
            await commits.StallAsync();
            first = holder.Purchase(new ShardPurchase(request, "FP", [], orderId, FreshOrderId: true));
            await commits.CutNextAsync(ShardDatabases.WriterApplicationSuffix);
        }
        finally
        {
            await commits.ResumeAsync();
        }
        Assert.Equal(PurchaseStatus.Failed, (await first).Status);
        var again = await holder.Purchase(new ShardPurchase(request, "FP", [], orderId, FreshOrderId: true));

        Assert.Equal((PurchaseStatus.Replayed, orderId), (again.Status, again.Order?.OrderId));
        // One claim since: the reload after the lost answer, which the late message was minted before.
        Assert.Equal(epochBefore + 1, await EpochAsync(cluster, "landed", 0));
        Assert.Equal(1L, (await holder.GetSales()).Sold);
        Assert.Equal(PurchaseStatus.Created, (await holder.Purchase(new ShardPurchase(request with { IdempotencyKey = "after" }, "FP2", [],
            OrderId.New(new ShardAddress("landed", "ga", 0), DateTimeOffset.UtcNow), FreshOrderId: false))).Status);
    }

    /// <summary>The epoch in shard <paramref name="index"/>'s row: each activation's claim takes the next.</summary>
    private static async Task<long> EpochAsync(TicketingCluster cluster, string eventId, int index)
    {
        var (placement, database) = await cluster.ShardDatabaseAsync(eventId, "ga", index);
        await using var connection = await database.OpenAsync();
        return (await ShardDatabase.ReadFenceAsync(connection, placement.Address.Key) ?? throw new InvalidOperationException("no shard row")).Epoch;
    }

    [Fact]
    public async Task A_refused_first_forward_is_in_the_database_before_the_home_hears_of_it()
    {
        // The home moves the key on after this refusal. A stale duplicate of the home (a membership change) may have
        // read the key while it still pointed at X, and replay X later; had this shard moved meanwhile, a refusal kept
        // only in memory would be gone, and with tickets gained since, the replay would create X beside the order the
        // key moved to: two orders for one key.
        await using var cluster = await TicketingCluster.StartAsync(TestStorage.Sqlite(), output: output);
        await cluster.CreateEventAsync("first", TicketingCluster.Type("ga", capacity: 2, shards: 2));
        var holder = cluster.Shard("first", "ga", 0);
        Assert.Equal(PurchaseStatus.Created, (await holder.Purchase(TicketingCluster.KeylessPurchase("first", "ga", 1))).Status);
        var orderId = OrderId.New(new ShardAddress("first", "ga", 0), DateTimeOffset.UtcNow);
        var request = new PurchaseRequest("first", "ga", 1, new Buyer("Ada", "ada@example.com"), "first-key");

        Task<PurchaseResult> refusing;
        await using (await cluster.HoldWritesAsync("first", "ga", 0))
        {
            refusing = holder.Purchase(new ShardPurchase(request, "FP", [], orderId, FreshOrderId: true));
            // An answer given before the refusal was written would come at once; held, the write cannot finish.
            await Task.WhenAny(refusing, Task.Delay(TimeSpan.FromSeconds(1)));
            Assert.False(refusing.IsCompleted, "the refusal was answered while its commit was held");
        }

        Assert.Equal(PurchaseStatus.SoldOut, (await refusing).Status);
        var (placement, ledger) = await cluster.LedgerAsync("first", "ga", 0);
        Assert.Contains(orderId, (await ledger.ClaimAsync(placement.Block)).Refused);
    }
}
