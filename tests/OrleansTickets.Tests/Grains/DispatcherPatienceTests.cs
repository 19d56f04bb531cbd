using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using OrleansTickets.Dispatch;
using OrleansTickets.Events;
using OrleansTickets.Inventory;
using OrleansTickets.Orders;
using OrleansTickets.Sales;
using OrleansTickets.Tests.Infrastructure;

namespace OrleansTickets.Tests.Grains;

/// <summary>
/// A buyer waits at most the dispatcher's patience (5 s) and a little more, whatever the shards do, and is then told
/// what is known: well before Orleans' 30 s call timeout, which would reach the buyer as "outcome unknown".
/// </summary>
[RunsLong]
public sealed class DispatcherPatienceTests(ITestOutputHelper output)
{
    // Patience plus the grace a home's answer gets, with room for a slow machine; the call timeout is 30 s.
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task A_keyless_order_whose_shard_keeps_refusing_is_told_nothing_was_sold_at_its_patience()
    {
        // The shard refuses every purchase as sold out, though its sales report (which a refresh reads) shows ten left:
        // a view that every refresh fills again, as a new dispatcher's view is fuller than the shards after a sale.
        var refusing = true;
        await using var cluster = await TicketingCluster.StartAsync(TestStorage.Sqlite(), configureSilo: TicketingCluster.Intercepting(
            new ShardAddress("refusing", "ga", 0), nameof(IInventoryShardGrain.Purchase), call =>
            {
                if (!Volatile.Read(ref refusing)) return call.Invoke();
                call.Result = new PurchaseResult(PurchaseStatus.SoldOut, Remaining: 0);
                return Task.Delay(20);
            }), output: output);
        await cluster.CreateEventAsync("refusing", TicketingCluster.Type("ga", capacity: 10, shards: 1));

        var clock = Stopwatch.StartNew();
        var result = await cluster.BuyAsync("refusing", "ga", 2);

        // Before, the loop went on without end: the call timed out at 30 s.
        Assert.Equal(PurchaseStatus.Unavailable, result.Status);
        Assert.True(clock.Elapsed < Bound, $"the buyer waited {clock.Elapsed}");
        Volatile.Write(ref refusing, false);
        Assert.Equal(PurchaseStatus.Created, (await cluster.BuyAsync("refusing", "ga", 2)).Status);
    }

    [Fact]
    public async Task A_keyed_order_whose_home_does_not_answer_is_told_the_outcome_is_unknown_at_its_patience()
    {
        // The home's silo froze: its answer would come only at the 30 s call timeout.
        var frozen = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var cluster = await TicketingCluster.StartAsync(TestStorage.Sqlite(),
            configureSilo: TicketingCluster.Freezing(new ShardAddress("frozen-home", "ga", 0), frozen.Task), output: output);
        await cluster.CreateEventAsync("frozen-home", TicketingCluster.Type("ga", capacity: 10, shards: 1));
        try
        {
            var clock = Stopwatch.StartNew();
            var result = await cluster.BuyAsync("frozen-home", "ga", 2, key: "frozen-home-key");

            // Before, the buyer waited for the call timeout. The home may still act on the ask, so the outcome is unknown,
            // and a retry with the key is safe.
            Assert.Equal(PurchaseStatus.Failed, result.Status);
            Assert.True(clock.Elapsed < Bound, $"the buyer waited {clock.Elapsed}");
        }
        finally
        {
            frozen.TrySetResult();
        }
        var retry = await cluster.BuyAsync("frozen-home", "ga", 2, key: "frozen-home-key");
        Assert.True(retry.Succeeded, $"the retry got {retry.Status}");
        Assert.Equal(2L, (await cluster.SalesAsync("frozen-home")).TicketTypes[0].Sold);
    }

    [Fact]
    public async Task A_keyed_buyer_whose_last_pause_reaches_its_patience_answers_without_one_more_refresh()
    {
        // Shard 0 is sold out; shard 1 holds the type's last tickets, and its database is down: its sales come back
        // "unavailable", it cannot say what it could sell, and it sells nothing. A buyer whose key's home is shard 0 is
        // refused there, and then can only refresh and pause, in turn, until its patience is spent.
        var down = false;
        var shard1 = new ShardAddress("keyed-outage", "ga", 1);
        await using var cluster = await TicketingCluster.StartAsync(TestStorage.Sqlite(),
            configureSilo: DatabaseDown(shard1, () => Volatile.Read(ref down), reportsUnavailable: true), output: output);
        var definition = await cluster.CreateEventAsync("keyed-outage", TicketingCluster.Type("ga", capacity: 20, shards: 2, maxPerOrder: 4));
        Assert.Equal(PurchaseStatus.Created, (await cluster.Shard("keyed-outage", "ga", 0).Purchase(TicketingCluster.KeylessPurchase("keyed-outage", "ga", 10))).Status);
        var homes = new KeyHomes(definition, await cluster.Client.GetEventGrain("keyed-outage").GetShardDatabases(), "ga");
        var keys = Enumerable.Range(0, 300).Select(n => $"keyed-outage-{n}").Where(candidate => homes.HomeOf(candidate) == 0).Take(3).ToList();
        Assert.Equal(3, keys.Count);
        // The dispatcher loads the type before the clock starts: an order over the limit is answered from the definition.
        Assert.Equal(PurchaseStatus.TooManyTickets, (await cluster.BuyAsync("keyed-outage", "ga", 5)).Status);
        Volatile.Write(ref down, true);

        // Each refresh is followed by a pause, the last of which ends at the patience, and the buyer is answered from
        // the refresh before it. Before, the buyer went round once more after that pause, and refreshed every shard only
        // to find its time up: one refresh more than pauses. That also happens, rightly, when a refresh that started in
        // time ends after the patience (a pause that ended a refresh's length before it): not common, so another buyer
        // is tried then, up to three, where the old behaviour fails every time.
        var (refreshed, paused) = (0L, 0L);
        foreach (var key in keys)
        {
            using var refreshes = cluster.CollectMetric<long>("orleanstickets.dispatch.refreshes");
            using var pauses = cluster.CollectMetric<long>("orleanstickets.dispatch.pauses");
            var clock = Stopwatch.StartNew();
            var result = await cluster.BuyAsync("keyed-outage", "ga", 1, key: key);
            Assert.Equal(PurchaseStatus.Unavailable, result.Status);
            Assert.True(clock.Elapsed < Bound, $"the buyer waited {clock.Elapsed}");
            refreshed = refreshes.GetMeasurementSnapshot().Sum(m => m.Value);
            paused = pauses.GetMeasurementSnapshot().Where(m => (string?)m.Tags["reason"] == "tickets").Sum(m => m.Value);
            output.WriteLine($"{key}: {refreshed} refreshes, {paused} pauses for tickets");
            Assert.True(refreshed > 1, "the buyer never waited on refreshes; the test proves nothing");
            if (refreshed == paused) break;
        }
        Assert.Equal(paused, refreshed);

        Volatile.Write(ref down, false);
        Assert.Equal(PurchaseStatus.Created, (await cluster.BuyAsync("keyed-outage", "ga", 1, key: keys[0])).Status);
    }

    [Fact]
    public async Task Keyed_buyers_whose_home_has_answered_nothing_definite_for_a_second_ask_it_with_a_second_s_patience()
    {
        // Shard 0's database is down: every purchase it is asked comes back "unavailable". A buyer whose key is homed
        // there can be served nowhere else, and each used to hold its admission slot for its whole patience (5 s).
        var down = false;
        var home = new ShardAddress("home-down", "ga", 0);
        await using var cluster = await TicketingCluster.StartAsync(TestStorage.Sqlite(),
            configureSilo: DatabaseDown(home, () => Volatile.Read(ref down), reportsUnavailable: true), output: output);
        var definition = await cluster.CreateEventAsync("home-down", TicketingCluster.Type("ga", capacity: 20, shards: 2, maxPerOrder: 4));
        var homes = new KeyHomes(definition, await cluster.Client.GetEventGrain("home-down").GetShardDatabases(), "ga");
        var candidates = Enumerable.Range(0, 300).Select(n => $"home-down-{n}").ToList();
        var keys = candidates.Where(candidate => homes.HomeOf(candidate) == 0).Take(10).ToList();
        var elsewhere = candidates.First(candidate => homes.HomeOf(candidate) == 1);
        Assert.Equal(10, keys.Count);
        Assert.Equal(PurchaseStatus.TooManyTickets, (await cluster.BuyAsync("home-down", "ga", 5)).Status);
        Volatile.Write(ref down, true);

        // The first buyer has its whole patience; a second on, the home has answered nothing definite all along.
        var first = cluster.BuyAsync("home-down", "ga", 1, key: keys[0]);
        // A margin for the first buyer's first "unavailable" to come back on a busy machine, well inside its 5 s patience.
        await Task.Delay(KeyHomeOutage.DownAfter + TimeSpan.FromMilliseconds(700));
        var clock = Stopwatch.StartNew();
        var hurried = await cluster.BuyAsync("home-down", "ga", 1, key: keys[1]);
        Assert.Equal(PurchaseStatus.Unavailable, hurried.Status);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(3), $"the buyer homed on the down shard waited {clock.Elapsed}");
        Assert.False(first.IsCompleted, "the first buyer was answered before its patience");
        // A buyer homed on the healthy shard is served meanwhile.
        Assert.Equal(PurchaseStatus.Created, (await cluster.BuyAsync("home-down", "ga", 1, key: elsewhere)).Status);

        // The database comes back: each buyer asks for itself, so a crowd arriving now is served, and so is the first.
        Volatile.Write(ref down, false);
        var crowd = await Task.WhenAll(keys.Skip(1).Select(k => cluster.BuyAsync("home-down", "ga", 1, key: k)));
        Assert.All(crowd, result => Assert.Equal(PurchaseStatus.Created, result.Status));
        Assert.Equal(PurchaseStatus.Created, (await first.WaitAsync(Bound)).Status);
        Assert.Equal(11L, (await cluster.SalesAsync("home-down")).TicketTypes[0].Sold);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_buyer_whose_patience_ends_during_a_slow_refresh_is_answered_before_the_refresh_ends(bool keyed)
    {
        // The type is sold out, but the dispatcher's view still shows its first block. The buyer's one refusal comes as its
        // patience is nearly spent (the clock leaps 4 s of its 5), and the refresh that would give the verdict is slow:
        // the catalog answers what it granted after 1.9 s, the shard its sales after 1.9 s more, and the catalog's storage
        // not before the refresh gives up on it (2 s): about 5.8 s, as when a catalog or a silo froze.
        var clock = new LeapingTimestamps();
        var armed = false;
        var refreshAsked = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var storageReleased = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var shard = new ShardAddress("slow-refresh", "ga", 0);
        await using var cluster = await TicketingCluster.StartAsync(TestStorage.Sqlite(), configureSilo: silo =>
        {
            silo.Services.AddSingleton<TimeProvider>(clock);
            TicketingCluster.Intercepting(shard, nameof(IInventoryShardGrain.Purchase), call =>
            {
                if (Volatile.Read(ref armed)) clock.Leap(TimeSpan.FromSeconds(4));
                return call.Invoke();
            })(silo);
            TicketingCluster.Intercepting(shard, nameof(IInventoryShardGrain.GetSales), async call =>
            {
                if (Volatile.Read(ref armed)) await Task.Delay(TimeSpan.FromSeconds(1.9));
                await call.Invoke();
            })(silo);
            silo.AddIncomingGrainCallFilter(async call =>
            {
                if (Volatile.Read(ref armed) && call.TargetId.Key.ToString() == "event/slow-refresh")
                {
                    if (call.InterfaceMethod.Name == nameof(ITicketEventGrain.GetGrantedCapacity))
                    {
                        refreshAsked.TrySetResult();
                        await Task.Delay(TimeSpan.FromSeconds(1.9));
                    }
                    else if (call.InterfaceMethod.Name == nameof(ITicketEventGrain.ReadGrantedEver))
                    {
                        await storageReleased.Task;
                    }
                }
                await call.Invoke();
            });
        }, output: output);
        await cluster.CreateEventAsync("slow-refresh", TicketingCluster.Type("ga", capacity: 2, shards: 1, maxPerOrder: 4));
        Assert.Equal(PurchaseStatus.Created, (await cluster.Shard("slow-refresh", "ga", 0).Purchase(TicketingCluster.KeylessPurchase("slow-refresh", "ga", 2))).Status);
        // The dispatcher loads the type (and its view of 2 tickets) before the clock starts.
        Assert.Equal(PurchaseStatus.TooManyTickets, (await cluster.BuyAsync("slow-refresh", "ga", 5)).Status);
        Volatile.Write(ref armed, true);
        try
        {
            var watch = Stopwatch.StartNew();
            var result = await cluster.BuyAsync("slow-refresh", "ga", 1, key: keyed ? "slow-refresh-key" : null);

            Assert.True(refreshAsked.Task.IsCompleted, "the buyer never waited on a refresh; the test proves nothing");
            // Nothing was sold, and the buyer hears so 2 s past its patience (1 s of it left when the refresh began):
            // about 3 s here. Before, it waited for the refresh's end, 5.8 s (3.8 s at the very least, on a machine so
            // slow that the catalog's first answer came after the refresh's 2 s for it).
            Assert.Equal(PurchaseStatus.Unavailable, result.Status);
            Assert.True(watch.Elapsed < TimeSpan.FromSeconds(4.5), $"the buyer waited {watch.Elapsed}");
        }
        finally
        {
            Volatile.Write(ref armed, false);
            storageReleased.TrySetResult();
        }
        // The refresh the buyer left ran on and ended (within its steps' 2 s each): the next buyer, waiting for it or
        // starting another, gets the verdict.
        Assert.Equal(PurchaseStatus.SoldOut, (await cluster.BuyAsync("slow-refresh", "ga", 1, key: keyed ? "slow-refresh-key-2" : null)).Status);
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(true, true)]
    public async Task A_buyer_waiting_on_tickets_a_shard_cannot_reach_backs_off_instead_of_refreshing_every_10_ms(bool reportsUnavailable, bool earlyTimers)
    {
        // Shard 1 holds the type's last tickets, and its database is down: it answers no purchase, and its sales either
        // not at all or, as a shard whose database is down does, with its count marked "unavailable". No refresh can
        // prove "sold out", so the buyer can only wait out its patience, and the pauses double all the way (the short
        // pauses of a healthy end are only for refreshes every shard answered with a count it read).
        var down = false;
        var shard1 = new ShardAddress("outage", "ga", 1);
        await using var cluster = await TicketingCluster.StartAsync(TestStorage.Sqlite(),
            configureSilo: silo =>
            {
                DatabaseDown(shard1, () => Volatile.Read(ref down), reportsUnavailable)(silo);
                // The last registration is the one resolved: the grains' clock becomes one whose timers end early.
                if (earlyTimers) silo.Services.AddSingleton<TimeProvider>(new EarlyTimers());
            }, output: output);
        await cluster.CreateEventAsync("outage", TicketingCluster.Type("ga", capacity: 20, shards: 2));
        Assert.Equal(PurchaseStatus.Created, (await cluster.Shard("outage", "ga", 0).Purchase(TicketingCluster.KeylessPurchase("outage", "ga", 10))).Status);
        using var refreshes = cluster.CollectMetric<long>("orleanstickets.dispatch.refreshes");
        Volatile.Write(ref down, true);

        var clock = Stopwatch.StartNew();
        var result = await cluster.BuyAsync("outage", "ga", 1);

        Assert.Equal(PurchaseStatus.Unavailable, result.Status);
        Assert.True(clock.Elapsed < Bound, $"the buyer waited {clock.Elapsed}");
        // Pauses of 10, 20, 40, 80, 160, then 320 ms: about 20 refreshes in the 5 s. At a fixed 10 ms it was one every
        // 10 ms and a refresh's time, hundreds.
        var measured = refreshes.GetMeasurementSnapshot();
        var counted = measured.Sum(m => m.Value);
        var gaps = measured.Zip(measured.Skip(1), (before, after) => (after.Timestamp - before.Timestamp).TotalMilliseconds).ToList();
        var shown = $"{counted} refreshes in {clock.Elapsed.TotalMilliseconds:F0} ms; ms between them: {string.Join(" ", gaps.Select(gap => gap.ToString("F0", System.Globalization.CultureInfo.InvariantCulture)))}";
        output.WriteLine(shown);
        Assert.True(counted <= 40, shown);
        // Every refresh after the first follows a pause of at least 10 ms, which a timer may end a few ms early. Woken
        // just before its patience ended, the buyer used to go round again at once, refreshing every shard each time
        // (gaps of 0 or 1 ms at the end, and once 59 refreshes in all). With the system's timers that showed in about 1
        // run in 6. A pause that trusts its timer through the grain's clock, on timers that always end early
        // (EarlyTimers), failed 1 of the 2 runs tried; in the other its extra refresh ended after the patience.
        Assert.True(gaps.TrueForAll(gap => gap >= 3), shown);

        // Back up: the next buyer gets the tickets at once.
        Volatile.Write(ref down, false);
        Assert.Equal(PurchaseStatus.Created, (await cluster.BuyAsync("outage", "ga", 1)).Status);
    }

    /// <summary>
    /// Silo set-up that plays <paramref name="shard"/> with its database down while <paramref name="isDown"/> says so:
    /// its sales fail, or come back marked "unavailable" as a shard whose database is down reports them
    /// (<paramref name="reportsUnavailable"/>); it cannot say what it could sell; and it sells nothing.
    /// </summary>
    private static Action<ISiloBuilder> DatabaseDown(ShardAddress shard, Func<bool> isDown, bool reportsUnavailable) => silo =>
    {
        TicketingCluster.Intercepting(shard, nameof(IInventoryShardGrain.GetSales), call =>
        {
            if (!isDown()) return call.Invoke();
            if (!reportsUnavailable) return Task.FromException(new InvalidOperationException("The shard's database is down."));
            call.Result = new ShardSales(shard.Index, 10, 0, 10, ShardStatus.Unavailable);
            return Task.CompletedTask;
        })(silo);
        TicketingCluster.Intercepting(shard, nameof(IInventoryShardGrain.HoldForForward), call =>
        {
            if (!isDown()) return call.Invoke();
            call.Result = -1L;
            return Task.CompletedTask;
        })(silo);
        TicketingCluster.Intercepting(shard, nameof(IInventoryShardGrain.Purchase), call =>
        {
            if (!isDown()) return call.Invoke();
            call.Result = PurchaseResult.Unavailable;
            return Task.CompletedTask;
        })(silo);
    };

    /// <summary>
    /// The system's clock, but every timer ends 3 ms before it is due: what .NET's timers can do by a grain's clock
    /// (a delay's span cut to whole milliseconds, timers on a millisecond clock of their own), here on every pause
    /// rather than now and then. A pause that trusts its timer to end at the buyer's patience wakes before it, every time.
    /// </summary>
    private sealed class EarlyTimers : TimeProvider
    {
        private static readonly TimeSpan Early = TimeSpan.FromMilliseconds(3);

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period) =>
            System.CreateTimer(callback, state, dueTime == Timeout.InfiniteTimeSpan ? dueTime : dueTime > Early ? dueTime - Early : TimeSpan.Zero, period);
    }
}
