using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using OrleansTickets.Events;
using OrleansTickets.Inventory;
using OrleansTickets.Orders;
using OrleansTickets.Storage;
using OrleansTickets.Tests.Infrastructure;

namespace OrleansTickets.Tests.Grains;

/// <summary>A home that cannot sell a keyed order itself asks each candidate before it reserves the key for it.</summary>
/// <remarks>
/// SQLite only: a candidate is made unreachable by putting a directory where its database file belongs, which needs
/// the file's path. The asking itself does not depend on the engine.
/// </remarks>
public sealed class ForwardingTests : IAsyncLifetime
{
    private TicketingCluster _cluster = null!;

    public async Task InitializeAsync() => _cluster = await TicketingCluster.StartAsync(TestStorage.Sqlite());

    public async Task DisposeAsync() => await _cluster.DisposeAsync();

    [Fact]
    public async Task A_home_passes_over_dry_and_unreachable_candidates_and_sells_on_one_with_room()
    {
        // 4 shards of 2 tickets, one per shard database.
        await _cluster.CreateEventAsync("probe", TicketingCluster.Type("ga", capacity: 8, shards: 4));
        var placements = await Task.WhenAll(Enumerable.Range(0, 4).Select(i => _cluster.LedgerAsync("probe", "ga", i)));
        Assert.Equal(4, placements.Select(p => p.Placement.DatabaseOrdinal).Distinct().Count());

        // The home (shard 0) and candidate 3 are dry; candidate 1's database cannot be opened; candidate 2 has room.
        foreach (var dry in new[] { 0, 3 })
        {
            var emptied = await _cluster.Shard("probe", "ga", dry).Purchase(new ShardPurchase(Request(2, key: null), string.Empty, []));
            Assert.Equal(PurchaseStatus.Created, emptied.Status);
        }
        // Candidate 2 is asked first here, so that its first answer (activating it, creating its database) does not
        // have to fit in the home's time for questions.
        Assert.Equal(2L, await _cluster.Shard("probe", "ga", 2).GetSellable());
        var databases = _cluster.Cluster.GetSiloServiceProvider().GetRequiredService<ShardDatabases>();
        var unreachable = new SqliteConnectionStringBuilder(databases.ConnectionStringFor(placements[1].Placement.DatabaseOrdinal)).DataSource;
        Directory.CreateDirectory(unreachable);

        var request = Request(1, key: "asks-first");
        var result = await _cluster.Shard("probe", "ga", 0).Purchase(new ShardPurchase(request, request.Fingerprint(), [3, 1, 2]));

        // Reserving the key for candidate 1 and then failing to reach it would end the request there, with a 503.
        Assert.Equal(PurchaseStatus.Created, result.Status);
        Assert.True(OrderId.TryGetShard(result.Order!.OrderId, out var holder));
        Assert.Equal(new ShardAddress("probe", "ga", 2), holder);
        // What the home heard goes back with the answer, in the order heard: its own 0, candidate 3's 0, candidate 2's
        // room less the ticket it held for this order. Candidate 1 could not say, which is not a count: nothing of it
        // goes back.
        Assert.Equal(new[] { new ShardSighting(0, 0), new ShardSighting(3, 0), new ShardSighting(2, 1) }, result.Sightings.ToArray());
        var stored = await placements[0].Ledger.ReadKeyAsync("asks-first");
        Assert.Equal(result.Order.OrderId, stored?.OrderId);

        // The order is the key's for good: asked again, the home replays it.
        var replay = await _cluster.Shard("probe", "ga", 0).Purchase(new ShardPurchase(request, request.Fingerprint(), [3, 1, 2]));
        Assert.Equal(PurchaseStatus.Replayed, replay.Status);
        Assert.Equal(result.Order, replay.Order, OrderComparer.Instance);
    }

    [Fact]
    public async Task A_shard_says_how_many_tickets_it_could_sell_now()
    {
        await _cluster.CreateEventAsync("sellable", TicketingCluster.Type("ga", capacity: 10, shards: 2));
        var shard = _cluster.Shard("sellable", "ga", 0);
        Assert.Equal(5L, await shard.GetSellable());

        Assert.Equal(PurchaseStatus.Created, (await shard.Purchase(new ShardPurchase(Request(3, key: null, "sellable"), string.Empty, []))).Status);

        Assert.Equal(2L, await shard.GetSellable());
        // No such shard: it cannot say, which is not a count of 0.
        Assert.Equal(-1L, await _cluster.Shard("sellable", "ga", 7).GetSellable());
    }

    private static PurchaseRequest Request(int quantity, string? key, string eventId = "probe") =>
        new(eventId, "ga", quantity, new Buyer("Ada", "ada@example.com"), key);
}
