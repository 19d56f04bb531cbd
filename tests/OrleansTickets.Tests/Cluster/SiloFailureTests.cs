using System.Collections.Concurrent;
using Microsoft.Extensions.Configuration;
using Orleans.Configuration;
using Orleans.Runtime;
using OrleansTickets.Hosting;
using OrleansTickets.Inventory;
using OrleansTickets.Orders;
using OrleansTickets.Tests.Infrastructure;

namespace OrleansTickets.Tests.Cluster;

/// <summary>
/// Silos dying, leaving and joining in the middle of a sale, on the in-memory TestingHost with real shard databases.
/// Buyers all use idempotency keys and retry a key until they get an answer, as the API tells them to.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class SiloFailureTests(PostgresFixture postgres)
{
    private const string EventId = "rush";
    private const int Capacity = 1_200;

    [Theory, MemberData(nameof(Engines.All), MemberType = typeof(Engines))]
    public async Task A_killed_silo_loses_no_acknowledged_order_and_every_key_ends_with_one_order(string engine)
    {
        await using var cluster = await TicketingCluster.StartAsync(Engines.Storage(engine, postgres), silos: 3, FastLiveness);
        await cluster.CreateEventAsync(EventId, TicketingCluster.Type("ga", Capacity, shards: 24, maxPerOrder: 4));
        var sale = new Sale(cluster);

        var buyers = sale.Start(buyers: 24);
        await sale.WaitForOrdersAsync(100);
        await cluster.Cluster.KillSiloAsync(cluster.Cluster.Silos[^1]);
        await Task.WhenAll(buyers);

        await sale.VerifyAsync();
    }

    [Theory, MemberData(nameof(Engines.All), MemberType = typeof(Engines))]
    public async Task A_silo_leaving_gracefully_moves_its_shards_without_a_failed_purchase(string engine)
    {
        await using var cluster = await TicketingCluster.StartAsync(Engines.Storage(engine, postgres), silos: 3, FastLiveness);
        await cluster.CreateEventAsync(EventId, TicketingCluster.Type("ga", Capacity, shards: 24, maxPerOrder: 4));
        var sale = new Sale(cluster);

        var buyers = sale.Start(buyers: 24);
        await sale.WaitForOrdersAsync(100);
        await cluster.Cluster.StopSiloAsync(cluster.Cluster.Silos[^1]);
        await Task.WhenAll(buyers);

        await sale.VerifyAsync();
        Assert.Empty(sale.Retries);
    }

    [Fact]
    public async Task Shards_spread_to_a_silo_that_joins_while_the_sale_runs()
    {
        var rebalancer = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            [$"{ShardRebalancingExtensions.SectionName}:RebalancerDueTime"] = "00:00:02",
            [$"{ShardRebalancingExtensions.SectionName}:SessionCyclePeriod"] = "00:00:02",
            // A session that sees no gain for this many cycles backs off for a while; the joining silo needs a few
            // cycles before its statistics arrive, so the test allows more than the default 3.
            [$"{ShardRebalancingExtensions.SectionName}:MaxStagnantCycles"] = "20",
        }).Build();
        await using var cluster = await TicketingCluster.StartAsync(TestStorage.Sqlite(), silos: 1, silo =>
        {
            FastLiveness(silo);
            silo.Configure<DeploymentLoadPublisherOptions>(o => o.DeploymentLoadPublisherRefreshTime = TimeSpan.FromMilliseconds(500));
            silo.AddShardRebalancing(rebalancer);
        });
        await cluster.CreateEventAsync(EventId, TicketingCluster.Type("ga", 100_000, shards: 48, maxPerOrder: 4));
        foreach (var index in Enumerable.Range(0, 48)) await cluster.Shard(EventId, "ga", index).GetSales();
        Assert.Single((await ShardSilosAsync(cluster)).Keys);

        var joined = await cluster.Cluster.StartAdditionalSiloAsync();
        var sale = new Sale(cluster);
        var buyers = sale.Start(buyers: 8, stopWhen: async () =>
            (await ShardSilosAsync(cluster)).GetValueOrDefault(joined.SiloAddress) > 0);
        await Task.WhenAll(buyers);

        var spread = await ShardSilosAsync(cluster);
        Assert.True(spread.GetValueOrDefault(joined.SiloAddress) > 0, "No shard moved to the new silo.");
        await sale.VerifyAcknowledgedAsync();
        Assert.Empty(sale.Retries);
    }

    private static void FastLiveness(ISiloBuilder silo) => silo.Configure<ClusterMembershipOptions>(o =>
    {
        // Declares a crashed silo dead within a few seconds instead of Orleans' 15-60 s.
        o.ProbeTimeout = TimeSpan.FromSeconds(1);
        o.NumMissedProbesLimit = 1;
        o.NumVotesForDeathDeclaration = 1;
    });

    private static async Task<Dictionary<SiloAddress, int>> ShardSilosAsync(TicketingCluster cluster)
    {
        var statistics = await cluster.Client.GetGrain<IManagementGrain>(0).GetDetailedGrainStatistics();
        return statistics.Where(s => s.GrainType.Contains(nameof(InventoryShardGrain), StringComparison.Ordinal))
            .GroupBy(s => s.SiloAddress).ToDictionary(g => g.Key, g => g.Count());
    }

    /// <summary>Buyers with keys, their acknowledged orders, and the checks made from the databases afterwards.</summary>
    private sealed class Sale(TicketingCluster cluster)
    {
        private static readonly TimeSpan GiveUpAfter = TimeSpan.FromSeconds(90);

        public ConcurrentDictionary<string, OrderDetails> Acknowledged { get; } = new();

        /// <summary>Attempts that got no answer (an exception, or a retryable status) and were retried with the same key.</summary>
        public ConcurrentQueue<string> Retries { get; } = new();

        private volatile bool _stopped;

        /// <summary>Starts the buyers; they run until sold out, or until <paramref name="stopWhen"/> says so (at most 60 s).</summary>
        public List<Task> Start(int buyers, Func<Task<bool>>? stopWhen = null)
        {
            var tasks = Enumerable.Range(0, buyers).Select(buyer => Task.Run(() => BuyAsync(buyer))).ToList();
            if (stopWhen is not null)
            {
                tasks.Add(Task.Run(async () =>
                {
                    var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
                    while (!await stopWhen() && DateTime.UtcNow < deadline) await Task.Delay(200);
                    _stopped = true;
                }));
            }
            return tasks;
        }

        public async Task WaitForOrdersAsync(int count)
        {
            var deadline = DateTime.UtcNow + GiveUpAfter;
            while (Acknowledged.Count < count && DateTime.UtcNow < deadline) await Task.Delay(20);
        }

        private async Task BuyAsync(int buyer)
        {
            var quantity = buyer % 4 + 1;
            for (var n = 0; quantity > 0 && !_stopped; n++)
            {
                var key = $"b{buyer}-{n}";
                var result = await UntilAnsweredAsync(key, quantity);
                if (result.Status == PurchaseStatus.SoldOut)
                {
                    Assert.True(result.Remaining < quantity, $"Refused {quantity} while {result.Remaining} remained.");
                    quantity = (int)Math.Min(quantity - 1, result.Remaining);
                    continue;
                }
                Assert.True(result.Succeeded, $"Key {key}: {result.Status}");
                Assert.True(Acknowledged.TryAdd(key, result.Order!), $"Key {key} was acknowledged twice.");
            }
        }

        private async Task<PurchaseResult> UntilAnsweredAsync(string key, int quantity)
        {
            var deadline = DateTime.UtcNow + GiveUpAfter;
            while (true)
            {
                try
                {
                    var result = await cluster.BuyAsync(EventId, "ga", quantity, key);
                    if (result.Status is not (PurchaseStatus.Failed or PurchaseStatus.Unavailable)) return result;
                    Retries.Enqueue($"{key}: {result.Status}");
                }
                catch (Exception exception)
                {
                    Retries.Enqueue($"{key}: {exception.GetType().Name}");
                }
                Assert.True(DateTime.UtcNow < deadline, $"Key {key} got no answer for {GiveUpAfter}.");
                await Task.Delay(50);
            }
        }

        /// <summary>Sold out exactly, and every acknowledged order is in its shard's database.</summary>
        public async Task VerifyAsync()
        {
            var orders = await VerifyAcknowledgedAsync();
            Assert.Equal(Capacity, orders.Sum(o => o.Quantity));
            var type = (await cluster.SalesAsync(EventId)).TicketTypes[0];
            Assert.Equal(((long)Capacity, (long)Capacity, 0L), (type.Capacity, type.Sold, type.Remaining));
        }

        public async Task<List<OrderDetails>> VerifyAcknowledgedAsync()
        {
            var orders = Acknowledged.Values.ToList();
            OrderAssertions.AllSerialsAndCodesUnique(orders);
            foreach (var order in orders)
            {
                Assert.True(OrderId.TryGetShard(order.OrderId, out var holder));
                var stored = await cluster.Client.GetGrain<IInventoryShardGrain>(holder.Key).GetOrder(order.OrderId);
                Assert.Equal(order, stored, OrderComparer.Instance);
            }
            // Nothing sold beyond what buyers hold: no order was made whose answer was lost for good.
            var type = (await cluster.SalesAsync(EventId)).TicketTypes[0];
            Assert.Equal(orders.Sum(o => (long)o.Quantity), type.Sold);
            return orders;
        }
    }
}
