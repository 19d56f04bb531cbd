using OrleansTickets.Events;
using OrleansTickets.Inventory;
using OrleansTickets.Orders;
using OrleansTickets.Tests.Infrastructure;

namespace OrleansTickets.Tests.Grains;

/// <summary>Tickets that come back to a drained shard while its drain's walk is under way still go on to another shard.</summary>
public sealed class DrainWalkTests(ITestOutputHelper output)
{
    // 20 s for timers and redeliveries: 200 polls, 100 ms apart.
    private const int Polls = 200;

    [Fact]
    public async Task Tickets_taken_back_during_the_walks_last_step_are_handed_on_after_it()
    {
        var a = new ShardAddress("late-back", "ga", 0);
        var b = new ShardAddress("late-back", "ga", 1);
        var c = new ShardAddress("late-back", "ga", 2);
        var bSilent = true;
        var holdC = false;
        var cReached = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var cRelease = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var cluster = await TicketingCluster.StartAsync(TestStorage.Sqlite(), configureSilo: silo => silo.AddIncomingGrainCallFilter(async call =>
        {
            if (call.InterfaceMethod.Name == nameof(IInventoryShardGrain.AcceptTransfer))
            {
                var target = call.TargetId.Key.ToString();
                if (target == b.Key && Volatile.Read(ref bSilent)) throw new TimeoutException("Shard 1's silo did not answer (played by a test).");
                if (target == c.Key && Volatile.Read(ref holdC) && cReached.TrySetResult()) await cRelease.Task;
            }
            await call.Invoke();
        }), output: output);
        await cluster.CreateEventAsync("late-back", TicketingCluster.Type("ga", capacity: 30, shards: 3));
        var donor = cluster.Shard("late-back", "ga", 0);
        try
        {
            // Shard 0 gives shard 1 four tickets it cannot take in yet: in transit, redelivered by shard 0's timer.
            Assert.Equal(0L, await donor.GiveTickets(Guid.NewGuid().ToString("N"), b.Key, 4));
            // Shard 1 is drained (its tickets go to shard 2), so it will refuse that gift when it answers again.
            Assert.True((await cluster.Shard("late-back", "ga", 1).Drain()).Available);

            // Shard 0's drain: shard 1 is passed over (drained), and the gift of its six tickets to shard 2, the walk's
            // last step, is held. Meanwhile shard 1 answers, refuses the four, and shard 0 takes them back.
            Volatile.Write(ref holdC, true);
            var drain = donor.Drain();
            await cReached.Task.WaitAsync(TimeSpan.FromSeconds(20));
            Volatile.Write(ref bSilent, false);
            await Poll.UntilAsync(async () => (await donor.GetSales()).InTransit == 6, Polls,
                failure: "Shard 0 never took back the gift shard 1 refused.");
            cRelease.TrySetResult();
            Assert.Equal(6L, (await drain).Moved);

            // Before, the walk had passed its last receiver, and the four stayed on the drained shard.
            await Poll.UntilAsync(async () => (await donor.GetSales()) is { Remaining: 0, InTransit: 0 }, Polls,
                failure: "The tickets taken back during the walk stayed on the drained shard.");
            var shards = (await cluster.SalesAsync("late-back")).TicketTypes[0].Shards;
            Assert.Equal([0L, 0L, 30L], shards.Select(s => s.Remaining));
            for (var sold = 0; sold < 30; sold += 3)
            {
                Assert.Equal(PurchaseStatus.Created, (await cluster.BuyAsync("late-back", "ga", 3)).Status);
            }
        }
        finally
        {
            Volatile.Write(ref bSilent, false);
            cRelease.TrySetResult();
        }
    }
}
