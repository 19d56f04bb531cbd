using System.Net;
using System.Net.Http.Json;
using Microsoft.Data.Sqlite;
using OrleansTickets.Tests.Infrastructure;

namespace OrleansTickets.Tests.Http;

/// <summary>A shard whose database cannot be opened answers 503 with Retry-After, and resumes by itself once it can.</summary>
public sealed class UnavailableShardTests : IAsyncLifetime
{
    private readonly TestStorage _storage = TestStorage.Sqlite();
    private ApiHost _host = null!;

    public async Task InitializeAsync() => _host = await ApiHost.StartAsync(_storage);

    public async Task DisposeAsync()
    {
        await _host.DisposeAsync();
        _storage.Dispose();
    }

    [Fact]
    public async Task An_unreachable_shard_database_gives_503_and_the_shard_resumes_when_it_returns()
    {
        Assert.Equal(HttpStatusCode.Created, (await _host.Client.CreateEventAsync("outage", capacity: 10, shards: 1)).StatusCode);
        // The event's only shard maps to shard database 0. A directory where its file belongs makes every open fail.
        var blocker = Path.Combine(_storage.Folder!, "shards", "shard_0000.db");
        Directory.CreateDirectory(blocker);

        var refused = await _host.Client.OrderAsync("outage", 1, key: "during-outage");
        await ApiContractTests.AssertProblemAsync(refused, HttpStatusCode.ServiceUnavailable, "unavailable");
        Assert.Equal("1", refused.Headers.GetValues("Retry-After").Single());
        var sales = await (await _host.Client.GetAsync("/api/events/outage/sales")).JsonAsync();
        var shard = sales.GetProperty("ticketTypes")[0].GetProperty("shards")[0];
        Assert.Equal("unavailable", shard.GetProperty("status").GetString());
        Assert.Equal(10, shard.GetProperty("remaining").GetInt64());

        Directory.Delete(blocker);
        await Poll.UntilAsync(async () =>
        {
            var created = await _host.Client.OrderAsync("outage", 1, key: "during-outage");
            if (created.StatusCode == HttpStatusCode.Created) return true;
            Assert.Equal(HttpStatusCode.ServiceUnavailable, created.StatusCode);
            return false;
        }, attempts: 40, failure: "The shard never resumed after its database came back.");
        Assert.Equal(1, await _host.Client.SoldAsync("outage"));
    }

    [Fact]
    public async Task A_shard_that_cannot_load_is_no_ground_for_sold_out_though_its_block_looks_too_small()
    {
        // Shard 0 took in 100 tickets an operator added, so it holds 102; then, after a restart, its database cannot be
        // opened and it never reads its row. Its report can only give its block (2), which leaves out the grant: counted
        // with shard 1's 2, a refresh would find 4 unsold and tell a buyer of 5 "sold out" beside 104 tickets.
        using var storage = TestStorage.Sqlite();
        await using (var first = await ApiHost.StartAsync(storage))
        {
            Assert.Equal(HttpStatusCode.Created, (await first.Client.CreateEventAsync("grown", capacity: 4, shards: 2)).StatusCode);
            var added = await first.Client.PostAsJsonAsync("/api/events/grown/ticket-types/ga/capacity", new { quantity = 100, shard = 0 });
            Assert.Equal(HttpStatusCode.Created, added.StatusCode);
        }
        // The process-wide SQLite pool would otherwise hand the restarted service a connection still open on the file.
        SqliteConnection.ClearAllPools();
        var file = Path.Combine(storage.Folder!, "shards", "shard_0000.db");
        foreach (var part in new[] { file, file + "-wal", file + "-shm" }.Where(File.Exists)) File.Move(part, part + ".away");
        Directory.CreateDirectory(file);

        await using var again = await ApiHost.StartAsync(storage);
        var refused = await again.Client.OrderAsync("grown", 5);
        await ApiContractTests.AssertProblemAsync(refused, HttpStatusCode.ServiceUnavailable, "unavailable");

        // Once the database is back, the shard loads its 102 and the same order is sold.
        Directory.Delete(file);
        foreach (var part in Directory.GetFiles(Path.GetDirectoryName(file)!, "shard_0000.db*.away")) File.Move(part, part[..^".away".Length]);
        await Poll.UntilAsync(async () =>
        {
            var created = await again.Client.OrderAsync("grown", 5);
            if (created.StatusCode == HttpStatusCode.Created) return true;
            Assert.Equal(HttpStatusCode.ServiceUnavailable, created.StatusCode);
            return false;
        }, attempts: 40, failure: "The shard never resumed after its database came back.");
    }
}
