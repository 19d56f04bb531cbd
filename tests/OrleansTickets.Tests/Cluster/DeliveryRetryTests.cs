using Npgsql;
using OrleansTickets.Events;
using OrleansTickets.Inventory;
using OrleansTickets.Tests.Infrastructure;

namespace OrleansTickets.Tests.Cluster;

/// <summary>
/// A gift between shards whose "delivered" mark could not be written: the donor offers it again by itself, without
/// waiting for some other call to reach it.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class DeliveryRetryTests(PostgresFixture postgres, ITestOutputHelper output)
{
    [PostgresFact]
    public async Task A_gift_whose_delivered_mark_failed_is_settled_by_the_donor_without_another_call()
    {
        // The receiver takes the gift in, and the donor's database goes out just as the receiver answers, so the
        // donor's mark fails. A drained donor may get no other call for the rest of the sale, and the gift would stay
        // "in transit" in its database: counted as unsold, settled nowhere.
        string? donorDatabase = null;
        var cut = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var receiver = new ShardAddress("gift", "ga", 1);
        var cutOnDelivery = TicketingCluster.Intercepting(receiver, nameof(IInventoryShardGrain.AcceptTransfer), async call =>
        {
            if (!cut.Task.IsCompleted && donorDatabase is { } database)
            {
                await postgres.Server.SetConnectionsAsync(database, allowed: false);
                cut.TrySetResult();
            }
            await call.Invoke();
        });
        using var storage = TestStorage.Postgres(postgres.Server, maxShardDatabases: 2);
        await using var cluster = await TicketingCluster.StartAsync(storage, configureSilo: cutOnDelivery, output: output);
        await cluster.CreateEventAsync("gift", TicketingCluster.Type("ga", capacity: 20, shards: 2));
        var donorPlacement = (await cluster.Client.GetEventGrain("gift").GetPlacement("ga", 0))!;
        Assert.NotEqual(donorPlacement.DatabaseOrdinal, (await cluster.Client.GetEventGrain("gift").GetPlacement("ga", 1))!.DatabaseOrdinal);
        await cluster.Shard("gift", "ga", 1).GetSales();
        donorDatabase = cluster.PostgresShardDatabase(donorPlacement.DatabaseOrdinal);

        try
        {
            await cluster.Shard("gift", "ga", 0).GiveTickets("gift-1", receiver.Key, 3);
            await cut.Task.WaitAsync(TimeSpan.FromSeconds(10));
        }
        finally
        {
            await postgres.Server.SetConnectionsAsync(donorDatabase, allowed: true);
        }

        // Read from the database, not through the donor: a call would make it reload and deliver anyway.
        await Poll.UntilAsync(() => DeliveredAsync(storage, donorDatabase, "gift-1"), attempts: 200,
            failure: "The donor never marked the gift delivered.");
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
