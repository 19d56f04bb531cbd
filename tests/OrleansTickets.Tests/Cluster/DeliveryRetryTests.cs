using Npgsql;
using OrleansTickets.Events;
using OrleansTickets.Inventory;
using OrleansTickets.Tests.Infrastructure;

namespace OrleansTickets.Tests.Cluster;

/// <summary>
/// A gift between shards whose "delivered" mark could not be written: the donor offers it again by itself, without
/// waiting for some other call to reach it.
/// </summary>
[Collection(PostgresClusterCollection.Name)]
public sealed class DeliveryRetryTests(PostgresFixture postgres, ITestOutputHelper output)
{
    [PostgresTheory]
    [InlineData(1)]
    [InlineData(2)]
    public async Task A_gift_whose_delivered_mark_failed_is_settled_by_the_donor_without_another_call(int failedMarks)
    {
        // The receiver takes the gift in, and the donor's database goes out just as the receiver answers, so the
        // donor's mark fails. A drained donor may get no other call for the rest of the sale, and the gift would stay
        // "in transit" in its database: counted as unsold, settled nowhere. With two failed marks, the second comes
        // from the donor's own delivery timer, which must not then stop.
        string? donorDatabase = null;
        var cuts = new SemaphoreSlim(0);
        var deliveries = 0;
        var receiver = new ShardAddress("gift", "ga", 1);
        var cutOnDelivery = TicketingCluster.Intercepting(receiver, nameof(IInventoryShardGrain.AcceptTransfer), async call =>
        {
            if (donorDatabase is { } database && Interlocked.Increment(ref deliveries) <= failedMarks)
            {
                await postgres.Server.SetConnectionsAsync(database, allowed: false);
                cuts.Release();
            }
            await call.Invoke();
        });
        using var storage = TestStorage.Postgres(postgres.Server, maxShardDatabases: 2);
        await using var cluster = await TicketingCluster.StartAsync(storage, configureSilo: cutOnDelivery, output: output);
        // Orders of at most 2: neither shard is left with fewer than one order takes, so no gathering (whose commits
        // would reload the donor) runs beside the deliveries.
        await cluster.CreateEventAsync("gift", TicketingCluster.Type("ga", capacity: 20, shards: 2, maxPerOrder: 2));
        var donorPlacement = (await cluster.Client.GetEventGrain("gift").GetPlacement("ga", 0))!;
        Assert.NotEqual(donorPlacement.DatabaseOrdinal, (await cluster.Client.GetEventGrain("gift").GetPlacement("ga", 1))!.DatabaseOrdinal);
        await cluster.Shard("gift", "ga", 1).GetSales();
        donorDatabase = cluster.PostgresShardDatabase(donorPlacement.DatabaseOrdinal);

        var giving = cluster.Shard("gift", "ga", 0).GiveTickets("gift-1", receiver.Key, 3);
        for (var cut = 1; cut <= failedMarks; cut++)
        {
            try
            {
                Assert.True(await cuts.WaitAsync(TimeSpan.FromSeconds(20)), $"Delivery {cut} never reached the receiver.");
                // The donor writes its mark milliseconds after the receiver answers; the margin is for a loaded machine.
                await Task.Delay(TimeSpan.FromSeconds(3));
            }
            finally
            {
                await postgres.Server.SetConnectionsAsync(donorDatabase, allowed: true);
            }
        }
        Assert.Equal(3L, await giving);

        // Read from the database, not through the donor: a call would make it reload and deliver anyway.
        await Poll.UntilAsync(() => DeliveredAsync(storage, donorDatabase, "gift-1"), attempts: 200,
            failure: "The donor never marked the gift delivered.");
        Assert.Equal(failedMarks + 1, Volatile.Read(ref deliveries));
        var type = (await cluster.SalesAsync("gift")).TicketTypes[0];
        Assert.Equal((20L, 0L), (type.Capacity, type.Shards.Sum(s => s.InTransit)));
        Assert.Equal(13L, type.Shards[1].Capacity);
    }

    private static async Task<bool> DeliveredAsync(TestStorage storage, string database, string transferId)
    {
        var builder = new NpgsqlConnectionStringBuilder(storage.Settings["Storage:ConnectionString"]) { Database = database, Pooling = false };
        await using var connection = new NpgsqlConnection(builder.ConnectionString);
        await connection.OpenAsync();
        await using var read = new NpgsqlCommand("SELECT delivered FROM transfers_out WHERE transfer_id = @id", connection);
        read.Parameters.AddWithValue("id", transferId);
        return Convert.ToInt32(await read.ExecuteScalarAsync() ?? 0) == 1;
    }
}
