using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using OrleansTickets.Dispatch;
using OrleansTickets.Events;
using OrleansTickets.Inventory;
using OrleansTickets.Orders;
using OrleansTickets.Storage;
using OrleansTickets.Tests.Infrastructure;

namespace OrleansTickets.Tests.Grains;

/// <summary>
/// A keyed order whose home has no room goes to a sibling of the home (a shard of its type on the key's database),
/// which sells it itself; any sibling serves a key another stored, and the key still names one order.
/// </summary>
/// <remarks>Both engines: what keeps one order per key is the key table and the compare-and-set on it.</remarks>
[Collection(PostgresCollection.Name)]
public sealed class SiblingHomeTests(PostgresFixture postgres, ITestOutputHelper output) : EngineClusterTests(postgres, output)
{
    // 8 shards of 2 tickets over the 4 shard databases: each shard has one sibling.
    private const int Shards = 8;

    [Theory, MemberData(nameof(Engines.All), MemberType = typeof(Engines))]
    public async Task A_keyed_order_whose_home_the_view_shows_dry_is_sold_by_a_sibling_without_a_forward(string engine)
    {
        await StartAsync(engine);
        var homes = await CreateAsync("divert");
        var (first, second) = TwoKeysWithOneHome(homes, "divert");
        var home = homes.HomeOf(first);
        await EmptyAsync("divert", home);
        // The first order finds the home dry (the dispatcher's new view did not know it), forwards, and the home's
        // answer tells the dispatcher so.
        Assert.Equal(PurchaseStatus.Created, (await Cluster.BuyAsync("divert", "ga", 1, key: first)).Status);
        using var forwards = Cluster.CollectMetric<long>("orleanstickets.shards.forwards");
        using var questions = Cluster.CollectMetric<long>("orleanstickets.shards.room_questions");
        using var answers = Cluster.CollectMetric<long>("orleanstickets.dispatch.answers");

        var sold = await Cluster.BuyAsync("divert", "ga", 1, key: second);

        Assert.Equal(PurchaseStatus.Created, sold.Status);
        Assert.True(OrderId.TryGetShard(sold.Order!.OrderId, out var seller));
        var sibling = Assert.Single(homes.SiblingsOf(second).ToArray(), index => index != home);
        Assert.Equal(sibling, seller.Index);
        Assert.Equal(0, Sum(forwards) + Sum(questions));
        Assert.Equal(1, Sum(answers, "direct"));
        Assert.Equal(1, Sum(answers));
        // Stored in one commit with the order, on the database the key's home shares with its sibling.
        var (_, ledger) = await Cluster.LedgerAsync("divert", "ga", home);
        var fingerprint = Request("divert", second).Fingerprint();
        Assert.Equal(new StoredKey(new ShardAddress("divert", "ga", sibling).Key, fingerprint, sold.Order.OrderId), await ledger.ReadKeyAsync(second));

        // The home, asked itself (a dispatcher whose view still shows it with room), replays its sibling's order.
        var request = Request("divert", second);
        var replay = await Cluster.Shard("divert", "ga", home).Purchase(new ShardPurchase(request, request.Fingerprint(), []));
        Assert.Equal(PurchaseStatus.Replayed, replay.Status);
        Assert.Equal(sold.Order, replay.Order, OrderComparer.Instance);
        Assert.Equal(PurchaseStatus.Replayed, (await Cluster.BuyAsync("divert", "ga", 1, key: second)).Status);
        // The emptied home's two tickets and the two orders.
        Assert.Equal(4, (await Cluster.SalesAsync("divert")).TicketTypes[0].Sold);
    }

    [Theory, MemberData(nameof(Engines.All), MemberType = typeof(Engines))]
    public async Task Siblings_serving_one_key_at_once_make_one_order(string engine)
    {
        await StartAsync(engine);
        var homes = await CreateAsync("race", capacity: 2 * Shards * 10);
        var keys = Enumerable.Range(0, 12).Select(n => $"race-{n}").ToArray();

        // Each key is sent to its home and its sibling at once, twice over: both sell locally, so each insert races.
        var answers = await Task.WhenAll(keys.Select(async key =>
        {
            var request = Request("race", key);
            var purchase = new ShardPurchase(request, request.Fingerprint(), []);
            var shards = homes.SiblingsOf(key).ToArray();
            Assert.Equal(2, shards.Length);
            var results = await Task.WhenAll(shards.Concat(shards).Select(index => Cluster.Shard("race", "ga", index).Purchase(purchase)));
            return (Key: key, Results: results);
        }));

        long sold = 0;
        foreach (var (key, results) in answers)
        {
            // Each key lives on its home's database.
            var (_, ledger) = await Cluster.LedgerAsync("race", "ga", homes.HomeOf(key));
            var stored = await ledger.ReadKeyAsync(key);
            Assert.NotNull(stored);
            // Every answer with an order names the stored one; an answer without one may only say "outcome unknown".
            foreach (var result in results)
            {
                if (result.Order is { } order) Assert.Equal(stored.OrderId, order.OrderId);
                else Assert.Equal(PurchaseStatus.Failed, result.Status);
            }
            Assert.Single(results, result => result.Status == PurchaseStatus.Created);
            sold++;
        }
        // One ticket per key: no second order was made for any of them.
        Assert.Equal(sold, (await Cluster.SalesAsync("race")).TicketTypes[0].Sold);
    }

    [Theory, MemberData(nameof(Engines.All), MemberType = typeof(Engines))]
    public async Task A_sibling_moves_a_key_off_a_refused_order_and_its_home_then_replays_the_new_one(string engine)
    {
        await StartAsync(engine);
        var homes = await CreateAsync("moved");
        var (key, _) = TwoKeysWithOneHome(homes, "moved");
        var home = homes.HomeOf(key);
        var sibling = homes.SiblingsOf(key).ToArray().Single(index => index != home);
        var dry = Enumerable.Range(0, Shards).First(index => index != home && index != sibling);
        await EmptyAsync("moved", home);
        await EmptyAsync("moved", dry);
        var request = Request("moved", key);
        var homeShard = Cluster.Shard("moved", "ga", home);

        // The home forwards to a dry shard named with a donor that has nothing (so it is not asked for room first),
        // which refuses the order for good: the key points at that refused order.
        var first = await homeShard.Purchase(new ShardPurchase(request, request.Fingerprint(), [dry], Donors: [home]));
        Assert.Equal(PurchaseStatus.SoldOut, first.Status);
        var (_, ledger) = await Cluster.LedgerAsync("moved", "ga", home);
        var refused = (await ledger.ReadKeyAsync(key))!.OrderId;

        // The retry goes to the sibling, which sells it and moves the key in the same commit.
        var sold = await Cluster.Shard("moved", "ga", sibling).Purchase(new ShardPurchase(request, request.Fingerprint(), []));

        Assert.Equal(PurchaseStatus.Created, sold.Status);
        Assert.True(OrderId.TryGetShard(sold.Order!.OrderId, out var seller));
        Assert.Equal(sibling, seller.Index);
        Assert.NotEqual(refused, sold.Order.OrderId);
        Assert.Equal(new StoredKey(seller.Key, request.Fingerprint(), sold.Order.OrderId), await ledger.ReadKeyAsync(key));
        // The home knows the key is stored (it stored it), reads it first, and replays the sibling's order.
        var replay = await homeShard.Purchase(new ShardPurchase(request, request.Fingerprint(), [dry]));
        Assert.Equal(PurchaseStatus.Replayed, replay.Status);
        Assert.Equal(sold.Order, replay.Order, OrderComparer.Instance);
        Assert.Equal(2 * 2 + 1, (await Cluster.SalesAsync("moved")).TicketTypes[0].Sold);
    }

    [Theory, MemberData(nameof(Engines.All), MemberType = typeof(Engines))]
    public async Task A_home_whose_forward_was_refused_while_a_sibling_sold_the_key_replays_that_order_instead_of_sold_out(string engine)
    {
        // The home's forward of the order it reserved the key for waits at the holder's door until the sibling is done.
        string? heldShard = null;
        var arrived = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await StartAsync(engine, silo => silo.AddIncomingGrainCallFilter(async call =>
        {
            if (call.InterfaceMethod.Name == nameof(IInventoryShardGrain.Purchase) && call.TargetId.Key.ToString() == Volatile.Read(ref heldShard)
                && call.Request.GetArgument(0) is ShardPurchase { FreshOrderId: true })
            {
                arrived.TrySetResult();
                await gate.Task;
            }
            await call.Invoke();
        }));
        var homes = await CreateAsync("overtaken");
        var (key, _) = TwoKeysWithOneHome(homes, "overtaken");
        var home = homes.HomeOf(key);
        var sibling = homes.SiblingsOf(key).ToArray().Single(index => index != home);
        var dry = Enumerable.Range(0, Shards).First(index => index != home && index != sibling);
        await EmptyAsync("overtaken", home);
        await EmptyAsync("overtaken", dry);
        var request = Request("overtaken", key);
        Volatile.Write(ref heldShard, new ShardAddress("overtaken", "ga", dry).Key);

        // The home reserves the key for an order on the dry shard (named with a donor that has nothing, so it is not
        // asked for room first) and sends it there, where it waits.
        var atHome = Cluster.Shard("overtaken", "ga", home).Purchase(new ShardPurchase(request, request.Fingerprint(), [dry], Donors: [home]));
        await arrived.Task.WaitAsync(TimeSpan.FromSeconds(30));
        // Meanwhile a retry at the sibling replays that order on the dry shard, which refuses it for good, and the
        // sibling sells it itself, moving the key on.
        var atSibling = await Cluster.Shard("overtaken", "ga", sibling).Purchase(new ShardPurchase(request, request.Fingerprint(), []));
        Assert.Equal(PurchaseStatus.Created, atSibling.Status);
        gate.SetResult();

        // The dry shard refuses the home's order too. The home had reserved the key for it, but the key has moved on
        // since: the buyer is told of the order it has, not "sold out".
        var answer = await atHome;
        Assert.Equal(PurchaseStatus.Replayed, answer.Status);
        Assert.Equal(atSibling.Order, answer.Order, OrderComparer.Instance);
        Assert.Equal(2 * 2 + 1, (await Cluster.SalesAsync("overtaken")).TicketTypes[0].Sold);
    }

    [Theory, MemberData(nameof(Engines.All), MemberType = typeof(Engines))]
    public async Task A_sibling_refuses_a_key_stored_with_another_body_or_by_another_types_home(string engine)
    {
        await StartAsync(engine);
        var homes = await CreateAsync("bodies", withVip: true);
        var (key, _) = TwoKeysWithOneHome(homes, "bodies");
        var home = homes.HomeOf(key);
        var sibling = homes.SiblingsOf(key).ToArray().Single(index => index != home);
        var request = Request("bodies", key);
        Assert.Equal(PurchaseStatus.Created, (await Cluster.Shard("bodies", "ga", home).Purchase(new ShardPurchase(request, request.Fingerprint(), []))).Status);

        var twoTickets = request with { Quantity = 2 };
        var other = await Cluster.Shard("bodies", "ga", sibling).Purchase(new ShardPurchase(twoTickets, twoTickets.Fingerprint(), []));
        Assert.Equal(PurchaseStatus.KeyConflict, other.Status);

        // The key again for VIP, whose shard on the key's database is a home of another type: a conflict there, and
        // a VIP key is a conflict for a GA shard of that database.
        var definition = (await Cluster.Client.GetEventGrain("bodies").GetDefinition())!;
        var vipHomes = new KeyHomes(definition, await Cluster.Client.GetEventGrain("bodies").GetShardDatabases(), "vip");
        var vipHome = definition.ShardAt(vipHomes.HomeOf(key));
        var vip = request with { TicketTypeId = "vip" };
        var vipAnswer = await Cluster.Client.GetGrain<IInventoryShardGrain>(vipHome.Key).Purchase(new ShardPurchase(vip, vip.Fingerprint(), []));
        Assert.Equal(PurchaseStatus.KeyConflict, vipAnswer.Status);
        const string vipKey = "bodies-vip";
        var vipOwner = definition.ShardAt(vipHomes.HomeOf(vipKey));
        var vipOrder = Request("bodies", vipKey) with { TicketTypeId = "vip" };
        Assert.Equal(PurchaseStatus.Created, (await Cluster.Client.GetGrain<IInventoryShardGrain>(vipOwner.Key)
            .Purchase(new ShardPurchase(vipOrder, vipOrder.Fingerprint(), []))).Status);
        var gaOnThatDatabase = homes.SiblingsOf(vipKey).ToArray()[0];
        var gaRequest = Request("bodies", vipKey);
        var crossed = await Cluster.Shard("bodies", "ga", gaOnThatDatabase).Purchase(new ShardPurchase(gaRequest, gaRequest.Fingerprint(), []));
        Assert.Equal(PurchaseStatus.KeyConflict, crossed.Status);
        Assert.Equal(1, (await Cluster.SalesAsync("bodies")).TicketTypes.Single(type => type.Id == "ga").Sold);
    }

    private async Task<KeyHomes> CreateAsync(string eventId, int capacity = 2 * Shards, bool withVip = false)
    {
        var definition = withVip
            ? await Cluster.CreateEventAsync(eventId, TicketingCluster.Type("ga", capacity, Shards), TicketingCluster.Type("vip", capacity: 4, shards: 4))
            : await Cluster.CreateEventAsync(eventId, TicketingCluster.Type("ga", capacity, Shards));
        return new KeyHomes(definition, await Cluster.Client.GetEventGrain(eventId).GetShardDatabases(), "ga");
    }

    /// <summary>Two keys with the same home, which has a sibling.</summary>
    private static (string First, string Second) TwoKeysWithOneHome(KeyHomes homes, string prefix)
    {
        var keys = Enumerable.Range(0, 1_000).Select(n => $"{prefix}-{n}").Where(key => homes.SiblingsOf(key).Length == 2).ToList();
        var pair = keys.GroupBy(homes.HomeOf).First(group => group.Count() >= 2).Take(2).ToArray();
        return (pair[0], pair[1]);
    }

    private async Task EmptyAsync(string eventId, int index)
    {
        var shard = Cluster.Shard(eventId, "ga", index);
        Assert.Equal(PurchaseStatus.Created, (await shard.Purchase(TicketingCluster.KeylessPurchase(eventId, "ga", (int)await shard.GetSellable()))).Status);
    }

    private static PurchaseRequest Request(string eventId, string key) => new(eventId, "ga", 1, new Buyer("Ada", "ada@example.com"), key);

    private static long Sum(MetricCollector<long> collector) => collector.GetMeasurementSnapshot().Sum(m => m.Value);

    private static long Sum(MetricCollector<long> answers, string route) =>
        answers.GetMeasurementSnapshot().Where(m => Equals(m.Tags["route"], route)).Sum(m => m.Value);
}
