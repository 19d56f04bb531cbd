using System.Net;
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
}
