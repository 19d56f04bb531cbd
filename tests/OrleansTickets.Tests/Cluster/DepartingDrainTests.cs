using Orleans.Runtime;
using Orleans.Runtime.Placement;
using OrleansTickets.Events;
using OrleansTickets.Inventory;
using OrleansTickets.Tests.Infrastructure;

namespace OrleansTickets.Tests.Cluster;

/// <summary>
/// A drain whose silo begins to stop answers with what it has done, instead of walking on: Orleans deactivates a shard
/// only once its running requests end, and holds every call to it meanwhile, so a walk of every other shard (a 10 s
/// question each, 15 s in all) would hold the stop and the shard's buyers that long.
/// </summary>
public sealed class DepartingDrainTests(ITestOutputHelper output)
{
    private const string EventId = "departing";

    [Fact]
    public async Task A_drain_on_a_stopping_silo_answers_at_once_and_draining_again_moves_what_it_left()
    {
        // Once armed, the drain's question to each other shard (whether it can take a gift in) waits until released.
        var armed = false;
        var asked = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var receivers = new[] { 1, 2 }.Select(index => new ShardAddress(EventId, "ga", index).Key).ToHashSet();
        await using var cluster = await TicketingCluster.StartAsync(TestStorage.Sqlite(), silos: 2, gatewayPerSilo: false,
            configureSilo: silo => silo.AddIncomingGrainCallFilter(async call =>
            {
                if (Volatile.Read(ref armed) && call.InterfaceMethod.Name == nameof(IInventoryShardGrain.GetSales)
                    && receivers.Contains(call.TargetId.Key.ToString()!))
                {
                    asked.TrySetResult();
                    await release.Task;
                }
                await call.Invoke();
            }), output: output);
        try
        {
            await cluster.CreateEventAsync(EventId, TicketingCluster.Type("ga", capacity: 6, shards: 3));
            // The drained shard on the silo that stops, the others on the one that stays (a held question must not hold
            // the stop itself).
            var leaving = cluster.Cluster.Silos[^1];
            await ActivateOnAsync(cluster, leaving.SiloAddress, 0);
            await ActivateOnAsync(cluster, cluster.Cluster.Silos[0].SiloAddress, 1, 2);
            Volatile.Write(ref armed, true);

            var drain = cluster.Shard(EventId, "ga", 0).Drain();
            await asked.Task.WaitAsync(TimeSpan.FromSeconds(10));
            var stop = cluster.Cluster.StopSiloAsync(leaving);

            // Before the held question's own 10 s limit: the walk stopped when the silo began to stop.
            var cut = await drain.WaitAsync(TimeSpan.FromSeconds(8));
            Assert.Equal(new DrainResult(true, 0, 2), cut);
            Assert.False(release.Task.IsCompleted);
            await stop;

            // The shard's next activation, on the silo that stayed, is still drained and gives what the cut walk left.
            release.TrySetResult();
            var again = await cluster.Shard(EventId, "ga", 0).Drain();
            Assert.Equal(new DrainResult(true, 2, 0), again);
            var type = (await cluster.SalesAsync(EventId)).TicketTypes[0];
            Assert.Equal((6L, 6L, 0L), (type.Capacity, type.Remaining, type.Shards.Single(shard => shard.Index == 0).Remaining));
            Assert.True(type.Shards.Single(shard => shard.Index == 0).Retired);
        }
        finally
        {
            release.TrySetResult();
        }
    }

    private static async Task ActivateOnAsync(TicketingCluster cluster, SiloAddress silo, params int[] indexes)
    {
        RequestContext.Set(IPlacementDirector.PlacementHintKey, silo);
        try
        {
            foreach (var index in indexes) await cluster.Shard(EventId, "ga", index).GetSales();
        }
        finally
        {
            RequestContext.Remove(IPlacementDirector.PlacementHintKey);
        }
    }
}
