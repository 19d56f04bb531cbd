using OrleansTickets.Events;
using OrleansTickets.Inventory;
using OrleansTickets.Orders;
using OrleansTickets.Sales;
using OrleansTickets.Storage;
using OrleansTickets.Tests.Infrastructure;

namespace OrleansTickets.Tests.Cluster;

/// <summary>
/// PostgreSQL failing under a running sale: one shard database cut off, and the whole server restarting. The sale
/// goes on where it can, nothing acknowledged is lost, and shards come back by themselves.
/// </summary>
[Collection(PostgresClusterCollection.Name)]
public sealed class DatabaseFailureTests(PostgresFixture postgres, ITestOutputHelper output)
{
    [PostgresFact]
    public async Task A_shard_database_that_refuses_connections_is_routed_around_and_its_shards_resume_by_themselves()
    {
        using var storage = TestStorage.Postgres(postgres.Server, maxShardDatabases: 4);
        await using var cluster = await TicketingCluster.StartAsync(storage, output: output);
        await cluster.CreateEventAsync("cut", TicketingCluster.Type("ga", capacity: 800, shards: 8, maxPerOrder: 4));
        var before = await Task.WhenAll(Enumerable.Range(0, 40).Select(_ => cluster.BuyAsync("cut", "ga", 2)));
        Assert.All(before, r => Assert.Equal(PurchaseStatus.Created, r.Status));
        var held = (await cluster.Shard("cut", "ga", 1).Purchase(TicketingCluster.KeylessPurchase("cut", "ga", 1))).Order!;

        // Shard database 1 holds shards 1 and 5 (ordinals go round-robin). Cut it off, as an outage would.
        var placement = (await cluster.Client.GetEventGrain("cut").GetPlacement("ga", 1))!;
        var database = cluster.PostgresShardDatabase(placement.DatabaseOrdinal);
        await postgres.Server.SetConnectionsAsync(database, allowed: false);

        // Orders without a key route around the dead shards and all succeed.
        var during = await Task.WhenAll(Enumerable.Range(0, 200).Select(_ => cluster.BuyAsync("cut", "ga", 1)));
        Assert.All(during, r => Assert.Equal(PurchaseStatus.Created, r.Status));
        Assert.DoesNotContain(during, r => r.Order!.OrderId.StartsWith("cut.ga.1.", StringComparison.Ordinal) || r.Order.OrderId.StartsWith("cut.ga.5.", StringComparison.Ordinal));
        var shards = (await cluster.SalesAsync("cut")).TicketTypes[0].Shards;
        Assert.Equal(ShardStatus.Unavailable, shards[1].Status);
        Assert.Equal(ShardStatus.Unavailable, shards[5].Status);

        // Reading an order held there says "try again" (the API's 503), not "no such order" and not an internal error.
        await Assert.ThrowsAsync<ShardUnavailableException>(() => cluster.Shard("cut", "ga", 1).GetOrder(held.OrderId));

        // A keyed order whose key lives on the dead database cannot be sold (its home is there) and gets a retryable
        // answer, never a wrong one. Once the database is back, the same key buys exactly once.
        using var pauses = cluster.CollectMetric<long>("orleanstickets.dispatch.pauses");
        var keyed = await Task.WhenAll(Enumerable.Range(0, 40).Select(i => cluster.BuyAsync("cut", "ga", 1, key: $"cut-{i}")));
        Assert.All(keyed, r => Assert.Contains(r.Status, new[] { PurchaseStatus.Created, PurchaseStatus.Unavailable }));
        Assert.Contains(keyed, r => r.Status == PurchaseStatus.Unavailable);
        // Before answering 503 the dispatcher asked the home again after short pauses, as the meter tells operators.
        Assert.True(TicketingCluster.PausedFor(pauses, "retry"), "No retry pause was counted.");

        await postgres.Server.SetConnectionsAsync(database, allowed: true);
        await Poll.UntilAsync(async () => (await cluster.SalesAsync("cut")).TicketTypes[0].Shards.All(s => s.Status != ShardStatus.Unavailable));
        var retried = await Task.WhenAll(Enumerable.Range(0, 40).Select(i => cluster.BuyAsync("cut", "ga", 1, key: $"cut-{i}")));
        for (var i = 0; i < keyed.Length; i++)
        {
            Assert.True(retried[i].Succeeded, $"cut-{i}: {retried[i].Status}");
            if (keyed[i].Status == PurchaseStatus.Created) Assert.Equal(keyed[i].Order!.OrderId, retried[i].Order!.OrderId);
        }

        // Everything left, including the dead shards' tickets, sells.
        var rest = new List<OrderDetails>();
        while (await cluster.BuyAsync("cut", "ga", 1) is { Status: PurchaseStatus.Created } result) rest.Add(result.Order!);
        var all = before.Concat(during).Concat(retried).Select(r => r.Order!).Append(held).Concat(rest).ToList();
        OrderAssertions.AllSerialsAndCodesUnique(all);
        Assert.Equal(800, all.Sum(o => o.Quantity));
        var type = (await cluster.SalesAsync("cut")).TicketTypes[0];
        Assert.Equal((800L, 0L), (type.Sold, type.Remaining));
    }

    [PostgresFact]
    public async Task Tickets_granted_while_their_shard_database_is_down_keep_the_type_from_selling_out()
    {
        using var storage = TestStorage.Postgres(postgres.Server, maxShardDatabases: 1);
        await using var cluster = await TicketingCluster.StartAsync(storage, output: output);
        await cluster.CreateEventAsync("late", TicketingCluster.Type("ga", capacity: 2, shards: 1));
        Assert.Equal(PurchaseStatus.Created, (await cluster.BuyAsync("late", "ga", 2)).Status);
        var database = cluster.PostgresShardDatabase(0);
        await postgres.Server.SetConnectionsAsync(database, allowed: false);

        // The operator's tickets are granted durably but cannot reach the shard yet.
        Assert.Equal(CapacityStatus.Pending, (await cluster.Client.GetEventGrain("late").AddCapacity("ga", 3, null, "late-3")).Status);

        // A buyer now is not told "sold out": three tickets exist. The dispatcher's patience runs out instead (503).
        Assert.Equal(PurchaseStatus.Unavailable, (await cluster.BuyAsync("late", "ga", 1)).Status);

        await postgres.Server.SetConnectionsAsync(database, allowed: true);
        await Poll.UntilAsync(async () => (await cluster.Shard("late", "ga", 0).GetSales()).Capacity == 5);
        Assert.Equal(PurchaseStatus.Created, (await cluster.BuyAsync("late", "ga", 3)).Status);
        Assert.Equal(PurchaseStatus.SoldOut, (await cluster.BuyAsync("late", "ga", 1)).Status);
    }

    [PostgresFact]
    public async Task A_postgres_restart_mid_sale_loses_no_acknowledged_order_and_shards_reconnect_by_themselves()
    {
        using var storage = TestStorage.Postgres(postgres.Server, maxShardDatabases: 4);
        await using var cluster = await TicketingCluster.StartAsync(storage, output: output);
        await cluster.CreateEventAsync("restart", TicketingCluster.Type("ga", capacity: 1_200, shards: 16, maxPerOrder: 4));
        var sale = new BuyerCrowd(cluster, "restart", "ga", 1_200);

        var buyers = sale.Start(buyers: 24);
        await sale.WaitForOrdersAsync(100);
        var beforeRestart = sale.Acknowledged.Count;
        // Immediate mode: no checkpoint, so the server comes back through WAL recovery, as after a crash.
        await postgres.Server.RestartAsync(immediate: true);
        var atRestart = sale.Acknowledged.Count;
        await Task.WhenAll(buyers);

        await sale.VerifyAsync();
        // The restart hit a running sale, and the same shards sold on afterwards without being restarted.
        Assert.True(beforeRestart >= 100, $"Only {beforeRestart} orders before the restart.");
        Assert.True(sale.Acknowledged.Count > atRestart, $"No order after the restart ({atRestart} before).");
    }

    [PostgresFact]
    public async Task A_stale_shard_whose_commit_met_its_database_down_does_not_claim_the_shard_back_from_a_newer_one()
    {
        using var storage = TestStorage.Postgres(postgres.Server, maxShardDatabases: 1);
        await using var cluster = await TicketingCluster.StartAsync(storage, output: output);
        await cluster.CreateEventAsync("reclaim", TicketingCluster.Type("ga", capacity: 10, shards: 1));
        var shard = cluster.Shard("reclaim", "ga", 0);
        Assert.Equal(PurchaseStatus.Created, (await shard.Purchase(TicketingCluster.KeylessPurchase("reclaim", "ga", 1))).Status);

        // A newer activation (played by a ledger) claims the shard, as during a membership change. The grain still
        // believes it holds the shard, and has not written since.
        var (placement, newer) = await cluster.LedgerAsync("reclaim", "ga", 0);
        var claim = await newer.ClaimAsync(placement.Block);
        Assert.Equal(2L, claim.Epoch);

        // Its next commit meets the database down before it reaches its fence: not fenced, just failed, and a reload is due.
        var database = cluster.PostgresShardDatabase(0);
        await postgres.Server.SetConnectionsAsync(database, allowed: false);
        var failed = await shard.Purchase(TicketingCluster.KeylessPurchase("reclaim", "ga", 1));
        Assert.Contains(failed.Status, new[] { PurchaseStatus.Unavailable, PurchaseStatus.Failed });
        await postgres.Server.SetConnectionsAsync(database, allowed: true);
        // The database answers again, through the silo's own pool.
        Assert.Equal(1L, await newer.CountTicketRowsAsync());

        // Once its back-off (a second) is over, its next call reloads. Taking the shard back would let it sell at once
        // under a third epoch, and commit whatever it had decided before the reload; it stops as a fenced shard does.
        await Task.Delay(TimeSpan.FromSeconds(1.5));
        Assert.Equal(PurchaseStatus.Unavailable, (await shard.Purchase(TicketingCluster.KeylessPurchase("reclaim", "ga", 1))).Status);
        Assert.Equal(CommitOutcome.Committed,
            await newer.CommitAsync(new LedgerBatch(placement.Address, newer.Epoch, claim.Sold, claim.Sold, [], [], null)));

        // The shard comes back as a new activation, whose first claim takes it whoever held it.
        await Poll.UntilAsync(async () => (await shard.Purchase(TicketingCluster.KeylessPurchase("reclaim", "ga", 1))).Status == PurchaseStatus.Created);
        Assert.Equal(CommitOutcome.Fenced,
            await newer.CommitAsync(new LedgerBatch(placement.Address, newer.Epoch, claim.Sold, claim.Sold, [], [], null)));
    }
}
