using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using OrleansTickets.Diagnostics;
using OrleansTickets.Dispatch;
using OrleansTickets.Events;
using OrleansTickets.Inventory;
using OrleansTickets.Orders;
using OrleansTickets.Tests.Infrastructure;

namespace OrleansTickets.Tests.Grains;

/// <summary>
/// The sale's instruments agree with what buyers were told: every acknowledged order and ticket is counted once, each
/// in exactly one group commit, and every sold-out answer and purchase routed shows up.
/// </summary>
[Collection(PostgresSalesCollection.Name)]
public sealed class SaleMetricsTests(PostgresFixture postgres, ITestOutputHelper output) : EngineClusterTests(postgres, output)
{
    [Theory, InlineData(Engines.Sqlite), PostgresRow]
    public async Task A_keyed_sell_out_is_counted_as_the_buyers_saw_it(string engine)
    {
        await StartAsync(engine);
        using var orders = Cluster.CollectMetric<long>("orleanstickets.orders.committed");
        using var tickets = Cluster.CollectMetric<long>("orleanstickets.tickets.committed");
        using var purchases = Cluster.CollectMetric<long>("orleanstickets.dispatch.purchases");
        using var shardCalls = Cluster.CollectMetric<long>("orleanstickets.dispatch.shard_calls");
        using var soldOut = Cluster.CollectMetric<long>("orleanstickets.dispatch.sold_out");
        using var refreshes = Cluster.CollectMetric<long>("orleanstickets.dispatch.refreshes");
        using var refreshCalls = Cluster.CollectMetric<long>("orleanstickets.dispatch.refresh_calls");
        using var commits = Cluster.CollectMetric<long>("orleanstickets.storage.commits");
        using var ordersPerCommit = Cluster.CollectMetric<int>("orleanstickets.storage.commit.orders");
        using var commitDuration = Cluster.CollectMetric<double>("orleanstickets.storage.commit.duration");
        using var answers = Cluster.CollectMetric<long>("orleanstickets.dispatch.answers");
        using var answerDuration = Cluster.CollectMetric<double>("orleanstickets.dispatch.answer.duration");

        const int capacity = 40;
        const int shards = 4;
        await Cluster.CreateEventAsync("metered", TicketingCluster.Type("ga", capacity, shards, maxPerOrder: 4));
        var sale = new BuyerCrowd(Cluster, "metered", "ga", capacity);
        await Task.WhenAll(sale.Start(buyers: 6));
        await sale.VerifyAsync();

        var acknowledged = sale.Acknowledged.Values.ToList();
        Assert.Equal(acknowledged.Count, Sum(orders));
        Assert.Equal(capacity, Sum(tickets));
        // Every committed order was carried by exactly one group commit.
        Assert.Equal(acknowledged.Count, Sum(ordersPerCommit));
        Assert.True(Sum(commits) > 0, "no group commit was counted");
        Assert.Equal(Sum(commits), commitDuration.GetMeasurementSnapshot().Count);
        // Timed, not a constant: every commit here waits for its database, and a duration of 0 would mean nothing was measured.
        Assert.All(commitDuration.GetMeasurementSnapshot(), m => Assert.True(m.Value > 0, $"a commit took {m.Value} s"));
        // Each buyer ends on a sold-out answer, which only a refresh can give: one of every shard of the type, or, for a
        // second after one found it sold out, a read of the catalog's storage (not counted as a refresh).
        Assert.Equal(sale.SoldOutAnswers, Sum(soldOut));
        // A request waiting for tickets in flight refreshes again after every pause, so there is no upper bound here.
        Assert.True(Sum(refreshes) >= 1, "sold out was answered without a refresh");
        Assert.Equal(Sum(refreshes) * shards, Sum(refreshCalls));
        Assert.True(Sum(purchases) >= acknowledged.Count + sale.SoldOutAnswers, "a purchase routed was not counted");
        Assert.True(Sum(shardCalls) >= Sum(purchases), "a purchase reached its shard without a call being counted");
        // Every purchase here is of a known type and a quantity it allows, so each is routed and answered once, with
        // its time, under one route.
        Assert.Equal(Sum(purchases), Sum(answers));
        Assert.Equal(Sum(answers), answerDuration.GetMeasurementSnapshot().Count);
        Assert.All(answerDuration.GetMeasurementSnapshot(), m => Assert.True(m.Value > 0, $"an answer took {m.Value} s"));
        foreach (var route in Routes)
        {
            Assert.Equal(Sum(answers, route), answerDuration.GetMeasurementSnapshot().Count(m => RouteOf(m.Tags) == route));
        }
        Assert.True(Sum(answers, "direct") > 0, "no purchase was answered by the first shard asked");
        Assert.True(Sum(answers, "refreshed") + Sum(answers, "paused") > 0, "the sell-out's refreshes were on no purchase's route");
    }

    [Theory, InlineData(Engines.Sqlite), PostgresRow]
    public async Task A_meter_listener_that_throws_does_not_turn_a_sold_order_into_a_fault(string engine)
    {
        // A broken exporter throws from every measurement of this cluster's meters. The dispatcher records a purchase's
        // answer after the order is durable; a throw there reached a keyless buyer as a fault (500), who buys again.
        await StartAsync(engine);
        var meters = Cluster.Cluster.GetSiloServiceProvider().GetRequiredService<IMeterFactory>();
        using var listener = new BrokenMeterListener(instrument =>
            ReferenceEquals(instrument.Meter.Scope, meters) && instrument.Meter.Name == TicketingMeter.Name);
        await Cluster.CreateEventAsync("broken-meter", TicketingCluster.Type("ga", capacity: 4, shards: 1));

        var sold = await Cluster.BuyAsync("broken-meter", "ga", 4);
        var soldOut = await Cluster.BuyAsync("broken-meter", "ga", 1);

        Assert.Equal(PurchaseStatus.Created, sold.Status);
        Assert.Equal(PurchaseStatus.SoldOut, soldOut.Status);
        Assert.Equal(4, (await Cluster.SalesAsync("broken-meter")).TicketTypes.Single().Sold);
        // Without this the test would pass with a listener that never met the sale's measurements.
        Assert.True(listener.Thrown > 0, "the broken listener was never called");
    }

    [Theory, InlineData(Engines.Sqlite), PostgresRow]
    public async Task A_dispatcher_names_no_candidate_it_saw_sell_out(string engine)
    {
        // Each candidate a home tried: asked for room, or (on the home's database) sent the order straight.
        var tried = 0;
        await StartAsync(engine, silo => silo.AddIncomingGrainCallFilter(call =>
        {
            if (call.InterfaceMethod.Name is nameof(IInventoryShardGrain.HoldForForward) or nameof(IInventoryShardGrain.PurchaseForHome))
            {
                Interlocked.Increment(ref tried);
            }
            return call.Invoke();
        }));
        using var forwards = Cluster.CollectMetric<long>("orleanstickets.shards.forwards");
        using var answers = Cluster.CollectMetric<long>("orleanstickets.dispatch.answers");
        // 8 shards of 8 and 16 orders of 4 with their own keys: homes are picked by key, so some get a third key after
        // selling two orders and forward it to a candidate the dispatcher names. One buyer at a time keeps to one
        // dispatcher activation, which has seen every earlier sale, so each candidate it names has room and is asked
        // once. A view that learned only from refusals would name shards that sold out.
        const int shards = 8;
        await Cluster.CreateEventAsync("seen", TicketingCluster.Type("ga", capacity: 8 * shards, shards, maxPerOrder: 4));
        await Cluster.ActivateShardsAsync("seen", "ga", [.. Enumerable.Range(0, shards)]);

        for (var n = 0; n < 2 * shards; n++)
        {
            Assert.Equal(PurchaseStatus.Created, (await Cluster.BuyAsync("seen", "ga", 4, key: $"seen-{n}")).Status);
        }

        Assert.True(Sum(forwards) > 0, "no key's home was empty; the test proves nothing");
        Assert.Equal(Sum(forwards), Volatile.Read(ref tried));
        // Each candidate was asked once and sold, so each forward is one purchase's whole route, and no purchase
        // refreshed, pulled or paused.
        // A forward to a shard on the home's database is one commit, the key with the order; to another database, two.
        Assert.Equal(Sum(forwards), Sum(answers, "forwarded") + Sum(answers, "forwarded_across"));
        Assert.Equal(ForwardsIn(forwards, "one"), Sum(answers, "forwarded"));
        Assert.Equal(ForwardsIn(forwards, "two"), Sum(answers, "forwarded_across"));
        Assert.Equal(2 * shards - Sum(forwards), Sum(answers, "direct"));
        Assert.Equal(2 * shards, Sum(answers));
    }

    [Theory, InlineData(Engines.Sqlite), PostgresRow]
    public async Task A_forward_is_counted_by_its_commits_and_answered_as_forwarded_across_when_sold_on_another_database(string engine)
    {
        await StartAsync(engine);
        // 8 shards of 4 on the default 4 databases, two on each. One ticket an order, so no shard ever has fewer left than
        // an order takes, and none gathers its last tickets onto another.
        var definition = await Cluster.CreateEventAsync("apart", TicketingCluster.Type("ga", capacity: 32, shards: 8, maxPerOrder: 1));
        var databases = await Cluster.Client.GetEventGrain("apart").GetShardDatabases();
        var homes = new KeyHomes(definition, databases, "ga");
        const string acrossKey = "apart-across";
        var dryDatabase = databases[homes.HomeOf(acrossKey)];
        var localKey = Enumerable.Range(0, 1_000).Select(n => $"apart-local-{n}").First(key => databases[homes.HomeOf(key)] != dryDatabase);
        var localHome = homes.HomeOf(localKey);
        // Sold out behind the dispatcher's back: both shards on the first key's database, and the second key's home (its
        // sibling on the same database keeps its tickets).
        foreach (var index in Enumerable.Range(0, 8).Where(index => databases[index] == dryDatabase).Append(localHome))
        {
            for (var sold = 0; sold < 4; sold++)
            {
                Assert.Equal(PurchaseStatus.Created, (await Cluster.Shard("apart", "ga", index).Purchase(TicketingCluster.KeylessPurchase("apart", "ga", 1))).Status);
            }
        }
        await Cluster.ActivateShardsAsync("apart", "ga", [.. Enumerable.Range(0, 8)]);
        using var forwards = Cluster.CollectMetric<long>("orleanstickets.shards.forwards");
        using var answers = Cluster.CollectMetric<long>("orleanstickets.dispatch.answers");

        // The home and its sibling refuse (the view still shows them full), so a shard on another database sells it, after
        // the home committed the key's reservation: two commits.
        var across = await Cluster.BuyAsync("apart", "ga", 1, key: acrossKey);
        Assert.Equal(PurchaseStatus.Created, across.Status);
        Assert.NotEqual(dryDatabase, databases[SellerOf(across)]);
        Assert.Equal((0L, 1L), (ForwardsIn(forwards, "one"), ForwardsIn(forwards, "two")));
        Assert.Equal((1L, 1L), (Sum(answers, "forwarded_across"), Sum(answers)));

        // The sibling on the home's database sells it with the key: one commit.
        var local = await Cluster.BuyAsync("apart", "ga", 1, key: localKey);
        Assert.Equal(PurchaseStatus.Created, local.Status);
        Assert.NotEqual(localHome, SellerOf(local));
        Assert.Equal(databases[localHome], databases[SellerOf(local)]);
        Assert.Equal((1L, 1L), (ForwardsIn(forwards, "one"), ForwardsIn(forwards, "two")));
        Assert.Equal((1L, 1L, 2L), (Sum(answers, "forwarded"), Sum(answers, "forwarded_across"), Sum(answers)));
    }

    private static int SellerOf(PurchaseResult result)
    {
        Assert.True(OrderId.TryGetShard(result.Order!.OrderId, out var seller));
        return seller.Index;
    }

    [Theory, InlineData(Engines.Sqlite), PostgresRow]
    public async Task A_purchase_that_refreshed_and_then_pulled_is_answered_under_the_furthest_step_it_took(string engine)
    {
        await StartAsync(engine);
        await Cluster.CreateEventAsync("furthest", TicketingCluster.Type("ga", capacity: 4, shards: 2, maxPerOrder: 4));
        // A first purchase loads the dispatcher's view; then each shard is left with one ticket behind its back.
        Assert.Equal(PurchaseStatus.Created, (await Cluster.BuyAsync("furthest", "ga", 1)).Status);
        for (var index = 0; index < 2; index++)
        {
            var shard = Cluster.Shard("furthest", "ga", index);
            var extra = (int)await shard.GetSellable() - 1;
            if (extra > 0) Assert.Equal(PurchaseStatus.Created, (await shard.Purchase(TicketingCluster.KeylessPurchase("furthest", "ga", extra))).Status);
        }
        // A view more than a second old is refreshed before a pull is planned from it.
        await Task.Delay(TimeSpan.FromSeconds(1.5));
        using var answers = Cluster.CollectMetric<long>("orleanstickets.dispatch.answers");
        using var refreshes = Cluster.CollectMetric<long>("orleanstickets.dispatch.refreshes");
        using var transfers = Cluster.CollectMetric<long>("orleanstickets.shards.transfers");

        // Two tickets, one on each shard: the order is refused where the old view sends it, refreshes, and pulls.
        Assert.Equal(PurchaseStatus.Created, (await Cluster.BuyAsync("furthest", "ga", 2)).Status);

        Assert.True(Sum(refreshes) > 0, "the purchase never refreshed; the test proves nothing");
        Assert.True(Sum(transfers) > 0, "the purchase never pulled; the test proves nothing");
        // Refreshed comes after pulled in the order of routes: the answer counts the furthest step, not the last.
        Assert.Equal(1, Sum(answers, "refreshed"));
        Assert.Equal(1, Sum(answers));
    }

    private static long Sum<T>(MetricCollector<T> collector) where T : struct =>
        collector.GetMeasurementSnapshot().Sum(m => Convert.ToInt64(m.Value, System.Globalization.CultureInfo.InvariantCulture));

    private static readonly string[] Routes = ["direct", "forwarded", "forwarded_across", "pulled", "refreshed", "paused"];

    /// <summary>The measurements' sum over those with route <paramref name="route"/>; a route tag of another name fails the test.</summary>
    private static long Sum(MetricCollector<long> answers, string route) =>
        answers.GetMeasurementSnapshot().Where(m => RouteOf(m.Tags) == route).Sum(m => m.Value);

    /// <summary>The forwards' sum over those made in <paramref name="commits"/> commits ("one" or "two").</summary>
    private static long ForwardsIn(MetricCollector<long> forwards, string commits) =>
        forwards.GetMeasurementSnapshot().Where(m => Assert.IsType<string>(m.Tags["commits"]) == commits).Sum(m => m.Value);

    private static string RouteOf(IReadOnlyDictionary<string, object?> tags)
    {
        var route = Assert.IsType<string>(tags["route"]);
        Assert.Contains(route, Routes);
        return route;
    }
}
