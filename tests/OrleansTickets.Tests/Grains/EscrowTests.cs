using Microsoft.Extensions.DependencyInjection;
using Orleans.Storage;
using OrleansTickets.Catalog;
using OrleansTickets.Events;
using OrleansTickets.Inventory;
using OrleansTickets.Orders;
using OrleansTickets.Storage;
using OrleansTickets.Tests.Infrastructure;

namespace OrleansTickets.Tests.Grains;

/// <summary>
/// Escrow transfers between shards, and the operators' actions built on them (adding capacity, draining a shard):
/// every serial stays with exactly one shard or one recorded transfer, and a transfer cut short is finished later.
/// </summary>
[Collection(PostgresKeysCollection.Name)]
public sealed class EscrowTests(PostgresFixture postgres, ITestOutputHelper output) : EngineClusterTests(postgres, output)
{
    [Theory, InlineData(Engines.Sqlite), PostgresRow]
    public async Task A_gift_recorded_by_a_donor_that_crashed_before_delivering_is_delivered_by_its_next_activation(string engine)
    {
        await StartAsync(engine);
        await Cluster.CreateEventAsync("cut-short", TicketingCluster.Type("ga", capacity: 20, shards: 2));

        // Play the donor's first step by hand, exactly as its commit writes it, and then "crash": no delivery.
        var (placement, ledger) = await Cluster.LedgerAsync("cut-short", "ga", 0);
        await ledger.ClaimAsync(placement.Block);
        var donor = (Address: placement.Address, Ledger: ledger);
        var receiverKey = new ShardAddress("cut-short", "ga", 1).Key;
        var gift = new TicketTransfer("gift-1", donor.Address.Key, [new SerialSegment(7, 4)]);
        Assert.Equal(CommitOutcome.Committed, await donor.Ledger.CommitAsync(new LedgerBatch(
            donor.Address, donor.Ledger.Epoch, 0, 0, [], [],
            new InventoryChanges(6, "1+6", false, [new OutgoingTransfer(receiverKey, gift)], [], [], []))));

        // The next activation finds the gift undelivered and delivers it; until then it counts as in transit.
        var type = (await Cluster.SalesAsync("cut-short")).TicketTypes[0];
        Assert.Equal((20L, 20L), (type.Capacity, type.Remaining));
        await Poll.UntilAsync(async () =>
        {
            var shards = (await Cluster.SalesAsync("cut-short")).TicketTypes[0].Shards;
            return shards[0].InTransit == 0 && shards[0].Capacity == 6 && shards[1].Capacity == 14;
        });

        // Delivering again (as a donor that lost the answer would) changes nothing.
        Assert.Equal(TransferOutcome.Accepted, await Cluster.Shard("cut-short", "ga", 1).AcceptTransfer(gift));
        Assert.Equal(14L, (await Cluster.Shard("cut-short", "ga", 1).GetSales()).Capacity);

        var orders = await SellOutAsync("cut-short", "ga", 20);
        Assert.Equal(Enumerable.Range(1, 20).Select(i => (long)i), orders.SelectMany(o => o.Tickets).Select(t => t.Serial).Order());
    }

    [Theory, InlineData(Engines.Sqlite), PostgresRow]
    public async Task Capacity_added_during_the_sale_is_sold_with_new_serials(string engine)
    {
        await StartAsync(engine);
        await Cluster.CreateEventAsync("grow", TicketingCluster.Type("ga", capacity: 10, shards: 2));
        var before = await SellOutAsync("grow", "ga", 10);

        var added = await Cluster.Client.GetEventGrain("grow").AddCapacity("ga", 5, shardIndex: null, idempotencyKey: null);
        var second = await Cluster.Client.GetEventGrain("grow").AddCapacity("ga", 3, shardIndex: 1, idempotencyKey: null);

        Assert.Equal((CapacityStatus.Added, 11L, 5L), (added.Status, added.FirstSerial, added.Quantity));
        Assert.Equal((CapacityStatus.Added, 16L, 1), (second.Status, second.FirstSerial, second.ShardIndex));
        var after = await SellOutAsync("grow", "ga", 8);
        Assert.Equal(Enumerable.Range(11, 8).Select(i => (long)i), after.SelectMany(o => o.Tickets).Select(t => t.Serial).Order());
        OrderAssertions.AllSerialsAndCodesUnique(before.Concat(after));
        var type = (await Cluster.SalesAsync("grow")).TicketTypes[0];
        Assert.Equal((18L, 18L, 0L), (type.Capacity, type.Sold, type.Remaining));

        Assert.Equal(CapacityStatus.NotFound, (await Cluster.Client.GetEventGrain("grow").AddCapacity("nope", 5, null, idempotencyKey: null)).Status);
        Assert.Equal(CapacityStatus.NotFound, (await Cluster.Client.GetEventGrain("grow").AddCapacity("ga", 5, 2, idempotencyKey: null)).Status);
    }

    [Theory, InlineData(Engines.Sqlite), PostgresRow]
    public async Task A_keyed_capacity_addition_is_stored_with_its_key_and_a_retry_after_reactivation_adds_nothing(string engine)
    {
        await StartAsync(engine);
        await Cluster.CreateEventAsync("keyed", TicketingCluster.Type("ga", capacity: 10, shards: 2));
        var catalog = Cluster.Client.GetEventGrain("keyed");

        var first = await catalog.AddCapacity("ga", 5, shardIndex: null, idempotencyKey: "ops-1");
        // The retry of an operator who never heard the first answer, after the catalog moved (or its silo restarted).
        await Cluster.Cluster.DeactivateAsync(catalog);
        var retry = await catalog.AddCapacity("ga", 5, shardIndex: null, idempotencyKey: "ops-1");

        Assert.Equal((CapacityStatus.Added, first.TransferId, first.ShardIndex, 11L, 5L),
            (retry.Status, retry.TransferId, retry.ShardIndex, retry.FirstSerial, retry.Quantity));
        Assert.Equal(CapacityStatus.KeyConflict, (await catalog.AddCapacity("ga", 5, shardIndex: 1, idempotencyKey: "ops-1")).Status);
        Assert.Equal(15L, (await Cluster.SalesAsync("keyed")).TicketTypes[0].Capacity);
        Assert.Equal(16L, (await catalog.AddCapacity("ga", 1, shardIndex: null, idempotencyKey: "ops-2")).FirstSerial);
    }

    [Fact]
    public async Task A_capacity_key_is_remembered_for_a_day_and_a_retry_after_that_adds_again()
    {
        // Every addition through a front end stores a key (its own, when the operator sent none), and the catalog's
        // state is written whole at every grant: keys kept for ever made each write bigger with every addition.
        var clock = new ShiftedClock();
        await StartAsync(Engines.Sqlite, silo => silo.Services.AddSingleton<TimeProvider>(clock));
        await Cluster.CreateEventAsync("aging", TicketingCluster.Type("ga", capacity: 10, shards: 2));
        var catalog = Cluster.Client.GetEventGrain("aging");
        var first = await catalog.AddCapacity("ga", 5, shardIndex: null, idempotencyKey: "ops-1");

        clock.Shift = TimeSpan.FromHours(23);
        var withinTheDay = await catalog.AddCapacity("ga", 5, shardIndex: null, idempotencyKey: "ops-1");
        clock.Shift = TimeSpan.FromHours(25);
        await catalog.AddCapacity("ga", 1, shardIndex: null, idempotencyKey: "ops-2");
        // The next grant's write left the old key out.
        var storage = Cluster.Cluster.GetSiloServiceProvider().GetRequiredKeyedService<IGrainStorage>(StorageNames.Catalog);
        var stored = new GrainState<TicketEventState>();
        await storage.ReadStateAsync("event", catalog.GetGrainId(), stored);
        Assert.Equal(["ops-2"], stored.State!.GrantsByKey.Keys);
        var afterTheDay = await catalog.AddCapacity("ga", 5, shardIndex: null, idempotencyKey: "ops-1");

        Assert.Equal((true, first.TransferId), (withinTheDay.Repeated, withinTheDay.TransferId));
        Assert.False(afterTheDay.Repeated);
        Assert.NotEqual(first.TransferId, afterTheDay.TransferId);
        Assert.Equal(10L + 5 + 1 + 5, (await Cluster.SalesAsync("aging")).TicketTypes[0].Capacity);
    }

    [Fact]
    public async Task A_capacity_key_whose_grant_waited_a_day_for_its_shard_is_remembered_for_a_day_after_delivery()
    {
        // The operator was told "pending" and retries with the key after the grant was delivered: counted from the
        // issue, the key was gone by then and the retry granted new serials.
        var clock = new ShiftedClock();
        var shard = new ShardAddress("late", "ga", 0);
        var blocked = 1;
        await StartAsync(Engines.Sqlite, silo =>
        {
            silo.Services.AddSingleton<TimeProvider>(clock);
            TicketingCluster.Intercepting(shard, nameof(IInventoryShardGrain.AcceptTransfer), call =>
                Volatile.Read(ref blocked) == 1 ? throw new TimeoutException("the shard does not answer") : call.Invoke())(silo);
        });
        await Cluster.CreateEventAsync("late", TicketingCluster.Type("ga", capacity: 10, shards: 1));
        var catalog = Cluster.Client.GetEventGrain("late");
        var first = await catalog.AddCapacity("ga", 5, shardIndex: 0, idempotencyKey: "ops-1");
        Assert.Equal(CapacityStatus.Pending, first.Status);

        clock.Shift = TimeSpan.FromHours(30);
        Volatile.Write(ref blocked, 0);
        await Poll.UntilAsync(async () => (await Cluster.SalesAsync("late")).TicketTypes[0].Shards[0].Capacity == 15,
            failure: "The grant was never delivered.");
        clock.Shift = TimeSpan.FromHours(30 + 23);
        await catalog.AddCapacity("ga", 1, shardIndex: 0, idempotencyKey: "ops-2");
        var retry = await catalog.AddCapacity("ga", 5, shardIndex: 0, idempotencyKey: "ops-1");

        Assert.Equal((CapacityStatus.Added, true, first.TransferId), (retry.Status, retry.Repeated, retry.TransferId));
        Assert.Equal(16L, (await Cluster.SalesAsync("late")).TicketTypes[0].Capacity);
    }

    [Fact]
    public async Task A_pending_grant_whose_every_shard_is_then_drained_is_withdrawn_and_the_log_says_so()
    {
        // The operator was told "pending"; the withdrawal happens later, on the catalog's timer, with no caller to tell.
        var shard = new ShardAddress("withdrawn", "ga", 0);
        var blocked = 1;
        var log = new WarningCollector();
        await StartAsync(Engines.Sqlite, silo =>
        {
            silo.Services.AddSingleton<Microsoft.Extensions.Logging.ILoggerProvider>(log);
            TicketingCluster.Intercepting(shard, nameof(IInventoryShardGrain.AcceptTransfer), call =>
                Volatile.Read(ref blocked) == 1 ? throw new TimeoutException("the shard does not answer") : call.Invoke())(silo);
        });
        await Cluster.CreateEventAsync("withdrawn", TicketingCluster.Type("ga", capacity: 10, shards: 1));
        var catalog = Cluster.Client.GetEventGrain("withdrawn");
        Assert.Equal(CapacityStatus.Pending, (await catalog.AddCapacity("ga", 5, shardIndex: 0, idempotencyKey: "ops-1")).Status);

        Assert.Equal(10L, (await Cluster.Shard("withdrawn", "ga", 0).Drain()).Left);
        Volatile.Write(ref blocked, 0);
        await Poll.UntilAsync(() => Task.FromResult(log.Saw("was withdrawn")), failure: "No withdrawal was logged.");

        Assert.Contains(log.Lines, line => line.Contains("5 tickets of type ga (serials 11 to 15) was withdrawn", StringComparison.Ordinal));
        Assert.Equal(CapacityStatus.Refused, (await catalog.AddCapacity("ga", 5, shardIndex: 0, idempotencyKey: "ops-1")).Status);
        Assert.Equal(10L, (await Cluster.SalesAsync("withdrawn")).TicketTypes[0].Capacity);
    }

    [Theory, InlineData(Engines.Sqlite), PostgresRow]
    public async Task Capacity_for_a_type_whose_every_shard_is_drained_is_refused_and_never_counted(string engine)
    {
        await StartAsync(engine);
        await Cluster.CreateEventAsync("retired", TicketingCluster.Type("ga", capacity: 10, shards: 2));
        Assert.Equal(5L, (await Cluster.Shard("retired", "ga", 0).Drain()).Moved);
        Assert.Equal(10L, (await Cluster.Shard("retired", "ga", 1).Drain()).Left);
        var catalog = Cluster.Client.GetEventGrain("retired");

        var refused = await catalog.AddCapacity("ga", 5, shardIndex: null, idempotencyKey: "late");

        Assert.Equal(CapacityStatus.Refused, refused.Status);
        Assert.Equal(CapacityStatus.Refused, (await catalog.AddCapacity("ga", 5, shardIndex: null, idempotencyKey: "late")).Status);
        var type = (await Cluster.SalesAsync("retired")).TicketTypes[0];
        Assert.Equal((10L, 10L), (type.Capacity, type.Remaining));
        // Withdrawn for good: a new activation of the catalog neither offers it again nor counts it.
        await Cluster.Cluster.DeactivateAsync(catalog);
        Assert.Equal(10L, (await Cluster.SalesAsync("retired")).TicketTypes[0].Capacity);
        Assert.Equal(CapacityStatus.Refused, (await catalog.AddCapacity("ga", 5, shardIndex: null, idempotencyKey: "late")).Status);
    }

    [Theory, InlineData(Engines.Sqlite), PostgresRow]
    public async Task Once_a_grant_found_every_shard_drained_later_additions_to_the_type_store_nothing(string engine)
    {
        await StartAsync(engine);
        await Cluster.CreateEventAsync("drained-type", TicketingCluster.Type("ga", capacity: 10, shards: 2), TicketingCluster.Type("vip", capacity: 4, shards: 1));
        Assert.Equal(5L, (await Cluster.Shard("drained-type", "ga", 0).Drain()).Moved);
        Assert.Equal(10L, (await Cluster.Shard("drained-type", "ga", 1).Drain()).Left);
        var catalog = Cluster.Client.GetEventGrain("drained-type");

        // The first addition finds out: its grant is stored, offered to every shard and withdrawn.
        var first = await catalog.AddCapacity("ga", 5, shardIndex: null, idempotencyKey: "first");
        Assert.Equal((CapacityStatus.Refused, "capacity/drained-type/1"), (first.Status, first.TransferId));

        // Later ones are refused before anything is stored: no grant, and no key kept (so another body under the same
        // key is no conflict).
        var later = await catalog.AddCapacity("ga", 3, shardIndex: null, idempotencyKey: "later");
        Assert.Equal((CapacityStatus.Refused, null), (later.Status, later.TransferId));
        Assert.Equal(CapacityStatus.Refused, (await catalog.AddCapacity("ga", 4, shardIndex: 1, idempotencyKey: "later")).Status);
        Assert.Equal(CapacityStatus.Refused, (await catalog.AddCapacity("ga", 2, shardIndex: null, idempotencyKey: null)).Status);
        // Grants are numbered by what was stored: the event's next one, of another type, is its second.
        Assert.Equal("capacity/drained-type/2", (await catalog.AddCapacity("vip", 1, shardIndex: null, idempotencyKey: null)).TransferId);

        // Stored with the event: a new activation of the catalog refuses at once too, and the first key still answers
        // with its withdrawn grant.
        await Cluster.Cluster.DeactivateAsync(catalog);
        var afterwards = await catalog.AddCapacity("ga", 1, shardIndex: null, idempotencyKey: "afterwards");
        Assert.Equal((CapacityStatus.Refused, null), (afterwards.Status, afterwards.TransferId));
        var repeated = await catalog.AddCapacity("ga", 5, shardIndex: null, idempotencyKey: "first");
        Assert.Equal((CapacityStatus.Refused, "capacity/drained-type/1", true), (repeated.Status, repeated.TransferId, repeated.Repeated));
        Assert.Equal("capacity/drained-type/3", (await catalog.AddCapacity("vip", 1, shardIndex: null, idempotencyKey: null)).TransferId);
        Assert.Equal(10L, (await Cluster.SalesAsync("drained-type")).TicketTypes.Single(t => t.Id == "ga").Capacity);
    }

    [Theory, InlineData(Engines.Sqlite), PostgresRow]
    public async Task Capacity_added_to_two_events_whose_shards_share_a_database_lands_in_both(string engine)
    {
        await StartAsync(engine);
        // Four shards each over the four test databases: shard 0 of both events lives in database 0.
        await Cluster.CreateEventAsync("first", TicketingCluster.Type("ga", capacity: 8, shards: 4));
        await Cluster.CreateEventAsync("second", TicketingCluster.Type("ga", capacity: 8, shards: 4));
        var placements = new[] { "first", "second" }.Select(e => Cluster.Client.GetEventGrain(e).GetPlacement("ga", 0)).ToList();
        Assert.Equal((await placements[0])!.DatabaseOrdinal, (await placements[1])!.DatabaseOrdinal);
        await Cluster.ActivateShardsAsync("first", "ga", 0);
        await Cluster.ActivateShardsAsync("second", "ga", 0);

        var first = await Cluster.Client.GetEventGrain("first").AddCapacity("ga", 3, shardIndex: 0, idempotencyKey: null);
        var second = await Cluster.Client.GetEventGrain("second").AddCapacity("ga", 3, shardIndex: 0, idempotencyKey: null);

        Assert.Equal((CapacityStatus.Added, CapacityStatus.Added), (first.Status, second.Status));
        Assert.NotEqual(first.TransferId, second.TransferId);
        Assert.Equal(11L, (await Cluster.SalesAsync("first")).TicketTypes[0].Capacity);
        Assert.Equal(11L, (await Cluster.SalesAsync("second")).TicketTypes[0].Capacity);
        Assert.Equal(11, (await SellOutAsync("second", "ga", 11)).Count);
    }

    [Theory, InlineData(Engines.Sqlite), PostgresRow]
    public async Task A_drained_shard_hands_over_its_unsold_tickets_and_takes_no_more(string engine)
    {
        await StartAsync(engine);
        await Cluster.CreateEventAsync("drain", TicketingCluster.Type("ga", capacity: 30, shards: 3));
        var sold = new List<OrderDetails>();
        for (var i = 0; i < 4; i++) sold.Add((await Cluster.BuyAsync("drain", "ga", 2)).Order!);

        var drained = await Cluster.Shard("drain", "ga", 0).Drain();

        var shards = (await Cluster.SalesAsync("drain")).TicketTypes[0].Shards;
        Assert.True(drained.Available);
        Assert.Equal(0L, drained.Left);
        Assert.Equal(0L, shards[0].Remaining);
        Assert.Equal(shards[0].Sold, shards[0].Capacity);
        Assert.Equal(22L, shards.Sum(s => s.Remaining));

        // It refuses new tickets: a grant aimed at it goes to the next shard, and a gift to it comes back to the giver.
        var grant = await Cluster.Client.GetEventGrain("drain").AddCapacity("ga", 2, shardIndex: 0, idempotencyKey: null);
        Assert.Equal((CapacityStatus.Added, 1), (grant.Status, grant.ShardIndex));
        var giver = await Cluster.Shard("drain", "ga", 2).GetSales();
        Assert.Equal(0L, await Cluster.Shard("drain", "ga", 2).GiveTickets("back-to-sender", new ShardAddress("drain", "ga", 0).Key, 3));
        var given = await Cluster.Shard("drain", "ga", 2).GetSales();
        Assert.Equal((giver.Capacity, giver.Remaining, 0L), (given.Capacity, given.Remaining, given.InTransit));
        Assert.Equal(0L, (await Cluster.Shard("drain", "ga", 0).GetSales()).Remaining);

        sold.AddRange(await SellOutAsync("drain", "ga", 24));
        OrderAssertions.AllSerialsAndCodesUnique(sold);
        var type = (await Cluster.SalesAsync("drain")).TicketTypes[0];
        Assert.Equal((32L, 32L, 0L), (type.Capacity, type.Sold, type.Remaining));
    }

    [Theory, InlineData(Engines.Sqlite), PostgresRow]
    public async Task Draining_and_adding_capacity_while_buyers_run_sells_every_ticket_once(string engine)
    {
        await StartAsync(engine);
        await Cluster.CreateEventAsync("resize", TicketingCluster.Type("ga", capacity: 600, shards: 6, maxPerOrder: 3));
        var sold = new System.Collections.Concurrent.ConcurrentBag<OrderDetails>();
        // The buyers give up on "sold out" only once the operators are done: on a slow machine they could otherwise
        // sell the first 600 before the 150 added land, and stop.
        var operatorsDone = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var buyers = Enumerable.Range(0, 24).Select(buyer => Task.Run(async () =>
        {
            var quantity = buyer % 3 + 1;
            var n = 0;
            var unavailable = 0;
            while (quantity > 0)
            {
                var result = await Cluster.BuyAsync("resize", "ga", quantity, key: buyer % 2 == 0 ? $"resize-{buyer}-{n}" : null);
                switch (result.Status)
                {
                    case PurchaseStatus.Created:
                        sold.Add(result.Order!);
                        n++;
                        break;
                    case PurchaseStatus.SoldOut when !operatorsDone.Task.IsCompleted:
                        n++;
                        await Task.Delay(20);
                        break;
                    case PurchaseStatus.SoldOut:
                        quantity = (int)Math.Min(quantity - 1, result.Remaining);
                        n++;
                        break;
                    case PurchaseStatus.Unavailable when ++unavailable < 20:
                        // Nothing was sold (tickets on their way between shards for longer than the dispatcher's
                        // patience, on a loaded machine): ask again, with the same key.
                        await Task.Delay(20);
                        break;
                    default:
                        throw new Xunit.Sdk.XunitException($"Unexpected {result.Status}");
                }
            }
        })).ToList();

        // Operators act while the crowd buys: once it has bought a little, and well before the end.
        await Poll.UntilAsync(() => Task.FromResult(sold.Count >= 10), attempts: 3000, delayMilliseconds: 10,
            failure: "The crowd never started buying.");
        var soldBeforeDrain = sold.Count;
        var drained = await Cluster.Shard("resize", "ga", 2).Drain();
        var added = await Cluster.Client.GetEventGrain("resize").AddCapacity("ga", 150, shardIndex: 2, idempotencyKey: null);
        var drainedAgain = await Cluster.Shard("resize", "ga", 4).Drain();
        operatorsDone.TrySetResult();
        await Task.WhenAll(buyers);

        Assert.True(drained.Available && drainedAgain.Available);
        // The drains and the addition fell inside the sale, with orders on both sides of them.
        Assert.InRange(soldBeforeDrain, 10, sold.Count - 1);
        Assert.Equal((CapacityStatus.Added, 3), (added.Status, added.ShardIndex));
        OrderAssertions.AllSerialsAndCodesUnique(sold);
        Assert.Equal(750, sold.Sum(o => o.Quantity));
        var type = (await Cluster.SalesAsync("resize")).TicketTypes[0];
        Assert.Equal((750L, 750L, 0L), (type.Capacity, type.Sold, type.Remaining));
        Assert.All(type.Shards, s => Assert.Equal(0L, s.InTransit));
    }

    [Theory, InlineData(Engines.Sqlite), PostgresRow]
    public async Task A_forwarded_order_id_refused_as_sold_out_stays_refused_after_tickets_arrive(string engine)
    {
        await StartAsync(engine);
        await Cluster.CreateEventAsync("refusal", TicketingCluster.Type("ga", capacity: 4, shards: 2));
        await SellOutAsync("refusal", "ga", 4);
        var holder = Cluster.Shard("refusal", "ga", 1);
        var request = new PurchaseRequest("refusal", "ga", 1, new Buyer("Ada", "ada@example.com"), "some-key");
        ShardPurchase Forward(string orderId, bool fresh) =>
            new(request, request.Fingerprint(), [], ForwardedOrderId: orderId, FreshOrderId: fresh);
        var freshId = OrderId.New(new ShardAddress("refusal", "ga", 1), DateTimeOffset.UtcNow);
        var replayedId = OrderId.New(new ShardAddress("refusal", "ga", 1), DateTimeOffset.UtcNow);

        // One id refused on its first (fresh) forward, another refused on a replay.
        Assert.Equal(PurchaseStatus.SoldOut, (await holder.Purchase(Forward(freshId, fresh: true))).Status);
        Assert.Equal(PurchaseStatus.SoldOut, (await holder.Purchase(Forward(replayedId, fresh: false))).Status);
        Assert.Equal(CapacityStatus.Added, (await Cluster.Client.GetEventGrain("refusal").AddCapacity("ga", 5, shardIndex: 1, idempotencyKey: null)).Status);

        // Late or repeated forwards of either id must not create it now that the shard has tickets again.
        Assert.Equal(PurchaseStatus.SoldOut, (await holder.Purchase(Forward(freshId, fresh: true))).Status);
        Assert.Equal(PurchaseStatus.SoldOut, (await holder.Purchase(Forward(replayedId, fresh: true))).Status);

        // A replay of the id refused only in memory makes that refusal durable before it is answered.
        Assert.Equal(PurchaseStatus.SoldOut, (await holder.Purchase(Forward(freshId, fresh: false))).Status);

        // Refusals that answered a replay are durable: a new activation still refuses delayed fresh forwards.
        await Cluster.Cluster.DeactivateAsync(holder);
        Assert.Equal(PurchaseStatus.SoldOut, (await holder.Purchase(Forward(replayedId, fresh: true))).Status);
        Assert.Equal(PurchaseStatus.SoldOut, (await holder.Purchase(Forward(freshId, fresh: true))).Status);
        Assert.Null(await holder.GetOrder(replayedId));
        Assert.Null(await holder.GetOrder(freshId));
        Assert.Equal(5L, (await holder.GetSales()).Remaining);
    }

    /// <summary>Buys one ticket at a time until sold out; checks exactly <paramref name="expected"/> were sold.</summary>
    private async Task<List<OrderDetails>> SellOutAsync(string eventId, string typeId, int expected)
    {
        var orders = new List<OrderDetails>();
        while (true)
        {
            var result = await Cluster.BuyAsync(eventId, typeId, 1);
            if (result.Status == PurchaseStatus.SoldOut) break;
            Assert.Equal(PurchaseStatus.Created, result.Status);
            orders.Add(result.Order!);
        }
        Assert.Equal(expected, orders.Count);
        return orders;
    }
}
