using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using OrleansTickets.Events;
using OrleansTickets.Orders;
using OrleansTickets.Sales;
using OrleansTickets.Tests.Infrastructure;

namespace OrleansTickets.Tests.Grains;

/// <summary>
/// Tickets held for a purchase whose commit has not landed yet: a shard reports them apart, and a dispatcher that
/// finds only such tickets waits for the commit instead of spinning through refreshes.
/// </summary>
[Collection(PostgresSalesCollection.Name)]
public sealed class ReservedTicketsTests(PostgresFixture postgres, ITestOutputHelper output) : EngineClusterTests(postgres, output)
{
    // 20 s at most for a report or a purchase to show what the test waits for: 200 polls, 100 ms apart.
    private const int Polls = 200;

    [Theory, InlineData(Engines.Sqlite), PostgresRow]
    public async Task A_shard_reports_the_tickets_of_a_commit_in_flight_as_reserved_and_still_unsold(string engine)
    {
        await StartAsync(engine);
        await Cluster.CreateEventAsync("held", TicketingCluster.Type("ga", capacity: 10, shards: 1));
        var shard = Cluster.Shard("held", "ga", 0);
        Assert.Equal(0L, (await shard.GetSales()).Reserved);

        Task<PurchaseResult> purchase;
        await using (var hold = await Cluster.HoldWritesAsync("held", "ga", 0))
        {
            purchase = shard.Purchase(TicketingCluster.KeylessPurchase("held", "ga", 3));
            await Poll.UntilAsync(async () => (await shard.GetSales()).Reserved == 3, Polls,
                failure: "The shard never reported the purchase's tickets as reserved.");
            var held = await shard.GetSales();
            Assert.Equal((10L, 0L, 10L, 3L), (held.Capacity, held.Sold, held.Remaining, held.Reserved));
            Assert.Equal(7L, await shard.GetSellable());
            Assert.False(purchase.IsCompleted);
        }

        Assert.Equal(PurchaseStatus.Created, (await purchase).Status);
        var after = await shard.GetSales();
        Assert.Equal((3L, 7L, 0L), (after.Sold, after.Remaining, after.Reserved));
    }

    [Theory, InlineData(Engines.Sqlite), PostgresRow]
    public async Task A_shard_asked_for_its_sales_after_its_commit_answers_when_the_commit_in_flight_has_ended(string engine)
    {
        await StartAsync(engine);
        await Cluster.CreateEventAsync("settle", TicketingCluster.Type("ga", capacity: 10, shards: 1));
        var shard = Cluster.Shard("settle", "ga", 0);
        // Nothing reserved: nothing to wait for, whatever the bound.
        Assert.Equal(await shard.GetSales(), await shard.GetSalesAfterCommit(TimeSpan.FromMinutes(1)).WaitAsync(TimeSpan.FromSeconds(20)));

        Task<PurchaseResult> purchase;
        Task<ShardSales> afterCommit;
        await using (var hold = await Cluster.HoldWritesAsync("settle", "ga", 0))
        {
            purchase = shard.Purchase(TicketingCluster.KeylessPurchase("settle", "ga", 3));
            await Poll.UntilAsync(async () => (await shard.GetSales()).Reserved == 3, Polls,
                failure: "The shard never reported the purchase's tickets as reserved.");
            afterCommit = shard.GetSalesAfterCommit(TimeSpan.FromMinutes(1));
            // A bound that ends first answers with the tickets still reserved.
            var bounded = await shard.GetSalesAfterCommit(TimeSpan.FromMilliseconds(300)).WaitAsync(TimeSpan.FromSeconds(20));
            Assert.Equal((0L, 3L), (bounded.Sold, bounded.Reserved));
            Assert.False(afterCommit.IsCompleted);
        }

        var settled = await afterCommit.WaitAsync(TimeSpan.FromSeconds(20));
        Assert.Equal((3L, 7L, 0L), (settled.Sold, settled.Remaining, settled.Reserved));
        Assert.Equal(PurchaseStatus.Created, (await purchase).Status);
    }

    [Theory, InlineData(Engines.Sqlite), PostgresRow]
    public Task A_paused_purchase_looks_again_when_the_reserved_tickets_commit_not_when_its_pause_ends(string engine) =>
        LooksAgainAtTheCommitAsync(engine, key: null);

    [Theory, InlineData(Engines.Sqlite), PostgresRow]
    public Task A_paused_keyed_purchase_looks_again_when_the_reserved_tickets_commit_not_when_its_pause_ends(string engine) =>
        LooksAgainAtTheCommitAsync(engine, key: "settle-1");

    [Theory, InlineData(Engines.Sqlite), PostgresRow]
    public Task A_paused_purchase_is_not_told_sold_out_by_its_wait_when_tickets_were_granted_meanwhile(string engine) =>
        LooksAgainAtTheCommitAsync(engine, key: null, grantWhilePaused: true);

    /// <summary>
    /// The second buyer's pauses are stretched to a minute: it can hear "sold out" within the test's bound only if the
    /// end of the commit holding the tickets wakes it, and it hears it from that wait, without another refresh. With
    /// <paramref name="grantWhilePaused"/>, an operator adds a ticket while it waits: the wait's count no longer bounds
    /// the unsold, and the buyer gets the new ticket.
    /// </summary>
    private async Task LooksAgainAtTheCommitAsync(string engine, string? key, bool grantWhilePaused = false)
    {
        var clock = new StretchedPauses();
        await StartWithFourTicketsAsync(engine, "wake", silo => silo.Services.AddSingleton<TimeProvider>(clock));
        using var pauses = Cluster.CollectMetric<long>("orleanstickets.dispatch.pauses");
        using var refreshes = Cluster.CollectMetric<long>("orleanstickets.dispatch.refreshes");
        long Refreshes() => refreshes.GetMeasurementSnapshot().Sum(m => m.Value);

        Task<PurchaseResult> first, second;
        long beforeRelease;
        Task<CapacityAddition>? granting = null;
        await using (var holding = await Cluster.HoldWritesAsync("wake", "ga", 0))
        {
            (first, second) = await ReserveAllThenWaitForOneAsync("wake", key, pauses, reserved: () => clock.Stretching = true);
            await Task.Delay(200);
            Assert.False(second.IsCompleted);
            if (grantWhilePaused)
            {
                // Not awaited: the grant is stored at once, but its shard takes it in with a commit, held here.
                var catalog = Cluster.Client.GetEventGrain("wake");
                granting = catalog.AddCapacity("ga", 1, shardIndex: 0, idempotencyKey: null);
                await Poll.UntilAsync(async () => await catalog.ReadGrantedEver("ga") == 1, Polls,
                    failure: "The grant was never stored.");
            }
            beforeRelease = Refreshes();
            // Pauses from here on run their usual length: only the one under way when the commit lands is stretched
            // (after a grant, the new ticket may reach the shard a little after the buyer looks).
            clock.Stretching = false;
        }

        Assert.Equal(PurchaseStatus.Created, (await first).Status);
        if (granting is not null)
        {
            Assert.Equal(CapacityStatus.Added, (await granting).Status);
            Assert.Equal(PurchaseStatus.Created, (await second.WaitAsync(TimeSpan.FromSeconds(20))).Status);
            return;
        }
        Assert.Equal(PurchaseStatus.SoldOut, (await second.WaitAsync(TimeSpan.FromSeconds(20))).Status);
        Assert.Equal(beforeRelease, Refreshes());
    }

    [Theory, InlineData(Engines.Sqlite), PostgresRow]
    public Task A_purchase_that_finds_only_reserved_tickets_waits_for_their_commit_instead_of_spinning(string engine) =>
        WaitsForReservedTicketsAsync(engine, key: null);

    [Theory, InlineData(Engines.Sqlite), PostgresRow]
    public Task A_keyed_purchase_that_finds_only_reserved_tickets_waits_for_their_commit_instead_of_spinning(string engine) =>
        WaitsForReservedTicketsAsync(engine, key: "spin-1");

    [Theory, InlineData(Engines.Sqlite), PostgresRow]
    public async Task While_every_shard_answers_a_purchase_waiting_on_reserved_tickets_looks_again_at_least_every_40_ms(string engine)
    {
        // The tickets are held by a commit in flight on a shard that answers every refresh: they come free within
        // milliseconds as a rule, so the pause stops doubling at 40 ms (with the full doubling, for shards that cannot
        // answer, it goes on to 80, 160 and 320 ms). The pauses asked of the grains' clock are read, not counted in a
        // window: a loaded machine once fitted only 9 looks into a 2 s hold at 40 ms, as few as the doubling allows.
        var pauses = new RecordedPauses();
        var sale = await HoldWhileOneWaitsAsync(engine, "healthy", key: null, TimeSpan.FromSeconds(2),
            silo => silo.Services.AddSingleton<TimeProvider>(pauses));

        Assert.Equal((PurchaseStatus.Created, PurchaseStatus.SoldOut), (sale.First, sale.Second));
        Assert.Contains(TimeSpan.FromMilliseconds(40), pauses.Asked);
        Assert.DoesNotContain(pauses.Asked, pause => pause == TimeSpan.FromMilliseconds(80) || pause == TimeSpan.FromMilliseconds(160)
            || pause == TimeSpan.FromMilliseconds(320));
    }

    /// <summary>The dispatcher's two paths (any shard, or the key's home first) pause the same way.</summary>
    private async Task WaitsForReservedTicketsAsync(string engine, string? key)
    {
        var sale = await HoldWhileOneWaitsAsync(engine, "spin", key, TimeSpan.FromMilliseconds(300));

        Assert.Equal((PurchaseStatus.Created, PurchaseStatus.SoldOut), (sale.First, sale.Second));
        // Each look after the first refresh follows a pause of at least 10 ms, so the refreshes are bounded by the time
        // the commit was held. Without the pause a refresh and a call to the home follow each other back to back.
        Assert.True(sale.Refreshes <= sale.Held.TotalMilliseconds / 10 + 3, $"{sale.Refreshes} refreshes in {sale.Held.TotalMilliseconds:F0} ms");
        // The shard was asked once: the refreshes, not more purchase calls, showed when the tickets could be had. A keyed
        // purchase's home asked again after each pause refused each time, and read the stored key each time to do so.
        // The home is asked once more only to look at the key before the keyed buyer hears "sold out" (KeyedRefusalTests).
        Assert.Equal(key is null ? 1L : 2L, sale.ShardCalls);
    }

    /// <summary>
    /// Reserves all 4 tickets of a one-shard type with a purchase whose commit is held, has a second buyer ask for one,
    /// and holds the commit for <paramref name="hold"/> more once that buyer has paused; then lets it land.
    /// </summary>
    private async Task<HeldSale> HoldWhileOneWaitsAsync(
        string engine, string eventId, string? key, TimeSpan hold, Action<ISiloBuilder>? configureSilo = null)
    {
        await StartWithFourTicketsAsync(engine, eventId, configureSilo);
        using var refreshes = Cluster.CollectMetric<long>("orleanstickets.dispatch.refreshes");
        using var pauses = Cluster.CollectMetric<long>("orleanstickets.dispatch.pauses");
        using var shardCalls = Cluster.CollectMetric<long>("orleanstickets.dispatch.shard_calls");
        long Refreshes() => refreshes.GetMeasurementSnapshot().Sum(m => m.Value);

        Task<PurchaseResult> first, second;
        TimeSpan held;
        long whileHeld;
        await using (var holding = await Cluster.HoldWritesAsync(eventId, "ga", 0))
        {
            var since = 0L;
            (first, second) = await ReserveAllThenWaitForOneAsync(eventId, key, pauses, reserved: () => since = Stopwatch.GetTimestamp());
            var before = Refreshes();
            await Task.Delay(hold);
            whileHeld = Refreshes() - before;
            Assert.False(second.IsCompleted);
            held = Stopwatch.GetElapsedTime(since);
        }

        return new HeldSale((await first).Status, (await second).Status, held, whileHeld, Refreshes(),
            shardCalls.GetMeasurementSnapshot().Sum(m => m.Value));
    }

    /// <summary>Starts the cluster and creates <paramref name="eventId"/> with one type, "ga": 4 tickets on one shard, which is active.</summary>
    private async Task StartWithFourTicketsAsync(string engine, string eventId, Action<ISiloBuilder>? configureSilo)
    {
        await StartAsync(engine, configureSilo);
        await Cluster.CreateEventAsync(eventId, TicketingCluster.Type("ga", capacity: 4, shards: 1));
        await Cluster.Shard(eventId, "ga", 0).GetSales();
    }

    /// <summary>
    /// While the shard's writes are held: reserves all 4 tickets with a purchase that cannot commit, runs
    /// <paramref name="reserved"/>, has a second buyer ask for one, and returns once it has paused for the reserved tickets.
    /// </summary>
    private async Task<(Task<PurchaseResult> First, Task<PurchaseResult> Second)> ReserveAllThenWaitForOneAsync(
        string eventId, string? key, MetricCollector<long> pauses, Action reserved)
    {
        var shard = Cluster.Shard(eventId, "ga", 0);
        // Every ticket is reserved by a purchase that cannot commit yet; they are unsold, so no "sold out" yet.
        var first = shard.Purchase(TicketingCluster.KeylessPurchase(eventId, "ga", 4));
        await Poll.UntilAsync(async () => (await shard.GetSales()).Reserved == 4, Polls,
            failure: "The shard never reported the first purchase's tickets as reserved.");
        reserved();
        var second = Cluster.BuyAsync(eventId, "ga", 1, key);
        // The waits are pauses for tickets, as the meter tells operators. A slow machine can take a while to get the
        // purchase that far (a cold dispatcher, a key read), so the commit stays held until it has paused.
        await Poll.UntilAsync(() => Task.FromResult(TicketingCluster.PausedFor(pauses, "tickets")), Polls,
            failure: "The purchase never paused for the reserved tickets.");
        return (first, second);
    }

    /// <summary>The system's clock, noting the span of every timer asked of it (the grains' delays among them).</summary>
    private sealed class RecordedPauses : TimeProvider
    {
        private readonly System.Collections.Concurrent.ConcurrentQueue<TimeSpan> _asked = new();

        public IReadOnlyCollection<TimeSpan> Asked => _asked;

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
        {
            _asked.Enqueue(dueTime);
            return System.CreateTimer(callback, state, dueTime, period);
        }
    }

    /// <summary>What <see cref="HoldWhileOneWaitsAsync"/> saw: both outcomes, how long the second buyer waited on the hold, and the dispatcher's meter.</summary>
    private sealed record HeldSale(PurchaseStatus First, PurchaseStatus Second, TimeSpan Held, long RefreshesWhileHeld, long Refreshes, long ShardCalls);
}
