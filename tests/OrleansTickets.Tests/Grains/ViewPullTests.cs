using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using OrleansTickets.Dispatch;
using OrleansTickets.Events;
using OrleansTickets.Inventory;
using OrleansTickets.Orders;
using OrleansTickets.Tests.Infrastructure;

namespace OrleansTickets.Tests.Grains;

/// <summary>
/// An order that no single shard can take is first pulled together as the dispatcher's view plans it, when a refresh
/// filled the view less than a second before, without asking every shard for its count again. With many small shards
/// every order is such an order, and a refresh of all of them before each pull cost far more than the pull.
/// </summary>
public sealed class ViewPullTests(ITestOutputHelper output)
{
    // Well inside the second for which a refresh's view may plan a pull (the dispatcher's UnavailableFor).
    private static readonly TimeSpan Quick = TimeSpan.FromMilliseconds(700);

    [Theory]
    [InlineData(null)]
    [InlineData("view-pull-key")]
    public async Task An_order_larger_than_any_shard_pulls_from_a_view_a_refresh_filled_just_before(string? key)
    {
        await using var cluster = await TicketingCluster.StartAsync(TestStorage.Sqlite(), output: output);

        // The second order must come within the second after the first order's refresh: on a machine too busy for that
        // the pair proves nothing, and is tried again on a new event (and so a new dispatcher).
        for (var attempt = 0; ; attempt++)
        {
            var eventId = $"view-pull-{attempt}";
            await CreateAsync(cluster, eventId);
            await WarmUpAsync(cluster, eventId);
            var clock = Stopwatch.StartNew();
            // A new dispatcher's view holds the blocks the shards started with, which may be long gone: it asks every
            // shard before its first pull.
            Assert.Equal(1, await PulledAsync(cluster, eventId, key is null ? null : $"{key}-{attempt}-first"));
            // Then it plans the next pull from what it heard, without asking them again.
            var refreshes = await PulledAsync(cluster, eventId, key is null ? null : $"{key}-{attempt}");
            if (clock.Elapsed > Quick && attempt < 9)
            {
                output.WriteLine($"attempt {attempt}: the two orders took {clock.Elapsed}, too long to tell");
                continue;
            }
            Assert.True(clock.Elapsed <= Quick, $"every pair of orders took longer than {Quick}: the test proves nothing");
            Assert.Equal(0, refreshes);
            var sales = (await cluster.SalesAsync(eventId)).TicketTypes[0];
            Assert.Equal((8L, 0L), (sales.Sold, sales.Remaining));
            return;
        }
    }

    [Theory]
    [InlineData(null)]
    [InlineData("stale-pull-key")]
    public async Task A_pull_from_a_view_that_sales_elsewhere_made_wrong_fails_and_the_buyer_hears_the_refreshed_count(string? key)
    {
        await using var cluster = await TicketingCluster.StartAsync(TestStorage.Sqlite(), output: output);
        for (var attempt = 0; ; attempt++)
        {
            var eventId = $"stale-pull-{attempt}";
            var definition = await CreateAsync(cluster, eventId);
            await WarmUpAsync(cluster, eventId);
            var clock = Stopwatch.StartNew();
            Assert.Equal(1, await PulledAsync(cluster, eventId, key: null));
            // The two shards the pull left alone (2 tickets each, by the view) sell 2 and 1 behind the dispatcher's back:
            // 1 ticket is left.
            var full = (await cluster.SalesAsync(eventId)).TicketTypes[0].Shards.Where(shard => shard.Remaining == 2).Select(shard => shard.Index).ToList();
            Assert.Equal(2, full.Count);
            Assert.Equal(PurchaseStatus.Created, (await cluster.Shard(eventId, "ga", full[0]).Purchase(TicketingCluster.KeylessPurchase(eventId, "ga", 2))).Status);
            Assert.Equal(PurchaseStatus.Created, (await cluster.Shard(eventId, "ga", full[1]).Purchase(TicketingCluster.KeylessPurchase(eventId, "ga", 1))).Status);
            // A keyed order's home answers with its own count, which would correct the view before any pull: the key is
            // one whose home the pull emptied.
            string? orderKey = null;
            if (key is not null)
            {
                var homes = new KeyHomes(definition, await cluster.Client.GetEventGrain(eventId).GetShardDatabases(), "ga");
                orderKey = Enumerable.Range(0, 1_000).Select(n => $"{key}-{attempt}-{n}").First(candidate => !full.Contains(homes.HomeOf(candidate)));
            }
            using var refreshes = cluster.CollectMetric<long>("orleanstickets.dispatch.refreshes");
            using var pulls = cluster.CollectMetric<long>("orleanstickets.shards.transfers");

            var refused = await cluster.BuyAsync(eventId, "ga", 4, key: orderKey);

            // Never "sold out" from the view that planned the pull: the answer rests on the refresh after it.
            Assert.Equal(PurchaseStatus.SoldOut, refused.Status);
            Assert.Equal(1, refused.Remaining);
            Assert.True(refreshes.GetMeasurementSnapshot().Sum(m => m.Value) >= 1);
            var pulled = pulls.GetMeasurementSnapshot().Any(m => (string?)m.Tags["reason"] == "pull");
            if (!pulled && clock.Elapsed > Quick && attempt < 9)
            {
                output.WriteLine($"attempt {attempt}: {clock.Elapsed} before the order, too long to tell");
                continue;
            }
            Assert.True(pulled, "the order was not pulled from the view first; the test proves nothing");
            Assert.Equal(PurchaseStatus.Created, (await cluster.BuyAsync(eventId, "ga", 1)).Status);
            return;
        }
    }

    [Theory]
    [InlineData(null)]
    [InlineData("again-key")]
    public async Task A_pull_that_fails_is_planned_again_from_the_view_before_any_refresh(string? key)
    {
        // Twelve shards of one ticket: an order of 4 pulls from 3 donors and names 2 spares. Once armed, every donor
        // asked gives nothing, as if other buyers' pulls had emptied it, until the first pull has answered.
        var emptied = new EmptiedDonorsUntilAnswered();
        await using var cluster = await TicketingCluster.StartAsync(TestStorage.Sqlite(),
            configureSilo: silo => silo.Services.AddSingleton<IIncomingGrainCallFilter>(emptied), output: output);
        for (var attempt = 0; ; attempt++)
        {
            var eventId = $"pull-again-{attempt}";
            var definition = await cluster.CreateEventAsync(eventId, TicketingCluster.Type("ga", capacity: 12, shards: 12, maxPerOrder: 4));
            // A home commits (the key, a forward's reservation), and a shard past the first four that commits with fewer
            // tickets than an order may take hands them to its collector (InventoryShardGrain.Gathering.cs), behind the
            // view's back. The keys are ones whose homes are collectors, which never hand on.
            string[] keys = [];
            if (key is not null)
            {
                var homes = new KeyHomes(definition, await cluster.Client.GetEventGrain(eventId).GetShardDatabases(), "ga");
                keys = [.. Enumerable.Range(0, 1_000).Select(n => $"{key}-{attempt}-{n}")
                    .Where(candidate => homes.HomeOf(candidate) < InventoryShardGrain.RemainderCollectors).Take(2)];
            }
            await WarmUpAsync(cluster, eventId);
            var clock = Stopwatch.StartNew();
            // The first order fills the new dispatcher's view with a refresh: 8 shards of one ticket are left.
            Assert.Equal(1, await PulledAsync(cluster, eventId, key is null ? null : keys[0]));
            using var refreshes = cluster.CollectMetric<long>("orleanstickets.dispatch.refreshes");
            using var transfers = cluster.CollectMetric<long>("orleanstickets.shards.transfers");
            emptied.Arm();

            var bought = await cluster.BuyAsync(eventId, "ga", 4, key: key is null ? null : keys[1]);

            // A receiver's refusal of a keyed order is a commit too, which may still hand a ticket on.
            var gathered = transfers.GetMeasurementSnapshot().Any(m => (string?)m.Tags["reason"] == "gather");
            if ((clock.Elapsed > Quick || gathered) && attempt < 9)
            {
                output.WriteLine($"attempt {attempt}: the two orders took {clock.Elapsed}, and tickets were gathered: {gathered}; too much to tell");
                continue;
            }
            Assert.True(clock.Elapsed <= Quick, $"every pair of orders took longer than {Quick}: the test proves nothing");
            Assert.True(emptied.Refused > 0, "no donor was refused: the test proves nothing");
            Assert.Equal(PurchaseStatus.Created, bought.Status);
            // The second pull came from the view the first left, not from asking all twelve shards again.
            Assert.Equal(0, refreshes.GetMeasurementSnapshot().Sum(m => m.Value));
            var sales = (await cluster.SalesAsync(eventId)).TicketTypes[0];
            Assert.Equal((8L, 4L), (sales.Sold, sales.Remaining));
            return;
        }
    }

    [Fact]
    public async Task A_view_older_than_a_second_is_refreshed_before_a_pull_is_planned_from_it()
    {
        // A donor on a silo that froze since the view was filled would hold the pull for 2 s at each ask: past a
        // second, the shards the last refresh did not hear are no longer marked, and a new refresh comes first.
        var clock = new LeapingTimestamps();
        await using var cluster = await TicketingCluster.StartAsync(TestStorage.Sqlite(),
            configureSilo: silo => silo.Services.AddSingleton<TimeProvider>(clock), output: output);
        await CreateAsync(cluster, "stale-view");
        Assert.Equal(1, await PulledAsync(cluster, "stale-view", key: null));

        clock.Leap(TimeSpan.FromSeconds(2));

        Assert.Equal(1, await PulledAsync(cluster, "stale-view", key: null));
    }

    /// <summary>
    /// Four shards of two tickets, orders of up to 4: a type of four shards or fewer does not gather its shards' last
    /// tickets on a few (InventoryShardGrain.Gathering.cs), which could otherwise make room for an order of 4 on one.
    /// </summary>
    private static Task<EventDefinition> CreateAsync(TicketingCluster cluster, string eventId) =>
        cluster.CreateEventAsync(eventId, TicketingCluster.Type("ga", capacity: 8, shards: 4, maxPerOrder: 4));

    /// <summary>
    /// Activates the event's shards (asked one by one, not through the dispatcher), and has the dispatcher load the
    /// event with an order larger than any allowed, answered from the definition alone (no refresh, no pull), so that
    /// the timed pair of orders does not include loading them: on a busy machine that alone took most of the window.
    /// </summary>
    private static async Task WarmUpAsync(TicketingCluster cluster, string eventId)
    {
        await cluster.ActivateShardsAsync(eventId, "ga", 0, 1, 2, 3);
        Assert.Equal(PurchaseStatus.TooManyTickets, (await cluster.BuyAsync(eventId, "ga", 5)).Status);
    }

    /// <summary>Buys 4 tickets, which no shard holds alone; answers how many refreshes the purchase took.</summary>
    private static async Task<long> PulledAsync(TicketingCluster cluster, string eventId, string? key)
    {
        using var refreshes = cluster.CollectMetric<long>("orleanstickets.dispatch.refreshes");
        using var pulls = cluster.CollectMetric<long>("orleanstickets.shards.transfers");

        var result = await cluster.BuyAsync(eventId, "ga", 4, key: key);

        Assert.Equal(PurchaseStatus.Created, result.Status);
        Assert.Equal(4, result.Order!.Quantity);
        Assert.Contains(pulls.GetMeasurementSnapshot(), m => (string?)m.Tags["reason"] == "pull");
        return refreshes.GetMeasurementSnapshot().Sum(m => m.Value);
    }

    /// <summary>
    /// Once armed, donors give nothing (without reserving or recording anything) until a purchase that named donors has
    /// answered: the first pull fails as one whose donors were emptied meanwhile, and later pulls go through.
    /// </summary>
    private sealed class EmptiedDonorsUntilAnswered : IIncomingGrainCallFilter
    {
        private volatile bool _armed;
        private int _refused;

        public int Refused => Volatile.Read(ref _refused);

        public void Arm() => _armed = true;

        public async Task Invoke(IIncomingGrainCallContext call)
        {
            if (_armed && call.InterfaceMethod.Name == nameof(IInventoryShardGrain.GiveTickets))
            {
                Interlocked.Increment(ref _refused);
                call.Result = 0L;
                return;
            }
            await call.Invoke();
            if (call.InterfaceMethod.Name == nameof(IInventoryShardGrain.Purchase) && call.Request.GetArgument(0) is ShardPurchase { Donors.IsDefaultOrEmpty: false })
            {
                _armed = false;
            }
        }
    }
}
