using OrleansTickets.Orders;
using OrleansTickets.Tests.Infrastructure;

namespace OrleansTickets.Tests.Grains;

/// <summary>Idempotency keys: one order per key, however often and however concurrently it is retried.</summary>
[Collection(PostgresCollection.Name)]
public sealed class IdempotencyTests(PostgresFixture postgres) : IAsyncLifetime
{
    private TicketingCluster _cluster = null!;

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        if (_cluster is not null) await _cluster.DisposeAsync();
    }

    private async Task StartAsync(string engine) => _cluster = await TicketingCluster.StartAsync(Engines.Storage(engine, postgres));

    [Theory, MemberData(nameof(Engines.All), MemberType = typeof(Engines))]
    public async Task Concurrent_retries_with_one_key_create_exactly_one_order(string engine)
    {
        await StartAsync(engine);
        await _cluster.CreateEventAsync("idem", TicketingCluster.Type("ga", capacity: 100, shards: 4));

        var results = await Task.WhenAll(Enumerable.Range(0, 25).Select(_ => _cluster.BuyAsync("idem", "ga", 3, key: "retry-me")));

        Assert.Single(results, r => r.Status == PurchaseStatus.Created);
        Assert.All(results, r => Assert.Contains(r.Status, new[] { PurchaseStatus.Created, PurchaseStatus.Replayed }));
        Assert.Single(results.Select(r => r.Order!.OrderId).Distinct());
        Assert.All(results, r => Assert.Equal(results[0].Order, r.Order, OrderComparer.Instance));
        Assert.Equal(3L, (await _cluster.SalesAsync("idem")).TicketTypes[0].Sold);

        var later = await _cluster.BuyAsync("idem", "ga", 3, key: "retry-me");
        Assert.Equal(PurchaseStatus.Replayed, later.Status);
        Assert.Equal(results[0].Order, later.Order, OrderComparer.Instance);
    }

    [Theory, MemberData(nameof(Engines.All), MemberType = typeof(Engines))]
    public async Task Reusing_a_key_with_another_body_is_a_conflict(string engine)
    {
        await StartAsync(engine);
        await _cluster.CreateEventAsync("conflict", TicketingCluster.Type("ga", 100, 2), TicketingCluster.Type("vip", 10, 1));
        Assert.Equal(PurchaseStatus.Created, (await _cluster.BuyAsync("conflict", "ga", 2, key: "k1")).Status);

        Assert.Equal(PurchaseStatus.KeyConflict, (await _cluster.BuyAsync("conflict", "ga", 3, key: "k1")).Status);
        Assert.Equal(PurchaseStatus.KeyConflict, (await _cluster.BuyAsync("conflict", "ga", 2, key: "k1", buyer: "Bob")).Status);
        Assert.Equal(PurchaseStatus.KeyConflict, (await _cluster.BuyAsync("conflict", "vip", 2, key: "k1")).Status);
        Assert.Equal(2L, (await _cluster.SalesAsync("conflict")).TicketTypes.Sum(t => t.Sold));
    }

    [Theory, MemberData(nameof(Engines.All), MemberType = typeof(Engines))]
    public async Task Keys_whose_home_shard_is_sold_out_are_forwarded_and_replay_the_same_order(string engine)
    {
        await StartAsync(engine);
        // 4 shards of 5: most keys' home shards sell out before the sale ends, so most orders are forwarded.
        await _cluster.CreateEventAsync("forward", TicketingCluster.Type("ga", capacity: 20, shards: 4));
        var keys = Enumerable.Range(0, 20).Select(i => $"buyer-{i}").ToList();

        var first = await Task.WhenAll(keys.Select(k => _cluster.BuyAsync("forward", "ga", 1, key: k)));
        Assert.All(first, r => Assert.Equal(PurchaseStatus.Created, r.Status));
        OrderAssertions.AllSerialsAndCodesUnique(first.Select(r => r.Order!));
        Assert.Equal(PurchaseStatus.SoldOut, (await _cluster.BuyAsync("forward", "ga", 1, key: "latecomer")).Status);

        var replays = await Task.WhenAll(keys.Select(k => _cluster.BuyAsync("forward", "ga", 1, key: k)));
        for (var i = 0; i < keys.Count; i++)
        {
            Assert.Equal(PurchaseStatus.Replayed, replays[i].Status);
            Assert.Equal(first[i].Order, replays[i].Order, OrderComparer.Instance);
        }
        Assert.Equal(20L, (await _cluster.SalesAsync("forward")).TicketTypes[0].Sold);
    }

    [Theory, MemberData(nameof(Engines.All), MemberType = typeof(Engines))]
    public async Task Keys_survive_deactivation_of_every_shard(string engine)
    {
        await StartAsync(engine);
        var definition = await _cluster.CreateEventAsync("durable-keys", TicketingCluster.Type("ga", capacity: 40, shards: 4));
        var first = await Task.WhenAll(Enumerable.Range(0, 10).Select(i => _cluster.BuyAsync("durable-keys", "ga", 2, key: $"k{i}")));

        for (var i = 0; i < 4; i++) await _cluster.Cluster.DeactivateAsync(_cluster.Shard(definition.Id, "ga", i));

        var again = await Task.WhenAll(Enumerable.Range(0, 10).Select(i => _cluster.BuyAsync("durable-keys", "ga", 2, key: $"k{i}")));
        for (var i = 0; i < 10; i++)
        {
            Assert.Equal(PurchaseStatus.Replayed, again[i].Status);
            Assert.Equal(first[i].Order, again[i].Order, OrderComparer.Instance);
        }
        Assert.Equal(20L, (await _cluster.SalesAsync("durable-keys")).TicketTypes[0].Sold);
    }
}
