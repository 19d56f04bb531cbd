using Microsoft.Extensions.DependencyInjection;
using OrleansTickets.Events;
using OrleansTickets.Inventory;
using OrleansTickets.Orders;
using OrleansTickets.Tests.Infrastructure;

namespace OrleansTickets.Tests.Grains;

/// <summary>
/// A purchase without an idempotency key whose shard may have sold it: the dispatcher must not try another shard
/// until that shard, asked again for the order under the id the dispatcher minted, says whether it made it.
/// </summary>
public sealed class UncertainKeylessSaleTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_keyless_purchase_whose_shard_silo_was_declared_dead_after_it_ran_gets_that_order_and_is_not_sold_again()
    {
        var lostAnswer = new LostPurchaseAnswer();
        await using var cluster = await TicketingCluster.StartAsync(TestStorage.Sqlite(),
            configureSilo: silo => silo.Services.AddSingleton<IIncomingGrainCallFilter>(lostAnswer), output: output);
        await cluster.CreateEventAsync("uncertain", TicketingCluster.Type("ga", capacity: 10, shards: 2));

        var result = await cluster.BuyAsync("uncertain", "ga", 2);

        // Before, the buyer heard "outcome unknown" (503), though the order was made.
        Assert.True(lostAnswer.Lost);
        Assert.Equal(PurchaseStatus.Created, result.Status);
        Assert.Equal(2, result.Order!.Quantity);
        // One order of 2 exists (the one whose answer was lost, answered now), not a second one on the other shard.
        Assert.Equal(2L, (await cluster.SalesAsync("uncertain")).TicketTypes[0].Sold);
        Assert.True(OrderId.TryGetShard(result.Order.OrderId, out var holder));
        Assert.Equal(result.Order, await cluster.Client.GetGrain<IInventoryShardGrain>(holder.Key).GetOrder(result.Order.OrderId), OrderComparer.Instance);
    }

    [Fact]
    public async Task A_keyless_purchase_lost_before_its_shard_ran_it_is_sold_once_when_asked_again()
    {
        // As a silo that is stopping rejects what reaches it and closes its connections before the rejection leaves: the
        // dispatcher hears only that the silo is gone, and the shard never saw the order.
        var lost = 0;
        string? lostOrderId = null;
        await using var cluster = await TicketingCluster.StartAsync(TestStorage.Sqlite(), configureSilo: silo => silo.AddIncomingGrainCallFilter(async call =>
        {
            if (call.InterfaceMethod.DeclaringType == typeof(IInventoryShardGrain) && call.InterfaceMethod.Name == nameof(IInventoryShardGrain.Purchase)
                && Interlocked.Exchange(ref lost, 1) == 0)
            {
                lostOrderId = ((ShardPurchase)call.Request.GetArgument(0)!).ForwardedOrderId;
                throw new SiloUnavailableException("The target silo became unavailable (played by a test).");
            }
            await call.Invoke();
        }), output: output);
        await cluster.CreateEventAsync("unseen", TicketingCluster.Type("ga", capacity: 10, shards: 2));

        var result = await cluster.BuyAsync("unseen", "ga", 3);

        Assert.Equal(1, Volatile.Read(ref lost));
        Assert.Equal(PurchaseStatus.Created, result.Status);
        // The same shard made the order the lost message named, when asked again; no other shard was tried meanwhile.
        Assert.NotNull(lostOrderId);
        Assert.Equal(lostOrderId, result.Order!.OrderId);
        Assert.Equal(3, result.Order!.Quantity);
        Assert.Equal(3L, (await cluster.SalesAsync("unseen")).TicketTypes[0].Sold);
    }

    [Fact]
    public async Task A_keyless_purchase_whose_shard_sold_out_while_its_answer_was_lost_is_refused_there_for_good_and_sold_elsewhere()
    {
        // The first message never runs; in its place another buyer takes all of that shard's tickets. Asked again, the
        // shard finds neither the order nor room: it commits the id's refusal, and the dispatcher sells elsewhere.
        var lost = 0;
        string? lostOrderId = null;
        ShardAddress? lostAt = null;
        await using var cluster = await TicketingCluster.StartAsync(TestStorage.Sqlite(), configureSilo: silo => silo.AddIncomingGrainCallFilter(async call =>
        {
            if (call.InterfaceMethod.Name == nameof(IInventoryShardGrain.Purchase)
                && call.Request.GetArgument(0) is ShardPurchase { Request.IdempotencyKey: null, FreshOrderId: true } purchase
                && Interlocked.Exchange(ref lost, 1) == 0)
            {
                lostOrderId = purchase.ForwardedOrderId;
                Assert.True(OrderId.TryGetShard(lostOrderId!, out var shard));
                lostAt = shard;
                call.Request.SetArgument(0, TicketingCluster.KeylessPurchase("moved", "ga", 5));
                await call.Invoke();
                Assert.Equal(PurchaseStatus.Created, ((PurchaseResult)call.Result!).Status);
                throw new SiloUnavailableException("The target silo became unavailable (played by a test).");
            }
            await call.Invoke();
        }), output: output);
        await cluster.CreateEventAsync("moved", TicketingCluster.Type("ga", capacity: 10, shards: 2));

        var result = await cluster.BuyAsync("moved", "ga", 2);

        Assert.Equal(PurchaseStatus.Created, result.Status);
        Assert.Equal(2, result.Order!.Quantity);
        Assert.True(OrderId.TryGetShard(result.Order.OrderId, out var seller));
        Assert.NotEqual(lostAt, seller);
        Assert.Equal(7L, (await cluster.SalesAsync("moved")).TicketTypes[0].Sold);
        // The refusal is for good, and committed: the lost message, if it came now, to a new activation of that shard
        // with tickets added to it, sells nothing.
        Assert.Equal(CapacityStatus.Added, (await cluster.Client.GetEventGrain("moved").AddCapacity("ga", 3, shardIndex: lostAt!.Index, idempotencyKey: null)).Status);
        var shardGrain = cluster.Client.GetGrain<IInventoryShardGrain>(lostAt.Key);
        await cluster.Cluster.DeactivateAsync(shardGrain);
        var late = await shardGrain.Purchase(
            new ShardPurchase(TicketingCluster.KeylessPurchase("moved", "ga", 2).Request, string.Empty, [], lostOrderId, FreshOrderId: true));
        Assert.Equal(PurchaseStatus.SoldOut, late.Status);
        Assert.Equal(7L, (await cluster.SalesAsync("moved")).TicketTypes[0].Sold);
    }
}
