using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Runtime.Placement;
using OrleansTickets.Events;
using OrleansTickets.Inventory;
using OrleansTickets.Tests.Http;
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

    [Fact]
    public async Task An_operators_drain_through_a_stopping_process_s_own_front_end_answers_at_once()
    {
        // The web server stops first and waits for the requests in flight; the silo's own stop comes only after it. The
        // drain's walk ends at the start of the process's stop, so the server's wait is not the walk's.
        var questions = new HeldQuestions(new ShardAddress("departing-front", "ga", 1).Key, new ShardAddress("departing-front", "ga", 2).Key);
        using var storage = TestStorage.Sqlite();
        var host = await ApiHost.StartAsync(storage, services: services => services.AddSingleton<IIncomingGrainCallFilter>(questions));
        try
        {
            Assert.Equal(HttpStatusCode.Created, (await host.Client.CreateEventAsync("departing-front", capacity: 6, shards: 3)).StatusCode);
            questions.Arm();
            var drain = host.Client.PostAsync("/api/events/departing-front/ticket-types/ga/shards/0/drain", content: null);
            await questions.Asked.WaitAsync(TimeSpan.FromSeconds(10));
            var stop = host.StopAsync();

            // Before the held question's own 10 s limit.
            var response = await drain.WaitAsync(TimeSpan.FromSeconds(8));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var body = await response.JsonAsync();
            Assert.Equal((0, 2), (body.GetProperty("moved").GetInt64(), body.GetProperty("left").GetInt64()));
            Assert.False(questions.Released);
            // The held questions are on this silo too: they must end for its grains to deactivate.
            questions.Release();
            await stop;
        }
        finally
        {
            questions.Release();
            await host.DisposeAsync();
        }
    }

    /// <summary>Once armed, holds every call to <c>GetSales</c> of the named shards until released.</summary>
    private sealed class HeldQuestions(params string[] shardKeys) : IIncomingGrainCallFilter
    {
        private readonly TaskCompletionSource _asked = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource _release = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private volatile bool _armed;

        public Task Asked => _asked.Task;

        public bool Released => _release.Task.IsCompleted;

        public void Arm() => _armed = true;

        public void Release() => _release.TrySetResult();

        public async Task Invoke(IIncomingGrainCallContext call)
        {
            if (_armed && call.InterfaceMethod.Name == nameof(IInventoryShardGrain.GetSales) && shardKeys.Contains(call.TargetId.Key.ToString()))
            {
                _asked.TrySetResult();
                await _release.Task;
            }
            await call.Invoke();
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
