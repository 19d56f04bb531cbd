using System.Diagnostics;
using OrleansTickets.Dispatch;
using OrleansTickets.Events;
using OrleansTickets.Orders;
using OrleansTickets.Tests.Infrastructure;

namespace OrleansTickets.Tests.Grains;

/// <summary>
/// A shard whose silo froze, or whose database stalled mid-commit, keeps its purchases without failing them. Buyers
/// without a key are not held past their patience by it, and once it has held a purchase for two seconds without
/// answering any, they are sent to the type's other shards instead.
/// </summary>
public sealed class SilentShardTests(ITestOutputHelper output)
{
    // Patience plus the grace a shard's answer gets, with room for a slow machine; Orleans' call timeout is 30 s.
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task A_keyless_order_whose_shard_does_not_answer_is_told_the_outcome_is_unknown_at_its_patience()
    {
        var frozen = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var cluster = await TicketingCluster.StartAsync(TestStorage.Sqlite(),
            configureSilo: TicketingCluster.Freezing(new ShardAddress("frozen", "ga", 0), frozen.Task), output: output);
        await cluster.CreateEventAsync("frozen", TicketingCluster.Type("ga", capacity: 10, shards: 1));
        try
        {
            var clock = Stopwatch.StartNew();
            var result = await cluster.BuyAsync("frozen", "ga", 2);

            // Before, the call waited for Orleans' 30 s call timeout, holding the buyer's admission slot. The shard may
            // still sell when it wakes, and without a key nothing may ask again: the outcome is unknown.
            Assert.Equal(PurchaseStatus.Failed, result.Status);
            Assert.True(clock.Elapsed < Bound, $"the buyer waited {clock.Elapsed}");
        }
        finally
        {
            frozen.TrySetResult();
        }
    }

    [Fact]
    public async Task Keyless_buyers_go_around_a_shard_that_has_held_a_purchase_for_two_seconds_without_answering()
    {
        var frozen = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var arrived = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var cluster = await TicketingCluster.StartAsync(TestStorage.Sqlite(),
            configureSilo: TicketingCluster.Freezing(new ShardAddress("stall", "ga", 0), frozen.Task, arrived), output: output);
        await cluster.CreateEventAsync("stall", TicketingCluster.Type("ga", capacity: 40, shards: 2));
        Task<PurchaseResult>? held = null;
        try
        {
            // Buy until one purchase is held by shard 0; the others went to shard 1.
            while (held is null)
            {
                var purchase = cluster.BuyAsync("stall", "ga", 1);
                if (await Task.WhenAny(purchase, arrived.Task.WaitAsync(Bound)) != purchase) held = purchase;
                else Assert.Equal(1, ShardOf(await purchase));
            }
            await Task.Delay(ShardPurchaseWatch.SilentAfter + TimeSpan.FromMilliseconds(500));

            // Each buyer now goes to shard 1. Before, each picked shard 0 about half the time and waited there; eight
            // in a row passing by chance is 1 in 256.
            for (var buyer = 0; buyer < 8; buyer++)
            {
                var result = await cluster.BuyAsync("stall", "ga", 1).WaitAsync(TimeSpan.FromSeconds(4));
                Assert.Equal(PurchaseStatus.Created, result.Status);
                Assert.Equal(1, ShardOf(result));
            }
        }
        finally
        {
            frozen.TrySetResult();
        }
        // Woken, the shard sells the purchase it held, unless its buyer's patience and grace ran out first on a slow
        // machine, which leaves its outcome unknown to the buyer.
        var late = await held.WaitAsync(Bound);
        Assert.Contains(late.Status, new[] { PurchaseStatus.Created, PurchaseStatus.Failed });
        if (late.Status == PurchaseStatus.Created) Assert.Equal(0, ShardOf(late));
    }

    [Fact]
    public async Task A_buyer_whose_dispatcher_cannot_get_the_definition_from_a_frozen_catalog_is_told_unavailable_at_its_patience()
    {
        var freezing = false;
        var frozen = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var cluster = await TicketingCluster.StartAsync(TestStorage.Sqlite(), configureSilo: silo => silo.AddIncomingGrainCallFilter(async call =>
        {
            if (Volatile.Read(ref freezing) && call.InterfaceMethod.Name == nameof(ITicketEventGrain.GetDefinition)
                && call.TargetId.Key.ToString() == "event/frozen-catalog") await frozen.Task;
            await call.Invoke();
        }), output: output);
        await cluster.CreateEventAsync("frozen-catalog", TicketingCluster.Type("ga", capacity: 10, shards: 1));
        Volatile.Write(ref freezing, true);
        try
        {
            var clock = Stopwatch.StartNew();
            var result = await cluster.BuyAsync("frozen-catalog", "ga", 1);

            // Before, the dispatcher's first load waited for Orleans' 30 s call timeout. Nothing was sold: 503 unavailable.
            Assert.Equal(PurchaseStatus.Unavailable, result.Status);
            Assert.True(clock.Elapsed < Bound, $"the buyer waited {clock.Elapsed}");
        }
        finally
        {
            frozen.TrySetResult();
        }
        Assert.Equal(PurchaseStatus.Created, (await cluster.BuyAsync("frozen-catalog", "ga", 1)).Status);
    }

    private static int ShardOf(PurchaseResult result) => OrderId.ShardIndexOf(result.Order!.OrderId, "stall", "ga");
}
