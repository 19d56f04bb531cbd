using OrleansTickets.Events;
using OrleansTickets.Inventory;
using OrleansTickets.Tests.Infrastructure;

namespace OrleansTickets.Tests.Grains;

/// <summary>
/// Operators' capacity grants pending on shards whose silo froze: the catalog's redelivery tick must not hold
/// operators and pages behind one unanswered offer after another, and a shard that comes back gets its grant.
/// </summary>
[RunsLong]
public sealed class FrozenShardGrantTests(ITestOutputHelper output)
{
    [Theory]
    // Two grants on one frozen shard: one unanswered offer per tick, not one per grant (10 s before the silent shards
    // of a tick were remembered; the tick's budget alone now stops it after the first).
    [InlineData(new[] { 0, 0 })]
    // One grant on each of three frozen shards: a tick stops once it used its budget, not after every shard (15 s before).
    [InlineData(new[] { 0, 1, 2 })]
    public async Task Grants_pending_on_frozen_shards_hold_an_operator_for_one_unanswered_offer_per_tick(int[] grantShards)
    {
        // Transfers offered to a frozen shard are never answered, and each unanswered offer holds the catalog for its
        // 5 s delivery timeout, while every operator and page waits behind the redelivery tick.
        var frozen = grantShards.Select(index => $"ticks/ga/{index}").ToHashSet();
        var operatorShard = grantShards.Max() + 1;
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var offers = new SemaphoreSlim(0);
        var frozenOffers = 0;
        var offeredWhenServed = -1;
        await using var cluster = await TicketingCluster.StartAsync(TestStorage.Sqlite(), configureSilo: silo => silo.AddIncomingGrainCallFilter(async call =>
        {
            // Read as the catalog takes the operator's call in, which is when the tick it met has ended: by the time the
            // answer reaches the test, on a loaded machine, the timer's next tick may have begun offering again.
            if (call.InterfaceMethod.Name == nameof(ITicketEventGrain.AddCapacity) && (string?)call.Request.GetArgument(3) == "tick-operator")
            {
                Volatile.Write(ref offeredWhenServed, Volatile.Read(ref frozenOffers));
            }
            if (call.InterfaceMethod.Name == nameof(IInventoryShardGrain.AcceptTransfer) && frozen.Contains(call.TargetId.Key.ToString()!))
            {
                Interlocked.Increment(ref frozenOffers);
                // The first grant's offers mark the start of a tick: a tick used to offer every grant from the first,
                // and one that starts with it now stops after it.
                if (((TicketTransfer)call.Request.GetArgument(0)!).TransferId.EndsWith("/1", StringComparison.Ordinal)) offers.Release();
                await release.Task;
            }
            await call.Invoke();
        }), output: output);
        await cluster.CreateEventAsync("ticks", TicketingCluster.Type("ga", capacity: 2 * (operatorShard + 1), shards: operatorShard + 1));
        var catalog = cluster.Client.GetEventGrain("ticks");
        try
        {
            for (var grant = 0; grant < grantShards.Length; grant++)
            {
                Assert.Equal(CapacityStatus.Pending,
                    (await catalog.AddCapacity("ga", 1, shardIndex: grantShards[grant], idempotencyKey: $"tick-{grant}")).Status);
            }
            // From here on offers come from the timer. Right after one begins, an operator adds tickets to a shard that answers.
            while (offers.CurrentCount > 0) await offers.WaitAsync();
            Assert.True(await offers.WaitAsync(TimeSpan.FromSeconds(40)), "no redelivery tick offered the first grant");
            var offeredBefore = Volatile.Read(ref frozenOffers);

            var added = await catalog.AddCapacity("ga", 1, shardIndex: operatorShard, idempotencyKey: "tick-operator");

            Assert.Equal(CapacityStatus.Added, added.Status);
            // Counted, not timed: each unanswered offer holds the operator for its 5 s delivery timeout, so the tick
            // the operator met must have made no offer after the one that began it (the tick's budget is 2 s).
            Assert.Equal(offeredBefore, Volatile.Read(ref offeredWhenServed));
        }
        finally
        {
            release.TrySetResult();
        }
    }

    [Fact]
    public async Task A_grant_whose_shard_came_back_is_delivered_by_the_timer_while_another_shard_stays_frozen()
    {
        // Grants wait on shards 0, 1 and 2, in that order. Shard 0 froze: its offer uses a whole tick's budget. Shard 1's
        // database is out: its offer fails at once. Shard 2 was frozen and comes back. A tick that always began with
        // the first grant, or that skipped on past the next one, would never reach the grant for shard 2.
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var shardTwoFrozen = true;
        var deliveredToTwo = 0;
        await using var cluster = await TicketingCluster.StartAsync(TestStorage.Sqlite(), configureSilo: silo => silo.AddIncomingGrainCallFilter(async call =>
        {
            if (call.InterfaceMethod.Name == nameof(IInventoryShardGrain.AcceptTransfer) && call.TargetId.Key.ToString() is { } key)
            {
                switch (key)
                {
                    case "turns/ga/0":
                        await release.Task;
                        break;
                    case "turns/ga/1":
                        call.Result = TransferOutcome.Unavailable;
                        return;
                    case "turns/ga/2" when Volatile.Read(ref shardTwoFrozen):
                        // Answers after the catalog gave up on it, and takes nothing in.
                        await Task.Delay(TimeSpan.FromSeconds(6));
                        throw new TimeoutException("Shard 2 is frozen (played by a test).");
                    case "turns/ga/2":
                        await call.Invoke();
                        if (call.Result is TransferOutcome.Accepted) Interlocked.Increment(ref deliveredToTwo);
                        return;
                }
            }
            await call.Invoke();
        }), output: output);
        await cluster.CreateEventAsync("turns", TicketingCluster.Type("ga", capacity: 6, shards: 3));
        var catalog = cluster.Client.GetEventGrain("turns");
        try
        {
            for (var shard = 0; shard < 3; shard++)
            {
                Assert.Equal(CapacityStatus.Pending, (await catalog.AddCapacity("ga", 1, shardIndex: shard, idempotencyKey: $"turn-{shard}")).Status);
            }
            Volatile.Write(ref shardTwoFrozen, false);

            // Only the timer offers it now: nothing else asks the catalog to.
            await Poll.UntilAsync(() => Task.FromResult(Volatile.Read(ref deliveredToTwo) > 0), attempts: 300,
                failure: "The grant for shard 2 was never offered again while shard 0 stayed frozen.");
            Assert.Equal(3L, await cluster.Shard("turns", "ga", 2).GetSellable());
        }
        finally
        {
            release.TrySetResult();
        }
    }
}
