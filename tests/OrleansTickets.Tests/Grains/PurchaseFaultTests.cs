using OrleansTickets.Events;
using OrleansTickets.Inventory;
using OrleansTickets.Orders;
using OrleansTickets.Tests.Infrastructure;

namespace OrleansTickets.Tests.Grains;

/// <summary>
/// Exceptions other than the cluster's own on the purchase path: each becomes an answer that says what is known (sold,
/// not sold, or not known), never an exception that reaches the buyer as "nothing was sold".
/// </summary>
public sealed class PurchaseFaultTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_home_that_throws_after_an_ask_whose_answer_was_lost_keeps_the_doubt_and_the_retry_finds_the_order()
    {
        // The first ask sells, and its answer is lost; the second meets a storage error (a catalog reactivating beside
        // the home, say); the third answers.
        var asks = 0;
        await using var cluster = await TicketingCluster.StartAsync(TestStorage.Sqlite(), configureSilo: silo => silo.AddIncomingGrainCallFilter(async call =>
        {
            if (call.InterfaceMethod.Name == nameof(IInventoryShardGrain.Purchase)
                && call.Request.GetArgument(0) is ShardPurchase { Request.IdempotencyKey: "lost-then-odd", ForwardedOrderId: null })
            {
                switch (Interlocked.Increment(ref asks))
                {
                    case 1:
                        await call.Invoke();
                        throw new TimeoutException("The answer was lost (played by a test).");
                    case 2:
                        throw new OrleansException("The catalog's storage could not be read (played by a test).");
                }
            }
            await call.Invoke();
        }), output: output);
        await cluster.CreateEventAsync("odd", TicketingCluster.Type("ga", capacity: 10, shards: 2));

        // Before, the second ask's exception left the dispatcher, and the buyer was told nothing was sold.
        var result = await cluster.BuyAsync("odd", "ga", 2, key: "lost-then-odd");

        Assert.Equal(PurchaseStatus.Replayed, result.Status);
        Assert.True(Volatile.Read(ref asks) >= 3);
        Assert.Equal(2, (await cluster.SalesAsync("odd")).TicketTypes[0].Sold);
    }

    [Fact]
    public async Task A_keyless_order_whose_shard_threw_after_selling_is_answered_with_that_order_and_is_not_sold_again()
    {
        var thrown = 0;
        await using var cluster = await TicketingCluster.StartAsync(TestStorage.Sqlite(), configureSilo: silo => silo.AddIncomingGrainCallFilter(async call =>
        {
            await call.Invoke();
            if (call.InterfaceMethod.Name == nameof(IInventoryShardGrain.Purchase) && Interlocked.Exchange(ref thrown, 1) == 0)
            {
                throw new OrleansException("Something failed after the sale (played by a test).");
            }
        }), output: output);
        await cluster.CreateEventAsync("threw", TicketingCluster.Type("ga", capacity: 4, shards: 2));

        // Long before, the exception reached the buyer, which the co-hosted API answers as "nothing was sold"; then the
        // buyer heard "outcome unknown". Now the dispatcher asks the shard again for the order under the id it minted.
        var result = await cluster.BuyAsync("threw", "ga", 1);
        Assert.Equal(1, Volatile.Read(ref thrown));
        Assert.Equal(PurchaseStatus.Created, result.Status);
        Assert.Equal(1, (await cluster.SalesAsync("threw")).TicketTypes[0].Sold);
    }

    [Fact]
    public async Task A_shard_that_cannot_learn_its_placement_answers_unavailable_and_a_keyless_order_goes_elsewhere()
    {
        var failed = 0;
        var unavailable = new System.Collections.Concurrent.ConcurrentQueue<string>();
        await using var cluster = await TicketingCluster.StartAsync(TestStorage.Sqlite(), configureSilo: silo => silo.AddIncomingGrainCallFilter(async call =>
        {
            if (call.InterfaceMethod.Name == nameof(ITicketEventGrain.GetPlacement) && Interlocked.Exchange(ref failed, 1) == 0)
            {
                throw new OrleansException("The catalog's storage could not be read (played by a test).");
            }
            await call.Invoke();
            if (call.InterfaceMethod.Name == nameof(IInventoryShardGrain.Purchase) && call.Result is PurchaseResult { Status: PurchaseStatus.Unavailable })
            {
                unavailable.Enqueue(call.TargetId.Key.ToString()!);
            }
        }), output: output);
        await cluster.CreateEventAsync("unplaced-once", TicketingCluster.Type("ga", capacity: 2, shards: 2));

        // Nothing was sold by the shard that could not place itself, so the order may go on to the other one.
        var result = await cluster.BuyAsync("unplaced-once", "ga", 1);

        Assert.Equal(1, Volatile.Read(ref failed));
        var unplaced = Assert.Single(unavailable);
        Assert.Equal(PurchaseStatus.Created, result.Status);
        Assert.True(OrderId.TryGetShard(result.Order!.OrderId, out var seller));
        Assert.NotEqual(unplaced, seller.Key);
        Assert.Equal(1, (await cluster.SalesAsync("unplaced-once")).TicketTypes[0].Sold);
    }

    [Fact]
    public async Task A_dispatcher_that_cannot_read_the_definition_answers_unavailable()
    {
        var failing = false;
        await using var cluster = await TicketingCluster.StartAsync(TestStorage.Sqlite(), configureSilo: silo => silo.AddIncomingGrainCallFilter(call =>
            Volatile.Read(ref failing) && call.InterfaceMethod.Name == nameof(ITicketEventGrain.GetDefinition)
                ? throw new TimeoutException("The catalog's silo did not answer (played by a test).")
                : call.Invoke()), output: output);
        await cluster.CreateEventAsync("undefined", TicketingCluster.Type("ga", capacity: 2, shards: 1));

        Volatile.Write(ref failing, true);
        // Nothing can have been sold before the dispatcher knows the type: "unavailable", not an outcome unknown.
        Assert.Equal(PurchaseStatus.Unavailable, (await cluster.BuyAsync("undefined", "ga", 1)).Status);
        Volatile.Write(ref failing, false);
        Assert.Equal(PurchaseStatus.Created, (await cluster.BuyAsync("undefined", "ga", 1)).Status);
    }
}
