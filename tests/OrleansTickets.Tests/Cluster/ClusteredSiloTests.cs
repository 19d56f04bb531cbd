using System.Net;
using Npgsql;
using OrleansTickets.Tests.Http;
using OrleansTickets.Tests.Infrastructure;

namespace OrleansTickets.Tests.Cluster;

/// <summary>
/// Two copies of the real service (silo + HTTP API) form one cluster through our ADO.NET membership schema on
/// PostgreSQL: what one front end creates and sells, the other sees, and every shard lives exactly once.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class ClusteredSiloTests(PostgresFixture postgres)
{
    [PostgresFact]
    public async Task Two_silos_share_one_cluster_and_sell_one_inventory()
    {
        var storage = TestStorage.Postgres(postgres.Server);
        var clusterId = "c-" + Guid.NewGuid().ToString("N")[..8];
        var settings = new Dictionary<string, string?>
        {
            ["Cluster:Membership"] = "AdoNet",
            ["Cluster:ClusterId"] = clusterId,
        };
        await using var first = await ApiHost.StartAsync(storage, settings);
        await using var second = await ApiHost.StartAsync(storage, settings);

        Assert.Equal(HttpStatusCode.Created, (await first.Client.CreateEventAsync("cluster", capacity: 200, shards: 8)).StatusCode);
        var buys = await Task.WhenAll(Enumerable.Range(0, 60).Select(i =>
            (i % 2 == 0 ? first : second).Client.OrderAsync("cluster", 2, key: $"k-{i}")));
        Assert.All(buys, r => Assert.Equal(HttpStatusCode.Created, r.StatusCode));

        // A retry through the other front end finds the same order.
        var replay = await second.Client.OrderAsync("cluster", 2, key: "k-0");
        Assert.Equal(HttpStatusCode.OK, replay.StatusCode);
        Assert.Equal((await buys[0].JsonAsync()).GetProperty("orderId").GetString(), (await replay.JsonAsync()).GetProperty("orderId").GetString());

        Assert.Equal(120, await first.Client.SoldAsync("cluster"));
        Assert.Equal(120, await second.Client.SoldAsync("cluster"));

        await using var connection = new NpgsqlConnection(storage.Settings["Storage:ConnectionString"]);
        await connection.OpenAsync();
        await using var active = new NpgsqlCommand("SELECT count(*) FROM orleansmembershiptable WHERE deploymentid = @id AND status = 3", connection);
        active.Parameters.AddWithValue("id", clusterId);
        Assert.Equal(2L, Convert.ToInt64(await active.ExecuteScalarAsync()));
    }
}
