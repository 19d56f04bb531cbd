using System.Net;
using Microsoft.Extensions.DependencyInjection;
using OrleansTickets.Export;
using OrleansTickets.Storage;
using OrleansTickets.Tests.Infrastructure;

namespace OrleansTickets.Tests.Http;

/// <summary>
/// A back office that hangs up on a page of the export, or a buyer who leaves an order page: the page's reads stop on
/// the shard database too, instead of running on (or waiting on a lock) for nobody, and holding a lookup place. PostgreSQL
/// only, because it is where a query can be seen waiting and where cancelling one reaches the server.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class PageCancellationTests(PostgresFixture postgres)
{
    [PostgresFact]
    public async Task A_client_that_hangs_up_on_a_page_stops_its_query_on_the_shard_database()
    {
        await using var sale = await StartSaleAsync("hung-up");
        await HangUpOnAPageAsync(sale, sale.Host.Client, "/api/events/hung-up/orders");
    }

    [PostgresFact]
    public async Task A_client_that_hangs_up_on_a_separate_front_end_stops_the_query_on_the_silo()
    {
        // A front end is an Orleans client: the cancellation crosses its gateway connection to the silo reading the page.
        var cluster = new Dictionary<string, string?>
        {
            ["Cluster:Membership"] = "AdoNet",
            ["Cluster:ClusterId"] = "c-" + Guid.NewGuid().ToString("N")[..8],
        };
        await using var sale = await StartSaleAsync("front-hung-up", cluster);
        await using var frontEnd = await ApiHost.StartFrontEndAsync(new Dictionary<string, string?>(sale.Storage.Settings.Concat(cluster)));
        await HangUpOnAPageAsync(sale, frontEnd.Client, "/api/events/front-hung-up/orders");
    }

    [PostgresFact]
    public async Task A_page_read_cancelled_inside_the_cluster_stops_its_query_and_the_next_read_is_whole()
    {
        await using var sale = await StartSaleAsync("called-off");
        using var callOff = new CancellationTokenSource();
        Task<OrderPage?> page;
        await using (await sale.HoldOrdersAsync())
        {
            page = sale.Grains.GetGrain<IOrderExportGrain>("called-off").ReadPage(null, 10, callOff.Token);
            await sale.UntilWaitingReadsAsync(expected: 1, "The page's query never waited on the held orders.");
            await callOff.CancelAsync();

            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => page);
            await sale.UntilWaitingReadsAsync(expected: 0, "The page's query still waits on the database after its caller cancelled it.");
        }

        // Nothing of the cancelled read stays behind: the next page reads the order.
        var again = await sale.Grains.GetGrain<IOrderExportGrain>("called-off").ReadPage(null, 10);
        Assert.Single(again!.Orders);
    }

    [PostgresFact]
    public async Task A_buyer_who_leaves_an_order_page_stops_its_lookup_and_the_next_load_reads_the_order()
    {
        await using var sale = await StartSaleAsync("left-page");
        await HangUpOnAPageAsync(sale, sale.Host.Client, $"/api/orders/{sale.OrderId}");

        var again = await sale.Host.Client.GetAsync($"/api/orders/{sale.OrderId}");
        Assert.Equal(HttpStatusCode.OK, again.StatusCode);
        Assert.Equal(sale.OrderId, (await again.JsonAsync()).GetProperty("orderId").GetString());
    }

    /// <summary>Asks <paramref name="api"/> for <paramref name="path"/> while the orders are held, hangs up, and waits for the query to go.</summary>
    private static async Task HangUpOnAPageAsync(Sale sale, HttpClient api, string path)
    {
        await using var held = await sale.HoldOrdersAsync();
        using var hangUp = new CancellationTokenSource();

        var page = api.GetAsync(path, hangUp.Token);
        await sale.UntilWaitingReadsAsync(expected: 1, "The page's query never waited on the held orders.");
        await hangUp.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => page);
        // The orders are still held: only a cancelled query stops waiting on them now.
        await sale.UntilWaitingReadsAsync(expected: 0, "The page's query still waits on the database after its client hung up.");
    }

    private async Task<Sale> StartSaleAsync(string eventId, IReadOnlyDictionary<string, string?>? settings = null)
    {
        var storage = TestStorage.Postgres(postgres.Server, maxShardDatabases: 1);
        var host = await ApiHost.StartAsync(storage, settings);
        Assert.Equal(HttpStatusCode.Created, (await host.Client.CreateEventAsync(eventId, capacity: 10, shards: 1)).StatusCode);
        var order = await host.Client.OrderAsync(eventId, 2);
        Assert.Equal(HttpStatusCode.Created, order.StatusCode);
        var orderId = (await order.JsonAsync()).GetProperty("orderId").GetString()!;
        var database = host.Services.GetRequiredService<ShardDatabases>().PostgresDatabaseName(0);
        return new Sale(host, storage, postgres.Server.ConnectionString(database), database, orderId);
    }

    /// <summary>A host with one sold order (<c>OrderId</c>) on its one shard database, and ways to watch that database.</summary>
    private sealed record Sale(ApiHost Host, TestStorage Storage, string ConnectionString, string Database, string OrderId) : IAsyncDisposable
    {
        public IGrainFactory Grains => Host.Services.GetRequiredService<IGrainFactory>();

        /// <summary>Takes a lock on the orders table that every read of it waits for, until disposed.</summary>
        public async Task<IAsyncDisposable> HoldOrdersAsync() => await HeldWrites.HoldOrdersTableAsync(ConnectionString);

        /// <summary>Waits until exactly <paramref name="expected"/> queries on the database wait on a lock.</summary>
        public Task UntilWaitingReadsAsync(long expected, string failure) =>
            HeldWrites.UntilLockWaitsAsync(ConnectionString, Database, expected, failure);

        public async ValueTask DisposeAsync()
        {
            await Host.DisposeAsync();
            Storage.Dispose();
        }
    }
}
