using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OrleansTickets.Storage;
using OrleansTickets.Tests.Infrastructure;

namespace OrleansTickets.Tests.Http;

/// <summary>
/// Order pages read on a shard database's lookup connections, at most half of its pool: when a crowd of page loads holds
/// them, one more page is told to come back (503 with Retry-After) while purchases go on selling.
/// </summary>
public sealed class BusyOrderLookupTests
{
    [Fact]
    public async Task An_order_page_past_the_lookup_limit_is_a_503_to_retry_and_purchases_still_sell()
    {
        using var storage = TestStorage.Sqlite();
        var log = new WarningCollector();
        // Pools of two: one connection per database for lookups.
        await using var host = await ApiHost.StartAsync(storage, new Dictionary<string, string?> { ["Storage:MaxConnectionsPerDatabase"] = "2" },
            services => services.AddSingleton<ILoggerProvider>(log));
        Assert.Equal(HttpStatusCode.Created, (await host.Client.CreateEventAsync("busy", capacity: 10, shards: 1)).StatusCode);
        var bought = await host.Client.OrderAsync("busy", 1, key: "busy-1");
        Assert.Equal(HttpStatusCode.Created, bought.StatusCode);
        var page = bought.Headers.Location!.OriginalString;
        Assert.Equal(HttpStatusCode.OK, (await host.Client.GetAsync(page)).StatusCode);

        // The crowd's page loads, played here: each database's lookup connection is held.
        var databases = host.Services.GetRequiredService<ShardDatabases>();
        var crowd = new HeldLookups();
        var lookups = Enumerable.Range(0, storage.Options.MaxShardDatabases).Select(ordinal => crowd.Start(databases.Get(ordinal))).ToList();
        await crowd.UntilInsideAsync(lookups.Count);

        var refused = await host.Client.GetAsync(page);
        await ApiContractTests.AssertProblemAsync(refused, HttpStatusCode.ServiceUnavailable, "unavailable");
        Assert.NotNull(refused.Headers.RetryAfter);
        // Expected under a crowd, so not logged as an error (or a warning) per page.
        Assert.DoesNotContain(log.Lines, line => line.Contains("busy with lookups", StringComparison.Ordinal) || line.Contains("unhandled exception", StringComparison.Ordinal));
        // The sale's reads are no lookups: a new purchase, and a retry whose answer is read back from the database. (That
        // they keep the rest of a bounded pool is ShardLedgerTests' PostgreSQL case; SQLite's pool has no bound.)
        Assert.Equal(HttpStatusCode.Created, (await host.Client.OrderAsync("busy", 2, key: "busy-2")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await host.Client.OrderAsync("busy", 1, key: "busy-1")).StatusCode);

        crowd.Release();
        Assert.All(await Task.WhenAll(lookups), Assert.True);
        Assert.Equal(HttpStatusCode.OK, (await host.Client.GetAsync(page)).StatusCode);
        Assert.Equal(3, await host.Client.SoldAsync("busy"));
    }
}
