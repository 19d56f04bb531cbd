using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using OrleansTickets.Events;
using OrleansTickets.Orders;
using OrleansTickets.Storage;
using OrleansTickets.Tests.Infrastructure;

namespace OrleansTickets.Tests.Grains;

/// <summary>
/// Two live activations of every shard at once, for real: two separate clusters over the same databases, so each
/// has its own activation of each shard and neither knows of the other (what a split directory during a
/// membership change can briefly cause). Buyers hammer both. Fencing must make every sale land once or not at all.
/// </summary>
[Collection(PostgresKeysCollection.Name)]
public sealed class DuplicateActivationTests(PostgresFixture postgres)
{
    [Theory, InlineData(Engines.Sqlite), PostgresRow]
    public async Task Two_activations_of_each_shard_selling_at_once_never_sell_a_ticket_twice(string engine)
    {
        using var storage = Engines.Storage(engine, postgres);
        await using var twins = await StartTwinsAsync(storage, "twins");
        var (first, second) = (twins.First, twins.Second);

        // Rounds of 400 buyers, until 50 orders are sold or five rounds are done: on a loaded machine the twins can
        // fence each other so fast that a round sells only a few (4 of 400 in one CI run), since each activation that
        // steps down is replaced by one that claims the shard back.
        var results = new List<(PurchaseResult Result, int Quantity)>();
        for (var round = 0; round < 5 && results.Count(r => r.Result.Status == PurchaseStatus.Created) < 50; round++)
        {
            var buys = Enumerable.Range(0, 400).Select(async i =>
                (await (i % 2 == 0 ? first : second).BuyAsync("twins", "ga", 1 + i % 2), 1 + i % 2));
            results.AddRange(await Task.WhenAll(buys));
        }

        var orders = results.Where(r => r.Result.Status == PurchaseStatus.Created).Select(r => r.Result.Order!).ToList();
        Assert.All(results, r => Assert.Contains(r.Result.Status, new[] { PurchaseStatus.Created, PurchaseStatus.SoldOut, PurchaseStatus.Unavailable, PurchaseStatus.Failed }));
        // The twins do not lock each other out for good: the activation that lost steps down and the sale goes on.
        // (Without orders every check below would hold trivially. Which twin sells is up to the race: in runs of
        // this test one cluster's buyers often got none, answered Unavailable while the other's activations held.)
        Assert.True(orders.Count >= 50, $"Only {orders.Count} of {results.Count} purchases were sold.");
        OrderAssertions.AllSerialsAndCodesUnique(orders);
        Assert.True(orders.Sum(o => o.Quantity) <= 300);

        // Every acknowledged order is in the database, read back by either cluster; the count agrees with the ledger.
        foreach (var order in orders)
        {
            Assert.True(OrderId.TryGetShard(order.OrderId, out var holder));
            var stored = await second.Client.GetGrain<Inventory.IInventoryShardGrain>(holder.Key).GetOrder(order.OrderId);
            Assert.Equal(order, stored, OrderComparer.Instance);
        }
        // The durable truth, counted in the databases (an activation that lost the race only knows its own view).
        // Nothing beyond the acknowledged tickets, except what an answer of unknown outcome may have committed.
        var ticketRows = 0L;
        for (var index = 0; index < 3; index++)
        {
            var (placement, ledger) = await first.LedgerAsync("twins", "ga", index);
            ticketRows += await ledger.CountTicketRowsAsync();
            // Each activation that ever sold claimed an epoch: both clusters' and this probe's make at least three.
            Assert.True((await ledger.ClaimAsync(placement.Block)).Epoch >= 3, $"Shard {index} never had two activations.");
        }
        var acknowledged = orders.Sum(o => (long)o.Quantity);
        var unknown = results.Where(r => r.Result.Status == PurchaseStatus.Failed).Sum(r => r.Quantity);
        Assert.InRange(ticketRows, acknowledged, Math.Min(300, acknowledged + unknown));
    }

    [Theory, InlineData(Engines.Sqlite), PostgresRow]
    public async Task Two_activations_of_each_shard_given_one_key_at_once_store_one_order_for_it(string engine)
    {
        using var storage = Engines.Storage(engine, postgres);
        await using var twins = await StartTwinsAsync(storage, "keyed-twins");
        var (first, second) = (twins.First, twins.Second);

        // Each key is sent to both clusters at once, so that two activations of its home (and of the shard that holds
        // its order, when that is another) take it at the same moment. Rounds as above, until 50 keys have an order.
        var answers = new List<(string Key, int Quantity, PurchaseResult Result)>();
        int KeysWithOrders() => answers.Where(a => a.Result.Order is not null).Select(a => a.Key).Distinct().Count();
        for (var round = 0; round < 8 && KeysWithOrders() < 50; round++)
        {
            var buys = Enumerable.Range(0, 300).SelectMany(i => new[] { first, second }.Select(async cluster =>
            {
                var key = $"twin-key-{round}-{i}";
                return (key, 1 + i % 2, await cluster.BuyAsync("keyed-twins", "ga", 1 + i % 2, key: key));
            }));
            answers.AddRange(await Task.WhenAll(buys));
        }
        Assert.All(answers, a => Assert.Contains(a.Result.Status,
            new[] { PurchaseStatus.Created, PurchaseStatus.Replayed, PurchaseStatus.SoldOut, PurchaseStatus.Unavailable, PurchaseStatus.Failed }));
        var acknowledged = answers.Where(a => a.Result.Order is not null).ToList();
        Assert.True(KeysWithOrders() >= 50, $"Only {KeysWithOrders()} of {answers.Select(a => a.Key).Distinct().Count()} keys got an order.");

        // The database's truth: each key names one order, and every answer with an order for the key names that one.
        var ledgers = new List<ShardLedger>();
        for (var index = 0; index < 3; index++)
        {
            var (placement, ledger) = await first.LedgerAsync("keyed-twins", "ga", index);
            ledgers.Add(ledger);
            Assert.True((await ledger.ClaimAsync(placement.Block)).Epoch >= 3, $"Shard {index} never had two activations.");
        }
        var storedQuantity = 0L;
        foreach (var key in answers.Select(a => a.Key).Distinct())
        {
            StoredKey? stored = null;
            foreach (var ledger in ledgers) stored ??= await ledger.ReadKeyAsync(key);
            var answered = acknowledged.Where(a => a.Key == key).Select(a => a.Result.Order!.OrderId).Distinct().ToList();
            if (stored is null)
            {
                Assert.Empty(answered);
                continue;
            }
            Assert.True(answered.Count == 0 || answered.SequenceEqual([stored.OrderId]), $"Key {key} is stored with {stored.OrderId}, and answered with {string.Join(", ", answered)}.");
            Assert.True(OrderId.TryGetShard(stored.OrderId, out var holder));
            var order = await ledgers[holder.Index].ReadOrderAsync(stored.OrderId);
            if (order is null)
            {
                // A forward's home records the key with the new order's id before the holder makes it; a holder that then
                // refused (a twin took its tickets) or never answered leaves the key on an id with no order. Nobody may
                // have been told of one.
                Assert.Empty(answered);
                continue;
            }
            storedQuantity += order.Quantity;
        }
        // No ticket sold beyond the keys' orders: no second order of a key, and none without its key stored.
        var ticketRows = 0L;
        foreach (var ledger in ledgers) ticketRows += await ledger.CountTicketRowsAsync();
        Assert.Equal(storedQuantity, ticketRows);
        OrderAssertions.AllSerialsAndCodesUnique(acknowledged.Select(a => a.Result.Order!).DistinctBy(o => o.OrderId).ToList());
    }

    [Theory, InlineData(Engines.Sqlite), PostgresRow]
    public async Task Two_activations_of_each_shard_giving_and_draining_at_once_keep_every_serial_in_one_place(string engine)
    {
        // Tickets move while both clusters sell: a shard drained from each cluster at once hands its tickets on (escrow
        // gifts), and at the end an order of 2 may pull a ticket from another shard. A
        // gift taken in twice, taken back after its delivery, or cut by an activation that was fenced would leave a
        // serial in two inventories or in none, or sold twice.
        using var storage = Engines.Storage(engine, postgres);
        await using var twins = await StartTwinsAsync(storage, "moving-twins");
        var (first, second) = (twins.First, twins.Second);

        var results = new List<(PurchaseResult Result, int Quantity)>();
        for (var round = 0; round < 12 && (results.Count == 0 || !results.TakeLast(20).All(r => r.Result.Status == PurchaseStatus.SoldOut)); round++)
        {
            // 40 buyers a round (about 60 tickets), so that each drain finds tickets left to hand on.
            var buys = Enumerable.Range(0, 40).Select(async i =>
                (await (i % 2 == 0 ? first : second).BuyAsync("moving-twins", "ga", 1 + i % 2, key: i % 4 < 2 ? $"moving-{round}-{i}" : null), 1 + i % 2));
            // Shard 1 drained from both clusters at once in the second round, shard 0 in the third.
            var drains = round is 1 or 2
                ? new[] { first, second }.Select(cluster => cluster.Shard("moving-twins", "ga", 2 - round).Drain()).ToArray()
                : [];
            results.AddRange(await Task.WhenAll(buys));
            if (drains.Length == 0 || (await Task.WhenAll(drains)).Any(drain => drain.Available)) continue;
            // Each drain found its activation fenced by the other's: an operator drains again until one answers.
            for (var again = 0; again < 20; again++)
            {
                if ((await (again % 2 == 0 ? first : second).Shard("moving-twins", "ga", 2 - round).Drain()).Available) break;
            }
        }
        var orders = results.Where(r => r.Result.Order is not null).Select(r => r.Result.Order!).DistinctBy(o => o.OrderId).ToList();
        Assert.True(orders.Count >= 50, $"Only {orders.Count} of {results.Count} purchases were sold.");
        OrderAssertions.AllSerialsAndCodesUnique(orders);

        // Let the donors deliver what they gave (their timers retry every second), then count what the databases hold.
        await Task.Delay(TimeSpan.FromSeconds(3));
        var claims = new List<ShardClaim>();
        var ticketRows = 0L;
        for (var index = 0; index < 3; index++)
        {
            var (placement, ledger) = await first.LedgerAsync("moving-twins", "ga", index);
            claims.Add(await ledger.ClaimAsync(placement.Block));
            ticketRows += await ledger.CountTicketRowsAsync();
        }
        // Each serial of the type's 300 is in exactly one shard's inventory, or in one gift on its way (given, not yet
        // taken in by its receiver).
        var takenIn = claims.SelectMany(c => c.TakenIn).ToHashSet();
        // Taken in, or still on their way (a delivery can wait on the twins fencing each other).
        var gifts = takenIn.Union(claims.SelectMany(c => c.Undelivered).Select(u => u.Transfer.TransferId)).Count();
        // Shard 1 has about 70 tickets left when it is drained; shard 0 may have sold all of its own by its turn.
        Assert.True(gifts >= 1, "No gift was made: no ticket moved, and this test showed nothing.");
        var inTransit = claims.SelectMany(c => c.Undelivered).Where(u => !takenIn.Contains(u.Transfer.TransferId)).SelectMany(u => u.Transfer.Segments);
        var places = claims.SelectMany(c => SegmentText.Parse(c.Row.Segments)).Concat(inTransit)
            .SelectMany(segment => Enumerable.Range(0, (int)segment.Count).Select(offset => segment.First + offset))
            .GroupBy(serial => serial).ToDictionary(group => group.Key, group => group.Count());
        Assert.Equal(Enumerable.Range(1, 300).Select(serial => (long)serial), places.Keys.Order());
        Assert.All(places, place => Assert.True(place.Value == 1, $"Serial {place.Key} is in {place.Value} places."));
        // What was sold is what the rows hold, never beyond the type, and covers every acknowledged ticket.
        Assert.Equal(claims.Sum(c => c.Sold), ticketRows);
        var acknowledged = orders.Sum(o => (long)o.Quantity);
        var unknown = results.Where(r => r.Result.Status == PurchaseStatus.Failed).Sum(r => r.Quantity);
        Assert.InRange(ticketRows, acknowledged, Math.Min(300, acknowledged + unknown));
        Assert.True(claims[0].Row.Retired && claims[1].Row.Retired, "A drained shard is not marked drained.");
    }

    [Theory, InlineData(Engines.Sqlite), PostgresRow]
    public async Task A_replaced_activation_that_missed_a_grant_its_successor_took_in_is_no_ground_for_sold_out(string engine)
    {
        // A membership change can leave a shard with two activations while the cluster keeps one catalog. Played here by
        // two clusters over one set of databases, each catalog started afresh from storage before it is asked, as the
        // one catalog would know every grant. An activation of the shard that another claimed after it is replaced, and
        // cannot know it until its next commit; sold out, it never commits.
        using var storage = Engines.Storage(engine, postgres);
        await using var twins = await StartTwinsAsync(storage, "stale-grant", TicketingCluster.Type("ga", capacity: 2, shards: 1, maxPerOrder: 2));
        var (first, second) = (twins.First, twins.Second);
        Assert.Equal(PurchaseStatus.Created, (await first.BuyAsync("stale-grant", "ga", 2)).Status);

        // The second cluster's activation replaces the first's, takes in a grant of 2 and sells it.
        await second.ActivateShardsAsync("stale-grant", "ga", 0);
        Assert.Equal(CapacityStatus.Added, (await second.Client.GetEventGrain("stale-grant").AddCapacity("ga", 2, shardIndex: 0, idempotencyKey: null)).Status);
        Assert.Equal(PurchaseStatus.Created, (await second.BuyAsync("stale-grant", "ga", 2)).Status);
        await FreshCatalogAsync(first, grantedEver: 2);

        // The sales report, which the replaced activation would make "2 sold of 2", says its numbers are no statement of
        // the type's sales: the catalog saw the shard take a grant in, and its report does not count one. The read tells
        // the activation, which stops, so the next read hears one that read the database.
        var type = Assert.Single((await first.SalesAsync("stale-grant")).TicketTypes);
        Assert.Equal((2L, 2L), (type.Capacity, type.Sold));
        Assert.False(type.Known, "A count that leaves out a grant the catalog saw taken in was reported as known.");
        await Poll.UntilAsync(async () => (await first.SalesAsync("stale-grant")).TicketTypes.Single() is { Known: true, Capacity: 4, Sold: 4 },
            failure: "The replaced activation kept answering the sales report.");

        // Now the first cluster's activation is the newer one. It takes in a second grant, which the second cluster's
        // activation, replaced and sold out, knows nothing of.
        Assert.Equal(CapacityStatus.Added, (await first.Client.GetEventGrain("stale-grant").AddCapacity("ga", 2, shardIndex: 0, idempotencyKey: null)).Status);
        await FreshCatalogAsync(second, grantedEver: 4);

        // Before, the second cluster's dispatcher added that activation's "nothing left" to the catalog's "nothing
        // pending", and told the buyer "sold out" beside the two granted tickets, for as long as the activation lived.
        // Now its refresh gives no verdict and tells the activation, which stops; the next refresh hears one that read
        // the database, and the buyer gets a granted ticket.
        var bought = await second.BuyAsync("stale-grant", "ga", 1);
        Assert.Equal(PurchaseStatus.Created, bought.Status);
        Assert.True(bought.Order!.Tickets[0].Serial > 4, "The buyer's ticket is not the second grant's.");
        Assert.Equal(PurchaseStatus.Created, (await second.BuyAsync("stale-grant", "ga", 1)).Status);
        Assert.Equal(PurchaseStatus.SoldOut, (await second.BuyAsync("stale-grant", "ga", 1)).Status);
        Assert.True((await second.SalesAsync("stale-grant")).TicketTypes.Single().Known);
    }

    [Theory, InlineData(Engines.Sqlite), PostgresRow]
    public async Task A_replaced_sold_out_activation_does_not_hide_tickets_its_successor_was_given_for_long(string engine)
    {
        // As above, with tickets another shard gave rather than an operator's grant. The counts stay right (the giver's
        // settled gift is counted), but the replaced activation, sold out, tells every refresh it has nothing to sell,
        // never commits again to learn it was replaced, and kept alive by those refreshes, hid its successor's tickets
        // from the first cluster's buyers for as long as it lived: each paused, then got 503.
        using var storage = Engines.Storage(engine, postgres);
        await using var twins = await StartTwinsAsync(storage, "stale-gift", TicketingCluster.Type("ga", capacity: 4, shards: 2, maxPerOrder: 2));
        var (first, second) = (twins.First, twins.Second);
        Assert.Equal(PurchaseStatus.Created,
            (await first.Shard("stale-gift", "ga", 0).Purchase(TicketingCluster.KeylessPurchase("stale-gift", "ga", 2))).Status);

        // The second cluster's activation of shard 0 replaces the first's and is given shard 1's two tickets by its drain.
        await second.ActivateShardsAsync("stale-gift", "ga", 0, 1);
        var drain = await second.Shard("stale-gift", "ga", 1).Drain();
        Assert.Equal((true, 2L), (drain.Available, drain.Moved));
        await Poll.UntilAsync(async () => (await second.Shard("stale-gift", "ga", 0).GetSales()) is { Remaining: 2, TakenIn: 2 },
            failure: "Shard 0's successor never took the drained tickets in.");

        // The replaced activation learns it was replaced once it has gone a while without a commit or a claim
        // (InventoryShardGrain.ClaimRecheckAfter) and a report is asked of it: the first cluster's buyers then reach the
        // tickets within their patience, and after them hear "sold out".
        using var rechecks = first.CollectMetric<long>("orleanstickets.shards.claim_rechecks");
        await Task.Delay(TimeSpan.FromSeconds(5.5));
        var bought = await first.BuyAsync("stale-gift", "ga", 2);
        Assert.Equal(PurchaseStatus.Created, bought.Status);
        Assert.Equal([3L, 4L], bought.Order!.Tickets.Select(t => t.Serial).Order());
        Assert.Equal(PurchaseStatus.SoldOut, (await first.BuyAsync("stale-gift", "ga", 1)).Status);
        Assert.Equal(1, Rechecks(rechecks, "replaced"));

        // The activation that sold them is the current one. Sold out and idle as long, it reads its row's epoch as a
        // report is asked of it, finds its own, and stays: the shard is not claimed again.
        var (_, ledger) = await first.LedgerAsync("stale-gift", "ga", 0);
        var epoch = await ledger.ReadEpochAsync();
        await Task.Delay(TimeSpan.FromSeconds(5.5));
        await Poll.UntilAsync(async () => (await first.Shard("stale-gift", "ga", 0).GetSales()).Known && Rechecks(rechecks, "own") > 0,
            failure: "The sold-out activation never read its row's epoch.");
        Assert.True((await first.Shard("stale-gift", "ga", 0).GetSales()).Known);
        Assert.Equal(epoch, await ledger.ReadEpochAsync());
        Assert.Equal(1, Rechecks(rechecks, "replaced"));
    }

    [Theory, InlineData(Engines.Sqlite), PostgresRow]
    public Task A_replaced_activation_left_with_too_few_tickets_for_an_order_does_not_hide_its_successors_for_long(string engine) =>
        // As above, with the replaced activation not sold out: one ticket left, where every order asks for two. No
        // dispatcher routes an order of two to a shard that says it holds one, so it never commits to learn it was
        // replaced, and it hid its successor's tickets from the first cluster's buyers as a sold-out one did: each paused,
        // then got 503. Here the buyers' refreshes ask it for its report.
        ReplacedWithOneTicketLeftAsync(engine, "stale-few", (_, _, _) => Task.CompletedTask);

    [Theory, InlineData(Engines.Sqlite), PostgresRow]
    public Task A_replaced_activation_holding_its_tickets_for_a_forward_still_reads_its_epoch(string engine) =>
        // Tickets reserved with no commit queued (a hold waiting for a forward, a pull waiting on its donors) promise no
        // commit that would be fenced, so they do not put the read off. Nothing but the one report asked here reaches the
        // replaced activation, while its hold lasts (2 s).
        ReplacedWithOneTicketLeftAsync(engine, "stale-held", async (first, eventId, rechecks) =>
        {
            var replaced = first.Shard(eventId, "ga", 0);
            Assert.Equal(1, await replaced.HoldForForward("held-order", 1));
            // The report does not wait for the read (except on SQLite, whose reads run synchronously), and shows the
            // hold: the read began with the ticket held.
            Assert.Equal(1, (await replaced.GetSales()).Reserved);
            await Poll.UntilAsync(() => Task.FromResult(Rechecks(rechecks, "replaced") == 1),
                failure: "The replaced activation, holding its ticket, never read its row's epoch.");
        });

    /// <summary>
    /// Sells one of shard 0's two tickets through the first cluster, then has the second cluster's activation of shard 0
    /// replace the first's and take in shard 1's two tickets by a drain: the first cluster's activation is left with one
    /// ticket, its successor with three. After 5 s without a commit and <paramref name="meanwhile"/>, the first cluster's
    /// buyers get the three tickets and then "sold out" (serials 1 to 4 once each, with the first sale), the replaced
    /// activation having stopped once.
    /// </summary>
    private async Task ReplacedWithOneTicketLeftAsync(
        string engine, string eventId, Func<TicketingCluster, string, MetricCollector<long>, Task> meanwhile)
    {
        using var storage = Engines.Storage(engine, postgres);
        await using var twins = await StartTwinsAsync(storage, eventId, TicketingCluster.Type("ga", capacity: 4, shards: 2, maxPerOrder: 2));
        var (first, second) = (twins.First, twins.Second);
        var single = await first.Shard(eventId, "ga", 0).Purchase(TicketingCluster.KeylessPurchase(eventId, "ga", 1));
        Assert.Equal(PurchaseStatus.Created, single.Status);
        await second.ActivateShardsAsync(eventId, "ga", 0, 1);
        var drain = await second.Shard(eventId, "ga", 1).Drain();
        Assert.Equal((true, 2L), (drain.Available, drain.Moved));
        await Poll.UntilAsync(async () => (await second.Shard(eventId, "ga", 0).GetSales()) is { Remaining: 3, TakenIn: 2 },
            failure: "Shard 0's successor never took the drained tickets in.");

        using var rechecks = first.CollectMetric<long>("orleanstickets.shards.claim_rechecks");
        await Task.Delay(TimeSpan.FromSeconds(5.5));
        await meanwhile(first, eventId, rechecks);

        var pair = await first.BuyAsync(eventId, "ga", 2);
        Assert.Equal(PurchaseStatus.Created, pair.Status);
        var last = await first.BuyAsync(eventId, "ga", 1);
        Assert.Equal(PurchaseStatus.Created, last.Status);
        Assert.Equal(PurchaseStatus.SoldOut, (await first.BuyAsync(eventId, "ga", 1)).Status);
        Assert.Equal([1L, 2L, 3L, 4L], new[] { single, pair, last }.SelectMany(r => r.Order!.Tickets).Select(t => t.Serial).Order());
        Assert.Equal(1, Rechecks(rechecks, "replaced"));
    }

    private static int Rechecks(MetricCollector<long> rechecks, string outcome) =>
        rechecks.GetMeasurementSnapshot().Count(m => Equals(m.Tags["outcome"], outcome));

    /// <summary>Starts <paramref name="cluster"/>'s catalog activation again, from what storage holds now.</summary>
    private static async Task FreshCatalogAsync(TicketingCluster cluster, long grantedEver)
    {
        await cluster.Cluster.DeactivateAsync(cluster.Client.GetEventGrain("stale-grant"));
        await Poll.UntilAsync(async () => await cluster.Client.GetEventGrain("stale-grant").GetGrantedCapacity("ga") is { Pending: 0 } granted
                && granted.AddedEver == grantedEver,
            failure: "The catalog never read the grants from storage.");
    }

    /// <summary>
    /// One service (so one catalog) and two clusters over the same databases, with <paramref name="eventId"/> of one type
    /// "ga" (<paramref name="type"/>, or 300 tickets on 3 shards); in that default each cluster activates every shard, so
    /// that each has two activations when the buying starts.
    /// </summary>
    private static Task<TwinClusters> StartTwinsAsync(TestStorage storage, string eventId, TicketTypeDefinition? type = null) =>
        TwinClusters.StartAsync(storage, eventId, setUp: async twins =>
        {
            await twins.First.CreateEventAsync(eventId, type ?? TicketingCluster.Type("ga", capacity: 300, shards: 3, maxPerOrder: 2));
            if (type is not null) return;
            foreach (var cluster in new[] { twins.First, twins.Second })
            {
                for (var index = 0; index < 3; index++) await cluster.Shard(eventId, "ga", index).GetSales();
            }
        });
}
