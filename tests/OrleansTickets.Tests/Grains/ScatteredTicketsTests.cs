using Microsoft.Extensions.DependencyInjection;
using OrleansTickets.Events;
using OrleansTickets.Inventory;
using OrleansTickets.Orders;
using OrleansTickets.Tests.Infrastructure;

namespace OrleansTickets.Tests.Grains;

/// <summary>
/// Tickets left on drained shards, none holding a whole order: such an order can never sell, and the buyer is told so
/// at once, with the largest order that can.
/// </summary>
public sealed class ScatteredTicketsTests(ITestOutputHelper output)
{
    private const string Pauses = "orleanstickets.dispatch.pauses";

    [Fact]
    public async Task An_order_larger_than_any_drained_shard_holds_is_scattered_and_smaller_orders_sell_the_rest()
    {
        // 3 shards of 3 tickets each, all drained while no other shard could take their tickets: 3 are left on each.
        await using var cluster = await StartScatteredAsync("scattered", output);
        using var pauses = cluster.CollectMetric<long>(Pauses);
        using var scattered = cluster.CollectMetric<long>("orleanstickets.dispatch.scattered");

        // Without a key and with one. Before, both paused and refreshed to the end of the 5 s patience, then heard
        // "unavailable, try again", which no retry could change; now the first refresh decides.
        var keyless = await cluster.BuyAsync("scattered", "ga", 4);
        var keyed = await cluster.BuyAsync("scattered", "ga", 4, key: "four-at-once");
        Assert.Equal((PurchaseStatus.Scattered, 3L), (keyless.Status, keyless.Remaining));
        Assert.Equal((PurchaseStatus.Scattered, 3L), (keyed.Status, keyed.Remaining));
        Assert.Empty(pauses.GetMeasurementSnapshot());
        // Operators see these answers on the meter.
        Assert.Equal(2L, scattered.GetMeasurementSnapshot().Sum(m => m.Value));

        // Nothing was sold, and what the answer said may still sell does.
        Assert.Equal(PurchaseStatus.Created, (await cluster.BuyAsync("scattered", "ga", 3, key: "three")).Status);
        Assert.Equal(PurchaseStatus.Created, (await cluster.BuyAsync("scattered", "ga", 2)).Status);
        var later = await cluster.BuyAsync("scattered", "ga", 4);
        Assert.Equal((PurchaseStatus.Scattered, 3L), (later.Status, later.Remaining));
        Assert.Equal(PurchaseStatus.Created, (await cluster.BuyAsync("scattered", "ga", 3)).Status);
        Assert.Equal(PurchaseStatus.Created, (await cluster.BuyAsync("scattered", "ga", 1)).Status);

        // Fewer left than asked for is still "sold out", with the type's own count.
        var soldOut = await cluster.BuyAsync("scattered", "ga", 1);
        Assert.Equal((PurchaseStatus.SoldOut, 0L), (soldOut.Status, soldOut.Remaining));
        Assert.Equal(9L, (await cluster.SalesAsync("scattered")).TicketTypes.Single().Sold);
    }

    [Fact]
    public async Task While_one_shard_is_not_drained_the_order_is_pulled_together_instead()
    {
        await using var cluster = await StartScatteredAsync("pooled", output, drainLast: false);

        var order = await cluster.BuyAsync("pooled", "ga", 4);

        Assert.Equal(PurchaseStatus.Created, order.Status);
        Assert.Equal(4, order.Order!.Tickets.Length);
    }

    [Fact]
    public async Task A_refresh_that_did_not_hear_every_shard_gives_no_such_verdict()
    {
        // Shards 0 and 1 drained with 3 each; shard 2, not drained, does not answer. Once it does, it can pull an order
        // of 4 together: the buyer must not be told that no order of 4 can ever sell, only that none can be had now.
        var silent = false;
        await using var cluster = await StartScatteredAsync("unheard", output, drainLast: false, configureSilo: TicketingCluster.Intercepting(
            new ShardAddress("unheard", "ga", 2), nameof(IInventoryShardGrain.GetSales),
            call => Volatile.Read(ref silent) ? throw new TimeoutException("Shard 2 did not answer (played by a test).") : call.Invoke()));
        Volatile.Write(ref silent, true);

        var answer = await cluster.BuyAsync("unheard", "ga", 4);

        Assert.Equal(PurchaseStatus.Unavailable, answer.Status);
    }

    [Fact]
    public async Task Tickets_reserved_by_a_commit_in_flight_are_not_counted_as_left_and_the_buyer_waits_for_the_truth()
    {
        // Drained shards holding 3, 1 and 0, the 3 reserved by a sale whose commit is held. Counted as left, they made
        // "4 left, at most 3 in one order" while 1 was about to be all that was left: the truth is "sold out, 1 left".
        await using var cluster = await StartScatteredAsync("reserved", output);
        Assert.Equal(PurchaseStatus.Created, (await cluster.Shard("reserved", "ga", 1).Purchase(TicketingCluster.KeylessPurchase("reserved", "ga", 2))).Status);
        Assert.Equal(PurchaseStatus.Created, (await cluster.Shard("reserved", "ga", 2).Purchase(TicketingCluster.KeylessPurchase("reserved", "ga", 3))).Status);
        using var pauses = cluster.CollectMetric<long>(Pauses);
        var committing = cluster.Shard("reserved", "ga", 0);

        Task<PurchaseResult> first, second;
        await using (await cluster.HoldWritesAsync("reserved", "ga", 0))
        {
            first = committing.Purchase(TicketingCluster.KeylessPurchase("reserved", "ga", 3));
            await Poll.UntilAsync(async () => (await committing.GetSales()).Reserved == 3,
                failure: "The shard never reported the held sale's tickets as reserved.");
            second = cluster.BuyAsync("reserved", "ga", 4);
            await Poll.UntilAsync(() => Task.FromResult(TicketingCluster.PausedFor(pauses, "tickets")),
                failure: "The buyer never paused for the reserved tickets.");
        }

        Assert.Equal(PurchaseStatus.Created, (await first).Status);
        var answer = await second;
        Assert.Equal((PurchaseStatus.SoldOut, 1L), (answer.Status, answer.Remaining));
    }

    [Fact]
    public async Task A_grant_pending_when_every_shard_is_drained_is_not_counted_as_left()
    {
        // Shard 0 cannot say whether it takes a grant in, so the grant stays pending; but shard 0 is drained, like every
        // other, so it will refuse it once it can answer, and the catalog will withdraw it. Counted as left, its 3
        // tickets made "sold out" into "scattered, at most 1 in one order", and then into 503 once reserved tickets
        // were not counted: neither true.
        var grantTarget = new ShardAddress("pending", "ga", 0);
        await using var cluster = await StartScatteredAsync("pending", output, configureSilo: TicketingCluster.Intercepting(
            grantTarget, nameof(IInventoryShardGrain.AcceptTransfer), call =>
            {
                call.Result = TransferOutcome.Unavailable;
                return Task.CompletedTask;
            }));
        for (var index = 0; index < 3; index++)
        {
            Assert.Equal(PurchaseStatus.Created, (await cluster.Shard("pending", "ga", index).Purchase(TicketingCluster.KeylessPurchase("pending", "ga", 2))).Status);
        }
        var grant = await cluster.Client.GetEventGrain("pending").AddCapacity("ga", 3, shardIndex: 0, idempotencyKey: null);
        Assert.Equal(CapacityStatus.Pending, grant.Status);

        var answer = await cluster.BuyAsync("pending", "ga", 4);

        Assert.Equal((PurchaseStatus.SoldOut, 3L), (answer.Status, answer.Remaining));
        // The sales report agrees: 6 sold of the 9 the shards hold, 3 left.
        var sales = (await cluster.Client.GetEventGrain("pending").GetSales())!.TicketTypes.Single();
        Assert.Equal((9L, 6L, 3L), (sales.Capacity, sales.Sold, sales.Remaining));
    }

    /// <summary>
    /// Starts a cluster with event <paramref name="eventId"/>: type "ga", 9 tickets on 3 shards, at most 4 per order;
    /// each shard drained in turn while no other can take its tickets (<see cref="ScatteringDrains"/>), so each keeps its
    /// 3. Shard 2 is left undrained unless <paramref name="drainLast"/>.
    /// </summary>
    private static async Task<TicketingCluster> StartScatteredAsync(
        string eventId, ITestOutputHelper output, bool drainLast = true, Action<ISiloBuilder>? configureSilo = null)
    {
        var drains = new ScatteringDrains();
        var cluster = await TicketingCluster.StartAsync(TestStorage.Sqlite(), configureSilo: silo =>
        {
            silo.Services.AddSingleton<IIncomingGrainCallFilter>(drains);
            configureSilo?.Invoke(silo);
        }, output: output);
        try
        {
            await cluster.CreateEventAsync(eventId, TicketingCluster.Type("ga", capacity: 9, shards: 3, maxPerOrder: 4));
            await drains.DrainAsync(eventId, "ga", shards: 3, async index =>
            {
                var drain = await cluster.Shard(eventId, "ga", index).Drain();
                Assert.Equal((0L, 3L), (drain.Moved, drain.Left));
            }, drained: drainLast ? 3 : 2);
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }
}
