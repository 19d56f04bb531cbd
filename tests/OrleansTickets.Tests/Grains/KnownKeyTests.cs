using OrleansTickets.Events;
using OrleansTickets.Inventory;
using OrleansTickets.Orders;
using OrleansTickets.Tests.Infrastructure;

namespace OrleansTickets.Tests.Grains;

/// <summary>
/// A key's home keeps a hash of each key it knows the database holds, whatever the request that learned it answered,
/// so that the key's next request reads the stored key before it writes anything.
/// </summary>
public sealed class KnownKeyTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_retry_after_a_holder_that_did_not_answer_reads_the_key_its_home_reserved_instead_of_writing_it()
    {
        var holderSilent = true;
        await using var cluster = await TicketingCluster.StartAsync(TestStorage.Sqlite(), configureSilo: TicketingCluster.Intercepting(
            new ShardAddress("known", "ga", 1), nameof(IInventoryShardGrain.Purchase), call => Volatile.Read(ref holderSilent)
                ? throw new TimeoutException("The holder did not answer in time (played by a test).")
                : call.Invoke()), output: output);
        await cluster.CreateEventAsync("known", TicketingCluster.Type("ga", capacity: 6, shards: 2));
        var (home, holder) = (await cluster.LedgerAsync("known", "ga", 0), await cluster.LedgerAsync("known", "ga", 1));
        Assert.NotEqual(home.Placement.DatabaseOrdinal, holder.Placement.DatabaseOrdinal);

        // The home keeps one ticket, so a keyed order of two is forwarded to shard 1: the home commits "key -> X on
        // shard 1", and shard 1 does not answer. Outcome unknown, but the key's reservation is durable.
        var shard = cluster.Shard("known", "ga", 0);
        Assert.Equal(PurchaseStatus.Created, (await shard.Purchase(TicketingCluster.KeylessPurchase("known", "ga", 2))).Status);
        await cluster.ActivateShardsAsync("known", "ga", 1);
        var keyed = new PurchaseRequest("known", "ga", 2, new Buyer("Ada", "ada@example.com"), "timed-out");
        Assert.Equal(PurchaseStatus.Failed, (await shard.Purchase(new ShardPurchase(keyed, keyed.Fingerprint(), [1]))).Status);
        Volatile.Write(ref holderSilent, false);

        // The buyer retries. A home that kept nothing of the key would take it for new and reserve it again (a write,
        // which waits here; refused, on PostgreSQL it would roll back the group commit it rode in).
        Task<PurchaseResult> retry;
        await using (await cluster.HoldWritesAsync("known", "ga", 0))
        {
            retry = shard.Purchase(new ShardPurchase(keyed, keyed.Fingerprint(), [1]));
            await Task.WhenAny(retry, Task.Delay(TimeSpan.FromSeconds(5)));
            Assert.True(retry.IsCompleted, "The retry waited for the home's held writes: it wrote the key instead of reading it.");
        }
        var created = await retry;
        Assert.Equal(PurchaseStatus.Created, created.Status);
        Assert.True(OrderId.TryGetShard(created.Order!.OrderId, out var holderAddress));
        Assert.Equal(1, holderAddress.Index);

        var replay = await shard.Purchase(new ShardPurchase(keyed, keyed.Fingerprint(), [1]));
        Assert.Equal(PurchaseStatus.Replayed, replay.Status);
        Assert.Equal(created.Order.OrderId, replay.Order!.OrderId);
        Assert.Equal(4L, (await cluster.SalesAsync("known")).TicketTypes[0].Sold);
    }
}
