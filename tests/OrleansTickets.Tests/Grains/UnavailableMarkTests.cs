using OrleansTickets.Events;
using OrleansTickets.Inventory;
using OrleansTickets.Orders;
using OrleansTickets.Tests.Infrastructure;

namespace OrleansTickets.Tests.Grains;

/// <summary>A shard that refused a purchase as unavailable is routed to again as soon as a refresh hears it answer.</summary>
public sealed class UnavailableMarkTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_shard_that_refused_as_unavailable_sells_again_once_a_refresh_hears_it_answer()
    {
        // The shard's first purchase is refused as unavailable (its activation moving, a commit that failed before it
        // wrote), and every later one runs as usual. The type has no other shard, so the buyer has nowhere else to go.
        var asked = 0;
        await using var cluster = await TicketingCluster.StartAsync(TestStorage.Sqlite(), configureSilo: TicketingCluster.Intercepting(
            new ShardAddress("blink", "ga", 0), nameof(IInventoryShardGrain.Purchase), call =>
            {
                if (Interlocked.Increment(ref asked) > 1) return call.Invoke();
                call.Result = PurchaseResult.Unavailable;
                return Task.CompletedTask;
            }), output: output);
        await cluster.CreateEventAsync("blink", TicketingCluster.Type("ga", capacity: 10, shards: 1));
        await cluster.ActivateShardsAsync("blink", "ga", 0);
        using var pauses = cluster.CollectMetric<long>("orleanstickets.dispatch.pauses");

        var result = await cluster.BuyAsync("blink", "ga", 2);

        Assert.Equal(PurchaseStatus.Created, result.Status);
        Assert.Equal(2, Volatile.Read(ref asked));
        // The refresh after the refusal heard the shard report its ten tickets. Before, the refusal's mark still kept it
        // out of routing for the rest of a second: the buyer paused, refreshed and paused again until the mark expired.
        Assert.False(TicketingCluster.PausedFor(pauses, "tickets"), "the buyer paused beside a shard that had answered");
    }
}
