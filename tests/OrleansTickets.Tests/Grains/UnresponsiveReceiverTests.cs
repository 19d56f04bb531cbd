using Microsoft.Extensions.DependencyInjection;
using OrleansTickets.Events;
using OrleansTickets.Inventory;
using OrleansTickets.Orders;
using OrleansTickets.Tests.Infrastructure;
using OrleansTickets.Tickets;

namespace OrleansTickets.Tests.Grains;

/// <summary>
/// Tickets handed between shards (a drain, gathering) are not sent to a shard that cannot take them in now, and
/// tickets a drained shard gets back go on to another shard: no ticket waits unsellable on a shard nobody can use.
/// </summary>
[RunsLong]
public sealed class UnresponsiveReceiverTests(ITestOutputHelper output)
{
    // 20 s for timers and redeliveries: 200 polls, 100 ms apart.
    private const int Polls = 200;

    [Fact]
    public async Task A_drain_passes_over_a_shard_that_does_not_answer_and_moves_everything_to_the_next()
    {
        var silent = new SilentShard(new ShardAddress("skip", "ga", 1));
        await using var cluster = await StartAsync(silent);
        await cluster.CreateEventAsync("skip", TicketingCluster.Type("ga", capacity: 30, shards: 3));
        await cluster.Shard("skip", "ga", 1).GetSales();

        silent.Silence(all: true);
        var drained = await cluster.Shard("skip", "ga", 0).Drain();
        silent.Answer();

        // A gift recorded for shard 1 would sit in transit, sellable by nobody, until it answered again.
        Assert.Equal((true, 10L, 0L, 0L), (drained.Available, drained.Moved, drained.InTransit, drained.Left));
        var shards = (await cluster.SalesAsync("skip")).TicketTypes[0].Shards;
        Assert.Equal([0L, 10L, 20L], shards.Select(s => s.Remaining));
    }

    [Fact]
    public async Task Tickets_a_drained_shard_takes_back_from_a_drained_receiver_go_on_to_another_shard()
    {
        var silent = new SilentShard(new ShardAddress("bounce", "ga", 1));
        await using var cluster = await StartAsync(silent);
        await cluster.CreateEventAsync("bounce", TicketingCluster.Type("ga", capacity: 30, shards: 3));

        // Shard 1 answers questions but cannot take a gift in: the drain's gift to it stays in transit, and says so.
        silent.Silence(all: false);
        var first = await cluster.Shard("bounce", "ga", 0).Drain();
        Assert.Equal((10L, 0L, 0L), (first.InTransit, first.Moved, first.Left));

        // Before the gift is delivered, shard 1 is drained too; then it answers again and refuses the gift.
        var second = await cluster.Shard("bounce", "ga", 1).Drain();
        Assert.Equal((10L, 0L), (second.Moved, second.Left));
        silent.Answer();

        await Poll.UntilAsync(async () => (await cluster.SalesAsync("bounce")).TicketTypes[0].Shards[2].Remaining == 30, Polls,
            failure: "The tickets shard 0 took back never reached shard 2.");
        var shards = (await cluster.SalesAsync("bounce")).TicketTypes[0].Shards;
        Assert.Equal([0L, 0L, 30L], shards.Select(s => s.Remaining));
        Assert.All(shards, s => Assert.Equal(0L, s.InTransit));
        Assert.Equal([true, true, false], shards.Select(s => s.Retired));
        // Shard 0 settled two gifts: the one that came back, and the one to shard 2. Drained shard 1 was not offered
        // the tickets again (a gift and a take-back for nothing).
        Assert.Equal(20L, shards[0].Settled);
        Assert.Equal(30, (await SellOutAsync(cluster, "bounce", 30)));
    }

    [Fact]
    public async Task Tickets_taken_back_during_the_walks_last_step_are_handed_on_after_it()
    {
        // Shard 0 drains: shard 1 does not answer its question then, and shard 2, the walk's last step, is asked and
        // sent the gift, whose delivery is held. Meanwhile shard 2 is drained too, so it refuses the gift, and shard 0
        // takes the tickets back while its walk is on that last step.
        var quiet = new ShardAddress("late-back", "ga", 1);
        var last = new ShardAddress("late-back", "ga", 2);
        var quietSilent = true;
        var holdLast = true;
        var lastReached = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var lastRelease = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var cluster = await TicketingCluster.StartAsync(TestStorage.Sqlite(), configureSilo: silo => silo.AddIncomingGrainCallFilter(async call =>
        {
            var target = call.TargetId.Key.ToString();
            if (target == quiet.Key && call.InterfaceMethod.Name == nameof(IInventoryShardGrain.GetSales) && Volatile.Read(ref quietSilent))
            {
                throw new TimeoutException("Shard 1's silo did not answer (played by a test).");
            }
            if (target == last.Key && call.InterfaceMethod.Name == nameof(IInventoryShardGrain.AcceptTransfer) && Volatile.Read(ref holdLast)
                && lastReached.TrySetResult())
            {
                await lastRelease.Task;
            }
            await call.Invoke();
        }), output: output);
        await cluster.CreateEventAsync("late-back", TicketingCluster.Type("ga", capacity: 30, shards: 3));
        var drained = cluster.Shard("late-back", "ga", 0);
        try
        {
            var drain = drained.Drain();
            await lastReached.Task.WaitAsync(TimeSpan.FromSeconds(20));
            // Shard 2's own drain finds shard 0 drained and shard 1 silent: its ten stay on it.
            Assert.Equal(10L, (await cluster.Shard("late-back", "ga", 2).Drain()).Left);
            Volatile.Write(ref quietSilent, false);
            lastRelease.TrySetResult();
            await drain;

            // Before, the walk had passed its last receiver, and the ten stayed on the drained shard.
            await Poll.UntilAsync(async () => (await drained.GetSales()) is { Remaining: 0, InTransit: 0 }, Polls,
                failure: "The tickets taken back during the walk stayed on the drained shard.");
            var shards = (await cluster.SalesAsync("late-back")).TicketTypes[0].Shards;
            Assert.Equal([0L, 20L, 10L], shards.Select(s => s.Remaining));
        }
        finally
        {
            Volatile.Write(ref quietSilent, false);
            Volatile.Write(ref holdLast, false);
            lastRelease.TrySetResult();
        }
    }

    [Fact]
    public async Task A_drained_shard_that_finds_tickets_on_itself_when_it_loads_hands_them_on()
    {
        // Shard 0 is drained while shard 1 does not answer, so its ten stay on it. Its next activation finds them there,
        // as a reload does after a take-back whose commit failed but landed; they stayed until an operator drained the
        // shard again.
        var silent = new SilentShard(new ShardAddress("reload", "ga", 1));
        await using var cluster = await StartAsync(silent);
        await cluster.CreateEventAsync("reload", TicketingCluster.Type("ga", capacity: 20, shards: 2));
        silent.Silence(all: true);
        Assert.Equal(10L, (await cluster.Shard("reload", "ga", 0).Drain()).Left);
        silent.Answer();

        await cluster.Cluster.DeactivateAsync(cluster.Shard("reload", "ga", 0));

        await Poll.UntilAsync(async () => (await cluster.Shard("reload", "ga", 0).GetSales()) is { Remaining: 0, InTransit: 0 }, Polls,
            failure: "The reactivated drained shard kept its tickets.");
        var shards = (await cluster.SalesAsync("reload")).TicketTypes[0].Shards;
        Assert.Equal([0L, 20L], shards.Select(s => s.Remaining));
        Assert.Equal([true, false], shards.Select(s => s.Retired));
    }

    [Fact]
    public async Task Tickets_a_load_finds_during_a_walk_that_cannot_place_them_go_on_after_it()
    {
        // Shard 0 was drained while shards 1 and 2 did not answer. It is drained again: shard 1's question hangs for a
        // while, and meanwhile a sale's commit cycle fails (a disposed signer stands in for any fault) and the next call
        // reloads the shard, inside the walk. The walk then finds no receiver. The delivery timer ticks during it, and
        // must not give up on those tickets before the walk ends.
        var signer = new TicketCodeSigner(Convert.FromBase64String(TestStorage.SigningKey));
        var (one, two) = (new ShardAddress("found", "ga", 1), new ShardAddress("found", "ga", 2));
        var silent = true;
        var holdOne = false;
        var twoFailsOnce = 1;
        var oneHeld = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var releaseOne = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var cluster = await TicketingCluster.StartAsync(TestStorage.Sqlite(), configureSilo: silo =>
        {
            silo.Services.AddSingleton(signer);
            silo.AddIncomingGrainCallFilter(async call =>
            {
                var target = call.TargetId.Key.ToString();
                if ((target == one.Key || target == two.Key) && call.InterfaceMethod.Name == nameof(IInventoryShardGrain.GetSales))
                {
                    // In the second drain, each fails once (shard 1 after its hang): the walk places nothing, and any later
                    // walk finds both answering.
                    var failsNow = Volatile.Read(ref holdOne)
                        ? (target == one.Key && oneHeld.TrySetResult()) || (target == two.Key && Interlocked.Exchange(ref twoFailsOnce, 0) == 1)
                        : Volatile.Read(ref silent);
                    if (failsNow && target == one.Key && Volatile.Read(ref holdOne)) await releaseOne.Task;
                    if (failsNow) throw new TimeoutException("The shard's silo did not answer (played by a test).");
                }
                await call.Invoke();
            });
        }, output: output);
        await cluster.CreateEventAsync("found", TicketingCluster.Type("ga", capacity: 30, shards: 3));
        var drained = cluster.Shard("found", "ga", 0);
        try
        {
            Assert.Equal(10L, (await drained.Drain()).Left);

            Volatile.Write(ref silent, false);
            Volatile.Write(ref holdOne, true);
            var again = drained.Drain();
            await oneHeld.Task.WaitAsync(TimeSpan.FromSeconds(20));
            signer.Dispose();
            Assert.Equal(PurchaseStatus.Unavailable, (await drained.Purchase(TicketingCluster.KeylessPurchase("found", "ga", 1))).Status);
            // This call reloads the shard while the walk waits on shard 1; the timer (1 s) then ticks during the walk.
            Assert.True((await drained.GetSales()).Known);
            await Task.Delay(TimeSpan.FromSeconds(2.5));
            releaseOne.TrySetResult();
            Assert.Equal(10L, (await again).Left);

            await Poll.UntilAsync(async () => (await drained.GetSales()) is { Remaining: 0, InTransit: 0 }, Polls,
                failure: "The tickets the load found during the walk stayed on the drained shard.");
            var shards = (await cluster.SalesAsync("found")).TicketTypes[0].Shards;
            Assert.Equal(30L, shards.Sum(s => s.Remaining));
        }
        finally
        {
            releaseOne.TrySetResult();
        }
    }

    [Fact]
    public async Task A_shard_keeps_its_last_tickets_to_sell_when_its_collector_does_not_answer()
    {
        // 8 shards of 10 (two on each of the 4 test databases, so blocks shared by database are still 10 each), at most 4 tickets per order: shard 5 gathers to shard 1, which does not answer.
        var silent = new SilentShard(new ShardAddress("lonely", "ga", 1));
        await using var cluster = await StartAsync(silent);
        await cluster.CreateEventAsync("lonely", TicketingCluster.Type("ga", capacity: 80, shards: 8, maxPerOrder: 4));
        var giver = cluster.Shard("lonely", "ga", 5);
        silent.Silence(all: true);

        for (var i = 0; i < 2; i++) Assert.Equal(PurchaseStatus.Created, (await giver.Purchase(TicketingCluster.KeylessPurchase("lonely", "ga", 4))).Status);

        await Poll.UntilAsync(async () => await giver.GetSellable() == 2, Polls,
            failure: "The last two tickets went to a collector that cannot take them in.");
        Assert.Equal(PurchaseStatus.Created, (await giver.Purchase(TicketingCluster.KeylessPurchase("lonely", "ga", 2))).Status);
        silent.Answer();
        var shards = (await cluster.SalesAsync("lonely")).TicketTypes[0].Shards;
        Assert.Equal((10L, 10L, 0L), (shards[5].Capacity, shards[5].Sold, shards[5].InTransit));
        Assert.Equal(10L, shards[1].Capacity);
    }

    [Fact]
    public async Task A_drain_while_a_gathering_waits_on_its_collector_counts_those_tickets_and_hands_them_on()
    {
        // Shard 5's last two tickets are held while it asks its collector (shard 1), which takes its time and then
        // fails. A drain meanwhile cannot give them away; it must not call the shard empty, and once the question
        // ends the drained shard hands them on itself.
        var silent = new SilentShard(new ShardAddress("held", "ga", 1));
        await using var cluster = await StartAsync(silent);
        await cluster.CreateEventAsync("held", TicketingCluster.Type("ga", capacity: 80, shards: 8, maxPerOrder: 4));
        var giver = cluster.Shard("held", "ga", 5);
        silent.Slow();

        for (var i = 0; i < 2; i++) Assert.Equal(PurchaseStatus.Created, (await giver.Purchase(TicketingCluster.KeylessPurchase("held", "ga", 4))).Status);
        var drained = await giver.Drain();
        Assert.Equal((0L, 0L, 2L), (drained.Moved, drained.InTransit, drained.Left));

        await Poll.UntilAsync(async () => (await giver.GetSales()) is { Remaining: 0, InTransit: 0 }, Polls,
            failure: "The drained shard kept the tickets its gathering had held.");
        silent.Answer();
        var shards = (await cluster.SalesAsync("held")).TicketTypes[0].Shards;
        Assert.Equal((8L, 8L), (shards[5].Capacity, shards[5].Sold));
        Assert.Equal(80L, shards.Sum(s => s.Capacity));
        Assert.Equal(72L, shards.Sum(s => s.Remaining));
    }

    [Fact]
    public async Task A_drain_past_several_frozen_shards_answers_before_the_call_timeout_and_says_what_is_left()
    {
        // Shards 1-4 froze with their silo: their sales reports never come. Each question waits its 10 s, so a walk
        // past all four took 40 s, the operator's call timed out at 30 s (a 503 read as "nothing moved") while the
        // shard was already drained and the walk went on behind their back.
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var cluster = await TicketingCluster.StartAsync(TestStorage.Sqlite(), configureSilo: silo =>
        {
            foreach (var index in Enumerable.Range(1, 4))
            {
                TicketingCluster.Intercepting(new ShardAddress("frozen", "ga", index), nameof(IInventoryShardGrain.GetSales), async call =>
                {
                    await release.Task;
                    await call.Invoke();
                })(silo);
            }
        }, output: output);
        await cluster.CreateEventAsync("frozen", TicketingCluster.Type("ga", capacity: 80, shards: 8));
        try
        {
            var drained = await cluster.Shard("frozen", "ga", 0).Drain();

            // The walk stopped asking in time to answer; the tickets it could not place are still on shard 0, and
            // "left" says so, so the operator drains again once the silo is back or declared dead.
            Assert.Equal((true, 0L, 0L, 10L), (drained.Available, drained.Moved, drained.InTransit, drained.Left));
        }
        finally
        {
            release.TrySetResult();
        }
        var again = await cluster.Shard("frozen", "ga", 0).Drain();
        Assert.Equal((10L, 0L, 0L), (again.Moved, again.InTransit, again.Left));
    }

    [Theory, InlineData(null), InlineData("a-buyer-s-key")]
    public async Task An_order_no_shard_can_fill_is_pulled_into_an_open_shard_not_into_a_drained_one_holding_more(string? key)
    {
        // Shards 1 and 2 do not answer while shard 0 is drained, so it keeps its ten tickets. Sold down to three it holds
        // the most, but a drained shard takes nothing in: every gift a pull into it asked for came back, for the whole
        // five seconds of the dispatcher's patience, and the buyer got 503 while five tickets were unsold.
        var silent = new SilentShard(new ShardAddress("pull", "ga", 1), new ShardAddress("pull", "ga", 2));
        await using var cluster = await StartAsync(silent);
        await cluster.CreateEventAsync("pull", TicketingCluster.Type("ga", capacity: 30, shards: 3, maxPerOrder: 4));
        silent.Silence(all: true);
        var drained = await cluster.Shard("pull", "ga", 0).Drain();
        silent.Answer();
        Assert.Equal((0L, 10L), (drained.Moved, drained.Left));
        await SellOnEachAsync(cluster, "pull", new[] { (0, new[] { 4, 3 }), (1, [4, 4, 1]), (2, [4, 4, 1]) });

        var result = await cluster.BuyAsync("pull", "ga", 4, key);

        Assert.Equal(PurchaseStatus.Created, result.Status);
        var shards = (await cluster.SalesAsync("pull")).TicketTypes[0].Shards;
        Assert.Equal(1L, shards.Sum(s => s.Remaining));
        Assert.True(shards[0].Retired);
    }

    [Theory, InlineData(null), InlineData("a-buyer-s-key")]
    public async Task An_order_only_drained_shards_hold_tickets_for_is_pulled_into_an_empty_open_shard(string? key)
    {
        // Shards 0 and 1 are each drained while no other shard can take tickets in, so both keep theirs; shard 2 sells
        // out. Together the drained shards hold the four tickets an order asks for, but neither takes a gift: only the
        // empty shard 2 can. The key's home is shard 2 itself (one database per shard here, and the key hashes to the
        // third): a home forwards to another shard, but with none able to receive it pulls for itself.
        var (one, two) = (new ShardAddress("empty", "ga", 1), new ShardAddress("empty", "ga", 2));
        var silent = new SilentShard(one, two);
        await using var cluster = await StartAsync(silent);
        await cluster.CreateEventAsync("empty", TicketingCluster.Type("ga", capacity: 30, shards: 3, maxPerOrder: 4));
        silent.Silence(all: true);
        Assert.Equal(10L, (await cluster.Shard("empty", "ga", 0).Drain()).Left);
        silent.Silence(all: true, two);
        Assert.Equal(10L, (await cluster.Shard("empty", "ga", 1).Drain()).Left);
        silent.Answer();
        await SellOnEachAsync(cluster, "empty", new[] { (0, new[] { 4, 4 }), (1, [4, 4]), (2, [4, 4, 2]) });

        var result = await cluster.BuyAsync("empty", "ga", 4, key);

        Assert.Equal(PurchaseStatus.Created, result.Status);
        var shards = (await cluster.SalesAsync("empty")).TicketTypes[0].Shards;
        Assert.Equal([0L, 0L, 0L], shards.Select(s => s.Remaining));
        Assert.Equal([true, true, false], shards.Select(s => s.Retired));
    }

    /// <summary>Sells, straight on each named shard of type "ga", orders of the given quantities.</summary>
    private static async Task SellOnEachAsync(TicketingCluster cluster, string eventId, IEnumerable<(int Index, int[] Quantities)> sales)
    {
        foreach (var (index, quantities) in sales)
        {
            foreach (var quantity in quantities)
            {
                var sale = await cluster.Shard(eventId, "ga", index).Purchase(TicketingCluster.KeylessPurchase(eventId, "ga", quantity));
                Assert.Equal(PurchaseStatus.Created, sale.Status);
            }
        }
    }

    private Task<TicketingCluster> StartAsync(SilentShard silent) =>
        TicketingCluster.StartAsync(TestStorage.Sqlite(), configureSilo: silo => silo.AddIncomingGrainCallFilter(silent.Invoke), output: output);

    private static async Task<int> SellOutAsync(TicketingCluster cluster, string eventId, int capacity)
    {
        var tickets = 0;
        while (tickets < capacity)
        {
            var result = await cluster.BuyAsync(eventId, "ga", 1);
            Assert.Equal(PurchaseStatus.Created, result.Status);
            tickets += result.Order!.Quantity;
        }
        Assert.Equal(PurchaseStatus.SoldOut, (await cluster.BuyAsync(eventId, "ga", 1)).Status);
        return tickets;
    }

    /// <summary>
    /// Plays shards whose silo stopped answering: while silenced, calls to them (or only the gifts they are offered) fail
    /// as timed out without running.
    /// </summary>
    private sealed class SilentShard(params ShardAddress[] shards)
    {
        private volatile HashSet<string> _keys = [.. shards.Select(s => s.Key)];
        private volatile int _mode;

        /// <summary>Silences <paramref name="only"/> when given, else every shard this was made with.</summary>
        public void Silence(bool all, params ShardAddress[] only)
        {
            _keys = [.. (only.Length > 0 ? only : shards).Select(s => s.Key)];
            _mode = all ? 2 : 1;
        }

        /// <summary>Its sales report comes only after 3 s, and then fails: a silo too slow to be waited for.</summary>
        public void Slow() => _mode = 3;

        public void Answer() => _mode = 0;

        public async Task Invoke(IIncomingGrainCallContext call)
        {
            if (_mode == 3 && _keys.Contains(call.TargetId.Key.ToString()!) && call.InterfaceMethod.Name == nameof(IInventoryShardGrain.GetSales))
            {
                await Task.Delay(TimeSpan.FromSeconds(3));
                throw new TimeoutException("The shard's silo did not answer in time (played by a test).");
            }
            await InvokeSilenced(call);
        }

        private Task InvokeSilenced(IIncomingGrainCallContext call)
        {
            var mode = _mode;
            var silenced = mode == 2 || (mode == 1 && call.InterfaceMethod.Name == nameof(IInventoryShardGrain.AcceptTransfer));
            return silenced && _keys.Contains(call.TargetId.Key.ToString()!)
                ? throw new TimeoutException("The shard's silo did not answer (played by a test).")
                : call.Invoke();
        }
    }
}
