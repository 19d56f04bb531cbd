using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using OrleansTickets.Events;
using OrleansTickets.Inventory;
using OrleansTickets.Orders;
using OrleansTickets.Tests.Infrastructure;

namespace OrleansTickets.Tests.Grains;

/// <summary>
/// A key's home with a stale twin (two activations of one shard during a membership change, played by two clusters
/// over the same databases): the twin that missed the key's move must not tell its buyer "sold out" from the order it
/// last knew when the key already has another.
/// </summary>
[Collection(PostgresKeysCollection.Name)]
public sealed class StaleHomeTests(PostgresFixture postgres)
{
    [Theory, InlineData(Engines.Sqlite), PostgresRow]
    public async Task A_stale_home_reads_the_key_before_answering_sold_out_and_replays_the_order_it_moved_to(string engine)
    {
        using var storage = Engines.Storage(engine, postgres);
        var keyed = Keyed("stale", "late-retry");
        await using var twins = await LeaveKeyOnUnansweredOrderAsync(storage, "stale", shards: 3, keyed);
        var (first, second) = (twins.First, twins.Second);

        // The retry reaches the home's twin in the other cluster: shard 1 refuses X for good, and the key moves to Y on
        // shard 2, which sells it. Say this answer was lost on its way to the buyer.
        await second.ActivateShardsAsync("stale", "ga", 2);
        var moved = await second.Shard("stale", "ga", 0).Purchase(new ShardPurchase(keyed, keyed.Fingerprint(), [2]));
        Assert.Equal(PurchaseStatus.Created, moved.Status);
        Assert.True(OrderId.TryGetShard(moved.Order!.OrderId, out var holder));
        Assert.Equal(2, holder.Index);

        // The first cluster's shard 1, fenced, makes way for an activation that reads the database (and X's refusal).
        await ReloadFencedHolderAsync(first, "stale");

        // The next retry reaches the first home again, which last knew X and has no candidate with room. X is refused,
        // so a home answering from what it last knew would say "sold out" to a buyer who has order Y. It reads the
        // stored key first (it knows the database holds it), and replays Y.
        await first.ActivateShardsAsync("stale", "ga", 2);
        var retried = await first.Shard("stale", "ga", 0).Purchase(new ShardPurchase(keyed, keyed.Fingerprint(), []));
        Assert.Equal(PurchaseStatus.Replayed, retried.Status);
        Assert.Equal(moved.Order.OrderId, retried.Order!.OrderId);
    }

    [Theory, InlineData(Engines.Sqlite), PostgresRow]
    public async Task A_replaced_home_does_not_answer_sold_out_from_a_key_read_it_cannot_vouch_for(string engine)
    {
        // A home's "sold out" for a key with no order rests on a read, which no fence checks. A replaced home that has
        // not committed since does not know it was replaced, and its newer twin, which has claimed, may be making the
        // key's order for another request with the key (the buyer's retry through another front end), its commit in
        // flight (a race this test cannot time): so the older one looks at its row's epoch after the key, and a newer
        // epoch there stops it with "unavailable".
        using var storage = Engines.Storage(engine, postgres);
        await using var twins = await TwinClusters.StartAsync(storage, "vouch");
        var (first, second) = (twins.First, twins.Second);
        await first.CreateEventAsync("vouch", TicketingCluster.Type("ga", capacity: 2, shards: 1));
        Assert.Equal(PurchaseStatus.Created, (await first.Shard("vouch", "ga", 0).Purchase(TicketingCluster.KeylessPurchase("vouch", "ga", 2))).Status);
        await second.ActivateShardsAsync("vouch", "ga", 0);

        var keyed = Keyed("vouch", "never-sold");
        var purchase = new ShardPurchase(keyed, keyed.Fingerprint(), []);
        using var rechecks = first.CollectMetric<long>("orleanstickets.shards.claim_rechecks");
        Assert.Equal(PurchaseStatus.Unavailable, (await first.Shard("vouch", "ga", 0).Purchase(purchase)).Status);
        Assert.Equal(["replaced/keyed_refusal"], Rechecks(rechecks));

        // The first cluster's next activation claims the shard, reads no key, finds its own epoch, and its refusal stands.
        await Poll.UntilAsync(async () => (await first.Shard("vouch", "ga", 0).Purchase(purchase)).Status == PurchaseStatus.SoldOut,
            failure: "The first cluster never came back with an activation that holds the shard.");
    }

    [Theory, InlineData(Engines.Sqlite), PostgresRow]
    public async Task A_replaced_home_does_not_answer_sold_out_from_a_key_it_read_and_followed_to_a_refusal(string engine)
    {
        // As above, with the key found: the replaced home reads "key -> X", the holder refuses X for good, and no other
        // shard has room. A newer twin that had claimed could since have moved the key on (for the buyer's retry through
        // another front end), so that "sold out" rests on reads too, and waits for the row's epoch.
        using var storage = Engines.Storage(engine, postgres);
        var keyed = Keyed("followed", "followed-key");
        await using var twins = await LeaveKeyOnUnansweredOrderAsync(storage, "followed", shards: 2, keyed);
        var (first, second) = (twins.First, twins.Second);
        // The first cluster's shard 1, fenced, makes way for an activation that reads the database.
        await ReloadFencedHolderAsync(first, "followed");

        // The second cluster's activation of the home replaces the first's, which has not committed since.
        await second.ActivateShardsAsync("followed", "ga", 0);
        using var rechecks = first.CollectMetric<long>("orleanstickets.shards.claim_rechecks");
        var retried = await first.Shard("followed", "ga", 0).Purchase(new ShardPurchase(keyed, keyed.Fingerprint(), []));
        Assert.Equal(PurchaseStatus.Unavailable, retried.Status);
        Assert.Equal(["replaced/keyed_refusal"], Rechecks(rechecks));

        // The first cluster's next activation of the home holds the shard: X is refused, nothing is left, sold out.
        await Poll.UntilAsync(async () => (await first.Shard("followed", "ga", 0).Purchase(new ShardPurchase(keyed, keyed.Fingerprint(), []))).Status == PurchaseStatus.SoldOut,
            failure: "The first cluster never came back with an activation that holds the shard.");
    }

    private static string[] Rechecks(MetricCollector<long> rechecks) =>
        [.. rechecks.GetMeasurementSnapshot().Select(m => $"{m.Tags["outcome"]}/{m.Tags["reason"]}")];

    /// <summary>
    /// Two clusters over one set of databases, with event <paramref name="eventId"/>: one type "ga" of 2 tickets on each of
    /// <paramref name="shards"/> shards. In the first cluster the home (shard 0) sells out, and <paramref name="keyed"/>'s
    /// order is forwarded: the home stores "key -> X on shard 1", and shard 1 answers "unavailable" without doing
    /// anything, so the home last knew X (and keeps the key's hash: the database holds the key). Then shard 1 sells out
    /// through the second cluster's activation, which fences the first's (whose ticket held for X is in its memory only).
    /// </summary>
    private static Task<TwinClusters> LeaveKeyOnUnansweredOrderAsync(TestStorage storage, string eventId, int shards, PurchaseRequest keyed)
    {
        var holderSilent = false;
        return TwinClusters.StartAsync(storage, eventId, TicketingCluster.Intercepting(
            new ShardAddress(eventId, "ga", 1), nameof(IInventoryShardGrain.Purchase), call =>
            {
                if (!Volatile.Read(ref holderSilent)) return call.Invoke();
                call.Result = PurchaseResult.Unavailable;
                return Task.CompletedTask;
            }), async twins =>
            {
                var (first, second) = (twins.First, twins.Second);
                await first.CreateEventAsync(eventId, TicketingCluster.Type("ga", capacity: 2 * shards, shards: shards));
                Assert.Equal(PurchaseStatus.Created, (await first.Shard(eventId, "ga", 0).Purchase(TicketingCluster.KeylessPurchase(eventId, "ga", 2))).Status);
                await first.ActivateShardsAsync(eventId, "ga", 1);
                Volatile.Write(ref holderSilent, true);
                Assert.Equal(PurchaseStatus.Unavailable, (await first.Shard(eventId, "ga", 0).Purchase(new ShardPurchase(keyed, keyed.Fingerprint(), [1]))).Status);
                Volatile.Write(ref holderSilent, false);
                Assert.Equal(PurchaseStatus.Created, (await second.Shard(eventId, "ga", 1).Purchase(TicketingCluster.KeylessPurchase(eventId, "ga", 2))).Status);
            });
    }

    /// <summary>
    /// Sends the first cluster's shard 1 (fenced by the twin's sale) a purchase, which it cannot make, and waits until an
    /// activation that read the database answers for it, with none left to sell.
    /// </summary>
    private static async Task ReloadFencedHolderAsync(TicketingCluster first, string eventId)
    {
        Assert.NotEqual(PurchaseStatus.Created, (await first.Shard(eventId, "ga", 1).Purchase(TicketingCluster.KeylessPurchase(eventId, "ga", 1))).Status);
        await Poll.UntilAsync(async () => await first.Shard(eventId, "ga", 1).GetSellable() == 0,
            failure: "The first cluster's shard 1 never came back with the database's count.");
    }

    private static PurchaseRequest Keyed(string eventId, string key) => new(eventId, "ga", 1, new Buyer("Ada", "ada@example.com"), key);
}
