using Microsoft.Extensions.DependencyInjection;
using OrleansTickets.Events;
using OrleansTickets.Inventory;
using OrleansTickets.Orders;
using OrleansTickets.Tests.Infrastructure;

namespace OrleansTickets.Tests.Grains;

/// <summary>
/// A candidate holds tickets for the order its home is about to forward (ForwardHoldTests). When the order comes and
/// must first be looked for in the orders table (its id was minted before the shard's claim), the tickets stay held
/// while that read runs: other buyers cannot take them in between. PostgreSQL only, where a read can be held waiting
/// and the shard's other calls go on meanwhile (SQLite's reads run synchronously, inside the turn).
/// </summary>
[Collection(PostgresKeysCollection.Name)]
public sealed class HeldForwardReadTests(PostgresFixture postgres, ITestOutputHelper output)
{
    [PostgresFact]
    public async Task Tickets_held_for_a_forward_stay_held_while_it_reads_for_its_order()
    {
        var clock = new ShiftedClock();
        await using var cluster = await TicketingCluster.StartAsync(TestStorage.Postgres(postgres.Server, maxShardDatabases: 1),
            configureSilo: silo => silo.Services.AddSingleton<TimeProvider>(clock), output: output);
        await cluster.CreateEventAsync("read-held", TicketingCluster.Type("ga", capacity: 4, shards: 2));
        var address = new ShardAddress("read-held", "ga", 1);
        var shard = cluster.Shard("read-held", "ga", 1);
        // Minted before the shard's first claim (the question below activates it), so the order is read for first.
        var orderId = OrderId.New(address, DateTimeOffset.UtcNow);
        Assert.Equal(2L, await shard.HoldForForward(orderId, 2));
        // The hold ends by itself about 2 s on (by the shard's clock): not while this test, on a busy machine, takes its time.
        clock.Shift = -TimeSpan.FromHours(1);
        var database = cluster.PostgresShardDatabase(0);
        var connectionString = postgres.Server.ConnectionString(database);

        var request = new PurchaseRequest("read-held", "ga", 2, new Buyer("Ada", "ada@example.com"), "read-held-key");
        Task<PurchaseResult> forwarded;
        await using (await HeldWrites.HoldOrdersTableAsync(connectionString))
        {
            forwarded = shard.Purchase(new ShardPurchase(request, request.Fingerprint(), [], ForwardedOrderId: orderId, FreshOrderId: true));
            await HeldWrites.UntilLockWaitsAsync(connectionString, database, expected: 1, "The forward never read for its order.");

            // Another buyer while the forward waits on its read: the shard's two tickets are still the forward's. Had the
            // hold ended before the read, this buyer would have taken them, its commit waiting here on the held table.
            var other = await shard.Purchase(TicketingCluster.KeylessPurchase("read-held", "ga", 2)).WaitAsync(TimeSpan.FromSeconds(10));
            Assert.Equal(PurchaseStatus.SoldOut, other.Status);
        }

        var sold = await forwarded;
        Assert.Equal(PurchaseStatus.Created, sold.Status);
        Assert.Equal(orderId, sold.Order!.OrderId);
        var report = await shard.GetSales();
        Assert.Equal((2L, 0L, 0L), (report.Sold, report.Remaining, report.Reserved));
    }
}
