using System.Collections.Concurrent;
using OrleansTickets.Dispatch;
using OrleansTickets.Events;
using OrleansTickets.Inventory;
using OrleansTickets.Orders;
using OrleansTickets.Tests.Infrastructure;

namespace OrleansTickets.Tests.Grains;

/// <summary>
/// A home that forwards a keyed order hands the counts it heard back to the dispatcher, which stops naming the
/// candidates that said they had no room. SQLite only: what the home hears and what the dispatcher does with it do not
/// depend on the engine.
/// </summary>
public sealed class SightingTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_candidate_that_said_it_had_no_room_is_not_named_again_by_that_dispatcher()
    {
        const int shards = 16;
        // Questions for room answered "none", by the shard asked; and the dispatcher activation that served each purchase
        // (a stateless worker: a busy silo may start a second, with a view of its own that has heard nothing yet).
        var noRoom = new ConcurrentDictionary<int, int>();
        var served = new ConcurrentQueue<object>();
        await using var cluster = await TicketingCluster.StartAsync(TestStorage.Sqlite(), configureSilo: silo => silo.AddIncomingGrainCallFilter(async call =>
        {
            if (call.Grain is PurchaseDispatcherGrain) served.Enqueue(call.Grain);
            await call.Invoke();
            if (call.InterfaceMethod.Name == nameof(IInventoryShardGrain.HoldForForward) && call.Result is 0L)
            {
                noRoom.AddOrUpdate(ShardAddress.Parse(call.TargetId.Key.ToString()!).Index, 1, (_, count) => count + 1);
            }
        }), output: output);
        // One ticket per order: no shard is left with fewer than an order may take, so none gathers its last tickets onto
        // another, and a shard that had none never gains any.
        await cluster.CreateEventAsync("sighted", TicketingCluster.Type("ga", capacity: 4 * shards, shards, maxPerOrder: 1));
        using var forwards = cluster.CollectMetric<long>("orleanstickets.shards.forwards");

        // Every shard but the first and the last sold out behind the dispatcher's back: its view still holds 4 on each.
        for (var index = 1; index < shards - 1; index++)
        {
            Assert.Equal(PurchaseStatus.Created, (await cluster.Shard("sighted", "ga", index).Purchase(TicketingCluster.KeylessPurchase("sighted", "ga", 4))).Status);
        }

        // One buyer at a time, one ticket each, until the two shards with tickets are empty. Most keys' homes are dry and
        // forward, each to a candidate the dispatcher names.
        for (var n = 0; n < 2 * 4; n++)
        {
            Assert.Equal(PurchaseStatus.Created, (await cluster.BuyAsync("sighted", "ga", 1, key: $"sighted-{n}")).Status);
        }
        Assert.Equal(PurchaseStatus.SoldOut, (await cluster.BuyAsync("sighted", "ga", 1, key: "sighted-last")).Status);

        var sum = forwards.GetMeasurementSnapshot().Sum(m => m.Value);
        Assert.True(sum > 0, "no key's home was dry; the test proves nothing");
        // A shard's answer of "none" reaches the dispatcher that named it, which sets its view of that shard to 0 and
        // never names it again (nothing raises it: no grant, no gift, and a refresh reads the same 0). So each activation
        // hears "none" from a shard once at most, the shards that sold out during the test included. Before, the
        // dispatcher learned only the seller's count, and named the same dry candidates to buyer after buyer.
        var activations = served.Distinct(ReferenceEqualityComparer.Instance).Count();
        var answers = Enumerable.Range(0, shards).ToDictionary(index => index, index => noRoom.GetValueOrDefault(index));
        output.WriteLine($"{sum} forwards; {activations} dispatcher activation(s); answers of no room by shard: {string.Join(", ", answers.Select(pair => $"{pair.Key}: {pair.Value}"))}");
        Assert.True(answers.Values.Sum() > 0, "no candidate said it had no room; the test proves nothing");
        Assert.All(answers, pair => Assert.True(pair.Value <= activations, $"shard {pair.Key} said it had no room {pair.Value} times to {activations} dispatcher activation(s)"));
    }
}
