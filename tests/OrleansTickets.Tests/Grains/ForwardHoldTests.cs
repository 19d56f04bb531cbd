using OrleansTickets.Events;
using OrleansTickets.Inventory;
using OrleansTickets.Orders;
using OrleansTickets.Tests.Infrastructure;

namespace OrleansTickets.Tests.Grains;

/// <summary>
/// A candidate asked for room by a home holds the tickets for the order the home is about to forward, and gives
/// them back when the order comes, when the home releases them, or by itself.
/// </summary>
/// <remarks>SQLite only: a hold lives in the shard's memory and writes nothing.</remarks>
public sealed class ForwardHoldTests(ITestOutputHelper output)
{
    // 20 s at most for a hold to end by itself (it lasts about 2 s): 200 polls, 100 ms apart.
    private const int Polls = 200;

    [Fact]
    public async Task Buyers_cannot_take_the_tickets_a_candidate_holds_for_a_forward_between_the_question_and_the_order()
    {
        var candidate = new ShardAddress("held", "ga", 1);
        var held = new TaskCompletionSource();
        var othersBought = new TaskCompletionSource();
        await using var cluster = await TicketingCluster.StartAsync(TestStorage.Sqlite(), configureSilo: TicketingCluster.Intercepting(
            candidate, nameof(IInventoryShardGrain.HoldForForward), async call =>
            {
                await call.Invoke();
                // The home has its answer only after other buyers came to the candidate, as when its reservation's
                // commit takes a while at the end of a sale.
                held.TrySetResult();
                await othersBought.Task;
            }), output: output);
        // 2 shards of 2 tickets; the home (shard 0) is dry.
        await cluster.CreateEventAsync("held", TicketingCluster.Type("ga", capacity: 4, shards: 2));
        Assert.Equal(PurchaseStatus.Created, (await cluster.Shard("held", "ga", 0).Purchase(TicketingCluster.KeylessPurchase("held", "ga", 2))).Status);
        await cluster.ActivateShardsAsync("held", "ga", 1);

        var request = new PurchaseRequest("held", "ga", 1, new Buyer("Ada", "ada@example.com"), "held-key");
        var forwarded = cluster.Shard("held", "ga", 0).Purchase(new ShardPurchase(request, request.Fingerprint(), [1]));
        await held.Task.WaitAsync(TimeSpan.FromSeconds(20));

        // One of the candidate's two tickets is held for the keyed order: the others may have only the other one.
        var shard = cluster.Shard("held", "ga", 1);
        Assert.Equal(1L, await shard.GetSellable());
        Assert.Equal(PurchaseStatus.SoldOut, (await shard.Purchase(TicketingCluster.KeylessPurchase("held", "ga", 2))).Status);
        Assert.Equal(PurchaseStatus.Created, (await shard.Purchase(TicketingCluster.KeylessPurchase("held", "ga", 1))).Status);
        // Held tickets are not sold: the shard's report still counts one ticket unsold, so no "sold out" is concluded.
        var report = await shard.GetSales();
        Assert.Equal((1L, 1L), (report.Remaining, report.Reserved));
        othersBought.SetResult();

        var result = await forwarded;
        Assert.Equal(PurchaseStatus.Created, result.Status);
        Assert.True(OrderId.TryGetShard(result.Order!.OrderId, out var holder));
        Assert.Equal(candidate, holder);
        var after = await shard.GetSales();
        Assert.Equal((2L, 0L, 0L), (after.Sold, after.Remaining, after.Reserved));
    }

    [Fact]
    public async Task A_hold_whose_order_never_comes_ends_by_itself_and_a_released_one_at_once()
    {
        await using var cluster = await TicketingCluster.StartAsync(TestStorage.Sqlite(), output: output);
        await cluster.CreateEventAsync("lapse", TicketingCluster.Type("ga", capacity: 6, shards: 2));
        var address = new ShardAddress("lapse", "ga", 0);
        var shard = cluster.Shard("lapse", "ga", 0);

        // More than the shard has is not held; the answer is still the count.
        Assert.Equal(3L, await shard.HoldForForward(OrderId.New(address, DateTimeOffset.UtcNow), 4));
        Assert.Equal(3L, await shard.GetSellable());

        var released = OrderId.New(address, DateTimeOffset.UtcNow);
        Assert.Equal(3L, await shard.HoldForForward(released, 2));
        Assert.Equal(1L, await shard.GetSellable());
        await shard.ReleaseHold(released);
        Assert.Equal(3L, await shard.GetSellable());

        Assert.Equal(3L, await shard.HoldForForward(OrderId.New(address, DateTimeOffset.UtcNow), 3));
        Assert.Equal(0L, await shard.GetSellable());
        Assert.Equal(PurchaseStatus.SoldOut, (await shard.Purchase(TicketingCluster.KeylessPurchase("lapse", "ga", 1))).Status);
        await Poll.UntilAsync(async () => await shard.GetSellable() == 3, Polls, failure: "The hold never ended by itself.");
        Assert.Equal(PurchaseStatus.Created, (await shard.Purchase(TicketingCluster.KeylessPurchase("lapse", "ga", 3))).Status);
        Assert.Equal(0L, (await shard.GetSales()).Reserved);
    }

    [Fact]
    public async Task The_held_order_takes_its_tickets_once_and_nothing_comes_back_when_the_hold_would_have_ended()
    {
        await using var cluster = await TicketingCluster.StartAsync(TestStorage.Sqlite(), output: output);
        await cluster.CreateEventAsync("taken", TicketingCluster.Type("ga", capacity: 4, shards: 2));
        var address = new ShardAddress("taken", "ga", 1);
        var shard = cluster.Shard("taken", "ga", 1);
        var orderId = OrderId.New(address, DateTimeOffset.UtcNow);
        Assert.Equal(2L, await shard.HoldForForward(orderId, 2));

        var request = new PurchaseRequest("taken", "ga", 2, new Buyer("Ada", "ada@example.com"), "taken-key");
        var sold = await shard.Purchase(new ShardPurchase(request, request.Fingerprint(), [], ForwardedOrderId: orderId, FreshOrderId: true));
        Assert.Equal(PurchaseStatus.Created, sold.Status);
        Assert.Equal(orderId, sold.Order!.OrderId);

        // Past the hold's time: a hold still counted after its order sold would give back tickets that are gone.
        await Task.Delay(TimeSpan.FromSeconds(4));
        Assert.Equal(0L, await shard.GetSellable());
        var report = await shard.GetSales();
        Assert.Equal((2L, 0L, 0L), (report.Sold, report.Remaining, report.Reserved));
        Assert.Equal(PurchaseStatus.SoldOut, (await shard.Purchase(TicketingCluster.KeylessPurchase("taken", "ga", 1))).Status);
    }

    [Fact]
    public async Task A_room_question_that_runs_after_its_home_gave_up_on_it_holds_nothing()
    {
        // The candidate takes up the home's question only once the home, past the 2 s it waits, has passed it over and
        // released the hold (or, with no release, after 5 s).
        var slow = false;
        var late = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var released = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var address = new ShardAddress("late-question", "ga", 1);
        await using var cluster = await TicketingCluster.StartAsync(TestStorage.Sqlite(), configureSilo: silo =>
        {
            TicketingCluster.Intercepting(address, nameof(IInventoryShardGrain.HoldForForward), async call =>
            {
                var delayed = Volatile.Read(ref slow);
                if (delayed) await Task.WhenAny(released.Task, Task.Delay(TimeSpan.FromSeconds(5)));
                await call.Invoke();
                if (delayed) late.TrySetResult();
            })(silo);
            TicketingCluster.Intercepting(address, nameof(IInventoryShardGrain.ReleaseHold), async call =>
            {
                await call.Invoke();
                released.TrySetResult();
            })(silo);
        }, output: output);
        await cluster.CreateEventAsync("late-question", TicketingCluster.Type("ga", capacity: 4, shards: 2));
        var (homeLedger, candidateLedger) = (await cluster.LedgerAsync("late-question", "ga", 0), await cluster.LedgerAsync("late-question", "ga", 1));
        Assert.NotEqual(homeLedger.Placement.DatabaseOrdinal, candidateLedger.Placement.DatabaseOrdinal);
        var home = cluster.Shard("late-question", "ga", 0);
        var candidate = cluster.Shard("late-question", "ga", 1);
        Assert.Equal(PurchaseStatus.Created, (await home.Purchase(TicketingCluster.KeylessPurchase("late-question", "ga", 2))).Status);
        Assert.Equal(2L, await candidate.GetSellable());
        Volatile.Write(ref slow, true);

        var request = new PurchaseRequest("late-question", "ga", 2, new Buyer("Ada", "ada@example.com"), "late-question-key");
        var result = await home.Purchase(new ShardPurchase(request, request.Fingerprint(), [1]));
        Assert.NotEqual(PurchaseStatus.Created, result.Status);
        await late.Task.WaitAsync(TimeSpan.FromSeconds(20));

        // The home released the hold when it gave up, and the candidate, holding nothing yet, remembered the order id.
        // Before, the late question held both tickets for an order that never came, for about 2 s more.
        Assert.Equal(2L, await candidate.GetSellable());
        Assert.Equal(0L, (await candidate.GetSales()).Reserved);
        Assert.Equal(PurchaseStatus.Created, (await candidate.Purchase(TicketingCluster.KeylessPurchase("late-question", "ga", 2))).Status);
    }

    [Fact]
    public async Task A_home_whose_reservation_fails_releases_the_hold_at_once()
    {
        await using var cluster = await TicketingCluster.StartAsync(TestStorage.Sqlite(), output: output);
        await cluster.CreateEventAsync("let-go", TicketingCluster.Type("ga", capacity: 4, shards: 2));
        var home = cluster.Shard("let-go", "ga", 0);
        Assert.Equal(PurchaseStatus.Created, (await home.Purchase(TicketingCluster.KeylessPurchase("let-go", "ga", 2))).Status);
        await cluster.ActivateShardsAsync("let-go", "ga", 1);
        // A newer activation claims the dry home's shard (as during a membership change): the home's reservation of the
        // next key is fenced, and the order it asked the candidate to hold for will not come.
        var (placement, newer) = await cluster.LedgerAsync("let-go", "ga", 0);
        await newer.ClaimAsync(placement.Block);

        var request = new PurchaseRequest("let-go", "ga", 2, new Buyer("Ada", "ada@example.com"), "let-go-key");
        var result = await home.Purchase(new ShardPurchase(request, request.Fingerprint(), [1]));
        Assert.Equal(PurchaseStatus.Unavailable, result.Status);
        Assert.Equal(new ShardSighting(1, 0), result.Sightings[^1]);

        // Candidate 1 held both its tickets; the home says so at once, well before the hold would end by itself (about 2 s).
        var candidate = cluster.Shard("let-go", "ga", 1);
        await Poll.UntilAsync(async () => await candidate.GetSellable() == 2, attempts: 10,
            failure: "The candidate still held tickets for an order its home could not reserve.");
    }

    [Fact]
    public async Task Tickets_a_drained_shard_held_for_an_order_that_never_came_go_on_to_another_shard()
    {
        await using var cluster = await TicketingCluster.StartAsync(TestStorage.Sqlite(), output: output);
        await cluster.CreateEventAsync("held-drain", TicketingCluster.Type("ga", capacity: 8, shards: 2));
        var drained = cluster.Shard("held-drain", "ga", 1);
        Assert.Equal(4L, await drained.HoldForForward(OrderId.New(new ShardAddress("held-drain", "ga", 1), DateTimeOffset.UtcNow), 2));

        // The drain cannot give what is held: those two stay behind, on a shard that takes nothing in and that no
        // operator will drain again.
        var drain = await drained.Drain();
        Assert.Equal((2L, 2L), (drain.Moved, drain.Left));

        // When the hold lapses they go on, as after a refused pull.
        var other = cluster.Shard("held-drain", "ga", 0);
        await Poll.UntilAsync(async () => await other.GetSellable() == 8, Polls,
            failure: "The held tickets stayed on the drained shard after the hold lapsed.");
        Assert.Equal(0L, (await drained.GetSales()).Remaining);
    }
}
