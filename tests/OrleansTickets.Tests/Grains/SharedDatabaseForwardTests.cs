using OrleansTickets.Events;
using OrleansTickets.Inventory;
using OrleansTickets.Orders;
using OrleansTickets.Tests.Infrastructure;

namespace OrleansTickets.Tests.Grains;

/// <summary>
/// A home that forwards to a shard on its own shard database lets that shard record the key with the order: one
/// commit, and the database's key table still decides (see InventoryShardGrain.Keys.cs, ForwardWithKeyAsync).
/// </summary>
/// <remarks>Both engines: the key's row is written by another shard's batch, which each engine's writer must name right.</remarks>
[Collection(PostgresCollection.Name)]
public sealed class SharedDatabaseForwardTests(PostgresFixture postgres, ITestOutputHelper output) : EngineClusterTests(postgres, output)
{
    [Theory, MemberData(nameof(Engines.All), MemberType = typeof(Engines))]
    public async Task A_forward_on_the_homes_database_is_one_commit_and_the_key_names_the_home(string engine)
    {
        await StartAsync(engine);
        var (home, holder) = await DryHomeAndPartnerAsync("one-commit");
        // Loaded before counting: on SQLite a shard's claim of its row goes through the same writer as commits.
        Assert.Equal(4L, await Cluster.Shard("one-commit", "ga", holder).GetSellable());
        using var commits = Cluster.CollectMetric<long>("orleanstickets.storage.commits");
        using var questions = Cluster.CollectMetric<long>("orleanstickets.shards.room_questions");
        var request = Request("one-commit", "ga", "together");

        var result = await Cluster.Shard("one-commit", "ga", home).Purchase(
            new ShardPurchase(request, request.Fingerprint(), [holder], SharedDatabaseCandidates: 1));

        Assert.Equal(PurchaseStatus.Created, result.Status);
        Assert.True(OrderId.TryGetShard(result.Order!.OrderId, out var seller));
        Assert.Equal(holder, seller.Index);
        // Two commits (the key's reservation on the home, then the sale on the holder) after a question is the
        // forward to another database; here the offer is the one call, and the holder's one commit carries both.
        Assert.Equal(1, commits.GetMeasurementSnapshot().Sum(m => m.Value));
        Assert.Equal(1, questions.GetMeasurementSnapshot().Sum(m => m.Value));
        var (_, ledger) = await Cluster.LedgerAsync("one-commit", "ga", home);
        var stored = await ledger.ReadKeyAsync("together");
        Assert.Equal(new ShardAddress("one-commit", "ga", home).Key, stored?.ShardKey);
        Assert.Equal(result.Order.OrderId, stored?.OrderId);

        var replay = await Cluster.Shard("one-commit", "ga", home).Purchase(
            new ShardPurchase(request, request.Fingerprint(), [holder], SharedDatabaseCandidates: 1));
        Assert.Equal(PurchaseStatus.Replayed, replay.Status);
        Assert.Equal(result.Order, replay.Order, OrderComparer.Instance);
    }

    [Theory, MemberData(nameof(Engines.All), MemberType = typeof(Engines))]
    public async Task A_key_the_event_already_has_is_refused_in_the_holders_commit_and_nothing_is_sold(string engine)
    {
        await StartAsync(engine);
        var (home, holder) = await DryHomeAndPartnerAsync("taken");
        var database = (await Cluster.LedgerAsync("taken", "ga", home)).Placement.DatabaseOrdinal;
        // A home of the other type, on the same database, records the key first.
        var vip = await FirstOnDatabaseAsync("taken", "vip", shards: 4, database);
        var first = Request("taken", "vip", "used-twice");
        Assert.Equal(PurchaseStatus.Created,
            (await Cluster.Shard("taken", "vip", vip).Purchase(new ShardPurchase(first, first.Fingerprint(), []))).Status);
        var before = await Cluster.Shard("taken", "ga", holder).GetSellable();

        var second = Request("taken", "ga", "used-twice");
        var result = await Cluster.Shard("taken", "ga", home).Purchase(
            new ShardPurchase(second, second.Fingerprint(), [holder], SharedDatabaseCandidates: 1));

        Assert.Equal(PurchaseStatus.KeyConflict, result.Status);
        Assert.Equal(before, await Cluster.Shard("taken", "ga", holder).GetSellable());
        var (_, ledger) = await Cluster.LedgerAsync("taken", "ga", home);
        Assert.Equal(new ShardAddress("taken", "vip", vip).Key, (await ledger.ReadKeyAsync("used-twice"))?.ShardKey);
        // The refused batch held up nothing: the holder sells the next order.
        Assert.Equal(PurchaseStatus.Created,
            (await Cluster.Shard("taken", "ga", holder).Purchase(TicketingCluster.KeylessPurchase("taken", "ga", 1))).Status);
    }

    [Theory, MemberData(nameof(Engines.All), MemberType = typeof(Engines))]
    public async Task A_shard_on_another_database_refuses_to_record_the_key(string engine)
    {
        await StartAsync(engine);
        var (home, _) = await DryHomeAndPartnerAsync("elsewhere");
        var homeDatabase = (await Cluster.LedgerAsync("elsewhere", "ga", home)).Placement.DatabaseOrdinal;
        var other = -1;
        for (var i = 0; i < Shards && other < 0; i++)
        {
            if ((await Cluster.LedgerAsync("elsewhere", "ga", i)).Placement.DatabaseOrdinal != homeDatabase) other = i;
        }
        var before = await Cluster.Shard("elsewhere", "ga", other).GetSellable();
        var request = Request("elsewhere", "ga", "wrong-table");

        // Told (wrongly) that the candidate shares its database, the home offers it the key; the candidate refuses,
        // since its key table would not see the event's other uses of the key.
        var result = await Cluster.Shard("elsewhere", "ga", home).Purchase(
            new ShardPurchase(request, request.Fingerprint(), [other], SharedDatabaseCandidates: 1));

        Assert.Equal(PurchaseStatus.SoldOut, result.Status);
        Assert.Equal(before, await Cluster.Shard("elsewhere", "ga", other).GetSellable());
        Assert.Null(await (await Cluster.LedgerAsync("elsewhere", "ga", other)).Ledger.ReadKeyAsync("wrong-table"));
        Assert.Null(await (await Cluster.LedgerAsync("elsewhere", "ga", home)).Ledger.ReadKeyAsync("wrong-table"));
    }

    [Theory, MemberData(nameof(Engines.All), MemberType = typeof(Engines))]
    public async Task The_dispatcher_offers_a_dry_home_the_shards_on_its_database_first(string engine)
    {
        await StartAsync(engine);
        // Every database holds two shards of the type; one of each pair is sold out. A key homed on a sold-out shard
        // must be forwarded, and four shards have room: one on the home's database, three elsewhere.
        await Cluster.CreateEventAsync("near", TicketingCluster.Type("ga", capacity: Shards * 4, shards: Shards, maxPerOrder: 1));
        var databaseOf = new int[Shards];
        for (var i = 0; i < Shards; i++) databaseOf[i] = (await Cluster.LedgerAsync("near", "ga", i)).Placement.DatabaseOrdinal;
        var dry = Enumerable.Range(0, Shards).GroupBy(i => databaseOf[i]).Select(g => g.Min()).ToList();
        Assert.Equal(Shards / 2, dry.Count);
        foreach (var index in dry)
        {
            for (var n = 0; n < 4; n++)
            {
                Assert.Equal(PurchaseStatus.Created, (await Cluster.Shard("near", "ga", index).Purchase(TicketingCluster.KeylessPurchase("near", "ga", 1))).Status);
            }
        }
        var ledgers = await Task.WhenAll(dry.Select(i => Cluster.LedgerAsync("near", "ga", i)));

        var forwards = 0;
        for (var n = 0; n < 16; n++)
        {
            var key = $"near-{n}";
            var result = await Cluster.BuyAsync("near", "ga", 1, key);
            Assert.Equal(PurchaseStatus.Created, result.Status);
            Assert.True(OrderId.TryGetShard(result.Order!.OrderId, out var seller));
            var stored = (await Task.WhenAll(ledgers.Select(l => l.Ledger.ReadKeyAsync(key)))).First(k => k is not null)!;
            var homeIndex = ShardAddress.Parse(stored.ShardKey).Index;
            if (homeIndex == seller.Index) continue;
            forwards++;
            Assert.Equal(databaseOf[homeIndex], databaseOf[seller.Index]);
        }
        // Half the keys are homed on a sold-out shard; with no preference, each forward would stay on the home's
        // database one time in four.
        Assert.True(forwards >= 3, $"only {forwards} of 16 keyed orders were forwarded");
    }

    private const int Shards = 8;

    /// <summary>
    /// An event "ga" of <see cref="Shards"/> shards of 4 tickets (and "vip" of 4 shards): a home, sold out, and another
    /// shard on its database with room.
    /// </summary>
    private async Task<(int Home, int Holder)> DryHomeAndPartnerAsync(string eventId)
    {
        await Cluster.CreateEventAsync(eventId,
            TicketingCluster.Type("ga", capacity: Shards * 4, shards: Shards, maxPerOrder: 1), TicketingCluster.Type("vip", capacity: 8, shards: 4));
        var databaseOf = new int[Shards];
        for (var i = 0; i < Shards; i++) databaseOf[i] = (await Cluster.LedgerAsync(eventId, "ga", i)).Placement.DatabaseOrdinal;
        var home = Enumerable.Range(0, Shards).First(i => Enumerable.Range(0, Shards).Any(j => j != i && databaseOf[j] == databaseOf[i]));
        var holder = Enumerable.Range(0, Shards).First(j => j != home && databaseOf[j] == databaseOf[home]);
        for (var n = 0; n < 4; n++)
        {
            Assert.Equal(PurchaseStatus.Created, (await Cluster.Shard(eventId, "ga", home).Purchase(TicketingCluster.KeylessPurchase(eventId, "ga", 1))).Status);
        }
        return (home, holder);
    }

    private async Task<int> FirstOnDatabaseAsync(string eventId, string typeId, int shards, int database)
    {
        for (var i = 0; i < shards; i++)
        {
            if ((await Cluster.LedgerAsync(eventId, typeId, i)).Placement.DatabaseOrdinal == database) return i;
        }
        throw new InvalidOperationException($"no {typeId} shard on database {database}");
    }

    private static PurchaseRequest Request(string eventId, string typeId, string key) =>
        new(eventId, typeId, 1, new Buyer("Ada", "ada@example.com"), key);
}
