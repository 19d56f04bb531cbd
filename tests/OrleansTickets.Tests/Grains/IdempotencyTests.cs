using OrleansTickets.Orders;
using OrleansTickets.Tests.Infrastructure;

namespace OrleansTickets.Tests.Grains;

/// <summary>Idempotency keys: one order per key, however often and however concurrently it is retried.</summary>
[Collection(PostgresKeysCollection.Name)]
public sealed class IdempotencyTests(PostgresFixture postgres, ITestOutputHelper output) : EngineClusterTests(postgres, output)
{
    [Theory, InlineData(Engines.Sqlite), PostgresRow]
    public async Task Concurrent_retries_with_one_key_create_exactly_one_order(string engine)
    {
        await StartAsync(engine);
        await Cluster.CreateEventAsync("idem", TicketingCluster.Type("ga", capacity: 100, shards: 4));

        var results = await Task.WhenAll(Enumerable.Range(0, 25).Select(_ => Cluster.BuyAsync("idem", "ga", 3, key: "retry-me")));

        Assert.Single(results, r => r.Status == PurchaseStatus.Created);
        Assert.All(results, r => Assert.Contains(r.Status, new[] { PurchaseStatus.Created, PurchaseStatus.Replayed }));
        Assert.Single(results.Select(r => r.Order!.OrderId).Distinct());
        Assert.All(results, r => Assert.Equal(results[0].Order, r.Order, OrderComparer.Instance));
        Assert.Equal(3L, (await Cluster.SalesAsync("idem")).TicketTypes[0].Sold);

        var later = await Cluster.BuyAsync("idem", "ga", 3, key: "retry-me");
        Assert.Equal(PurchaseStatus.Replayed, later.Status);
        Assert.Equal(results[0].Order, later.Order, OrderComparer.Instance);
    }

    [Theory, InlineData(Engines.Sqlite), PostgresRow]
    public async Task Reusing_a_key_with_another_body_is_a_conflict(string engine)
    {
        await StartAsync(engine);
        await Cluster.CreateEventAsync("conflict", TicketingCluster.Type("ga", 100, 2), TicketingCluster.Type("vip", 10, 1));
        Assert.Equal(PurchaseStatus.Created, (await Cluster.BuyAsync("conflict", "ga", 2, key: "k1")).Status);

        Assert.Equal(PurchaseStatus.KeyConflict, (await Cluster.BuyAsync("conflict", "ga", 3, key: "k1")).Status);
        Assert.Equal(PurchaseStatus.KeyConflict, (await Cluster.BuyAsync("conflict", "ga", 2, key: "k1", buyer: "Bob")).Status);
        Assert.Equal(PurchaseStatus.KeyConflict, (await Cluster.BuyAsync("conflict", "vip", 2, key: "k1")).Status);
        Assert.Equal(2L, (await Cluster.SalesAsync("conflict")).TicketTypes.Sum(t => t.Sold));
    }

    [Theory, InlineData(Engines.Sqlite), PostgresRow]
    public async Task One_key_makes_one_order_across_ticket_types_even_when_both_arrive_at_once(string engine)
    {
        await StartAsync(engine);
        // Both types have a shard on each of the 4 test databases, so a key's homes for ga and vip are different
        // shards on one database: only that database's one-key-per-event index can tell the second home.
        await Cluster.CreateEventAsync("cross", TicketingCluster.Type("ga", 100, 4), TicketingCluster.Type("vip", 100, 4));
        Assert.Equal(PurchaseStatus.Created, (await Cluster.BuyAsync("cross", "ga", 1, key: "k0")).Status);
        Assert.Equal(PurchaseStatus.KeyConflict, (await Cluster.BuyAsync("cross", "vip", 1, key: "k0")).Status);

        var keys = Enumerable.Range(1, 24).Select(i => $"k{i}").ToList();
        var results = await Task.WhenAll(keys.Select(async key =>
        {
            var both = await Task.WhenAll(Cluster.BuyAsync("cross", "ga", 1, key: key), Cluster.BuyAsync("cross", "vip", 2, key: key));
            return (Key: key, Ga: both[0], Vip: both[1]);
        }));

        foreach (var (key, ga, vip) in results)
        {
            Assert.Equal([PurchaseStatus.Created, PurchaseStatus.KeyConflict], new[] { ga.Status, vip.Status }.Order());
            var (type, quantity, winner) = ga.Status == PurchaseStatus.Created ? ("ga", 1, ga) : ("vip", 2, vip);
            var replay = await Cluster.BuyAsync("cross", type, quantity, key: key);
            Assert.Equal(PurchaseStatus.Replayed, replay.Status);
            Assert.Equal(winner.Order, replay.Order, OrderComparer.Instance);
        }
        var sold = results.Sum(r => r.Ga.Status == PurchaseStatus.Created ? 1 : 2);
        Assert.Equal(1L + sold, (await Cluster.SalesAsync("cross")).TicketTypes.Sum(t => t.Sold));
    }

    [Theory, InlineData(Engines.Sqlite), PostgresRow]
    public async Task Keys_whose_home_shard_is_sold_out_are_forwarded_and_replay_the_same_order(string engine)
    {
        await StartAsync(engine);
        using var forwards = Cluster.CollectMetric<long>("orleanstickets.shards.forwards");
        // 4 shards of 5: most keys' home shards sell out before the sale ends, so most orders are forwarded.
        await Cluster.CreateEventAsync("forward", TicketingCluster.Type("ga", capacity: 20, shards: 4));
        await Cluster.ActivateShardsAsync("forward", "ga", 0, 1, 2, 3);
        var keys = Enumerable.Range(0, 20).Select(i => $"buyer-{i}").ToList();

        var first = await Task.WhenAll(keys.Select(k => Cluster.BuyAsync("forward", "ga", 1, key: k)));
        Assert.All(first, r => Assert.Equal(PurchaseStatus.Created, r.Status));
        OrderAssertions.AllSerialsAndCodesUnique(first.Select(r => r.Order!));
        Assert.Equal(PurchaseStatus.SoldOut, (await Cluster.BuyAsync("forward", "ga", 1, key: "latecomer")).Status);
        Assert.True(forwards.GetMeasurementSnapshot().Sum(m => m.Value) > 0, "no key's home was full; the replays below prove nothing about forwards");

        var replays = await Task.WhenAll(keys.Select(k => Cluster.BuyAsync("forward", "ga", 1, key: k)));
        for (var i = 0; i < keys.Count; i++)
        {
            Assert.Equal(PurchaseStatus.Replayed, replays[i].Status);
            Assert.Equal(first[i].Order, replays[i].Order, OrderComparer.Instance);
        }
        Assert.Equal(20L, (await Cluster.SalesAsync("forward")).TicketTypes[0].Sold);
    }

    [Theory, InlineData(Engines.Sqlite), PostgresRow]
    public async Task Keys_survive_deactivation_of_every_shard(string engine)
    {
        await StartAsync(engine);
        var definition = await Cluster.CreateEventAsync("durable-keys", TicketingCluster.Type("ga", capacity: 40, shards: 4));
        var first = await Task.WhenAll(Enumerable.Range(0, 10).Select(i => Cluster.BuyAsync("durable-keys", "ga", 2, key: $"k{i}")));

        for (var i = 0; i < 4; i++) await Cluster.Cluster.DeactivateAsync(Cluster.Shard(definition.Id, "ga", i));

        var again = await Task.WhenAll(Enumerable.Range(0, 10).Select(i => Cluster.BuyAsync("durable-keys", "ga", 2, key: $"k{i}")));
        for (var i = 0; i < 10; i++)
        {
            Assert.Equal(PurchaseStatus.Replayed, again[i].Status);
            Assert.Equal(first[i].Order, again[i].Order, OrderComparer.Instance);
        }
        Assert.Equal(20L, (await Cluster.SalesAsync("durable-keys")).TicketTypes[0].Sold);
    }

    [Theory, InlineData(Engines.Sqlite), PostgresRow]
    public async Task Reactivated_homes_answer_old_keys_from_the_database_even_once_the_type_is_sold_out(string engine)
    {
        await StartAsync(engine);
        // Homes do not load their keys when they activate; every answer below for a key used before the shards
        // reactivated comes from reading that key. 4 shards of 5 for 20 keys, so many orders were forwarded.
        var definition = await Cluster.CreateEventAsync("late",
            TicketingCluster.Type("ga", capacity: 20, shards: 4), TicketingCluster.Type("vip", capacity: 20, shards: 4));
        var keys = Enumerable.Range(0, 20).Select(i => $"buyer-{i}").ToList();
        var first = await Task.WhenAll(keys.Select(k => Cluster.BuyAsync("late", "ga", 1, key: k)));
        Assert.All(first, r => Assert.Equal(PurchaseStatus.Created, r.Status));

        await DeactivateAllAsync(definition.Id);
        // ga is sold out now, and each key is retried twice at once.
        var replays = await Task.WhenAll(keys.Concat(keys).Select(k => Cluster.BuyAsync("late", "ga", 1, key: k)));
        for (var i = 0; i < replays.Length; i++)
        {
            Assert.Equal(PurchaseStatus.Replayed, replays[i].Status);
            Assert.Equal(first[i % keys.Count].Order, replays[i].Order, OrderComparer.Instance);
        }

        await DeactivateAllAsync(definition.Id);
        Assert.Equal(PurchaseStatus.KeyConflict, (await Cluster.BuyAsync("late", "ga", 2, key: "buyer-0")).Status);
        Assert.Equal(PurchaseStatus.KeyConflict, (await Cluster.BuyAsync("late", "vip", 1, key: "buyer-1")).Status);
        Assert.Equal(PurchaseStatus.SoldOut, (await Cluster.BuyAsync("late", "ga", 1, key: "newcomer")).Status);
        Assert.Equal(PurchaseStatus.Replayed, (await Cluster.BuyAsync("late", "ga", 1, key: "buyer-0")).Status);
        Assert.Equal(PurchaseStatus.Created, (await Cluster.BuyAsync("late", "vip", 1, key: "vip-buyer")).Status);

        var sales = await Cluster.SalesAsync("late");
        Assert.Equal([20L, 1L], sales.TicketTypes.Select(t => t.Sold));
    }

    [Theory, InlineData(Engines.Sqlite), PostgresRow]
    public async Task Retries_of_keys_the_home_knows_are_answered_from_reads_while_its_database_takes_no_writes(string engine)
    {
        await StartAsync(engine);
        // Tickets are left, so a home that took a retry's key for a new one would try to sell it (a write).
        await Cluster.CreateEventAsync("settled", TicketingCluster.Type("ga", capacity: 10, shards: 1));
        var keys = Enumerable.Range(0, 3).Select(i => $"k{i}").ToList();
        var first = new List<PurchaseResult>();
        foreach (var key in keys) first.Add(await Cluster.BuyAsync("settled", "ga", 2, key: key));
        Assert.All(first, r => Assert.Equal(PurchaseStatus.Created, r.Status));

        // The home keeps only a hash of each key it knows the database holds. A retry must read the stored key, not write it as new: a
        // write would wait here, and on PostgreSQL a refused one rolls back the group commit it rode in, whose other
        // orders are then written again. 5 s is well within a write's wait for the held lock (SQLite's busy timeout is 10 s).
        await using (await Cluster.HoldWritesAsync("settled", "ga", 0))
        {
            for (var i = 0; i < keys.Count; i++)
            {
                // Several retries at once: all but one wait for the request in progress, then read the key themselves.
                var replays = await Answered(Task.WhenAll(Enumerable.Range(0, 3).Select(_ => Cluster.BuyAsync("settled", "ga", 2, key: keys[i]))));
                Assert.All(replays, replay =>
                {
                    Assert.Equal(PurchaseStatus.Replayed, replay.Status);
                    Assert.Equal(first[i].Order, replay.Order, OrderComparer.Instance);
                });
                var stranger = await Answered(Cluster.BuyAsync("settled", "ga", 1, key: keys[i]));
                Assert.Equal(PurchaseStatus.KeyConflict, stranger.Status);
            }
        }
        Assert.Equal(6L, (await Cluster.SalesAsync("settled")).TicketTypes[0].Sold);

        static async Task<T> Answered<T>(Task<T> retry)
        {
            await Task.WhenAny(retry, Task.Delay(TimeSpan.FromSeconds(5)));
            Assert.True(retry.IsCompleted, "A retry of a key the home knows waited for its held writes: it wrote instead of reading.");
            return await retry;
        }
    }

    [Theory, InlineData(Engines.Sqlite), PostgresRow]
    public async Task A_retry_meeting_another_body_in_flight_for_its_forgotten_key_gets_its_own_order(string engine)
    {
        await StartAsync(engine);
        await Cluster.CreateEventAsync("busy-key", TicketingCluster.Type("ga", capacity: 10, shards: 1));
        var first = await Cluster.BuyAsync("busy-key", "ga", 1, key: "k");
        Assert.Equal(PurchaseStatus.Created, first.Status);
        // The home forgets its keys when it deactivates: from now on only the database knows "k".
        await Cluster.Cluster.DeactivateAsync(Cluster.Shard("busy-key", "ga", 0));
        var shard = Cluster.Shard("busy-key", "ga", 0);
        // Activated (and its row claimed, a write) before writes are held.
        Assert.Equal(1L, (await shard.GetSales()).Sold);

        Task<PurchaseResult> stranger, retry;
        await using (await Cluster.HoldWritesAsync("busy-key", "ga", 0))
        {
            // Someone else reuses "k" with another body; it is in its commit (its tickets reserved) when the first
            // buyer's retry arrives.
            stranger = Cluster.BuyAsync("busy-key", "ga", 2, key: "k", buyer: "Eve");
            await Poll.UntilAsync(async () => (await shard.GetSales()).Reserved == 2, 200,
                failure: "The stranger's purchase never reached its commit.");
            retry = Cluster.BuyAsync("busy-key", "ga", 1, key: "k");
            // Long enough for an answer that does not wait for the stranger's outcome: there must be none, since
            // the retry waits on the stranger's request (a home that compared bodies first answered 422 here).
            await Task.WhenAny(retry, Task.Delay(TimeSpan.FromSeconds(1)));
            Assert.False(retry.IsCompleted, "The retry was answered while the stranger's commit was held.");
        }

        Assert.Equal(PurchaseStatus.KeyConflict, (await stranger).Status);
        var replay = await retry;
        Assert.Equal(PurchaseStatus.Replayed, replay.Status);
        Assert.Equal(first.Order, replay.Order, OrderComparer.Instance);
        Assert.Equal(1L, (await Cluster.SalesAsync("busy-key")).TicketTypes[0].Sold);
    }

    private async Task DeactivateAllAsync(string eventId)
    {
        foreach (var type in new[] { "ga", "vip" })
        {
            for (var i = 0; i < 4; i++) await Cluster.Cluster.DeactivateAsync(Cluster.Shard(eventId, type, i));
        }
    }
}
