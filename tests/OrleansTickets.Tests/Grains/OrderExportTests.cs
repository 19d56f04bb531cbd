using OrleansTickets.Events;
using OrleansTickets.Export;
using OrleansTickets.Orders;
using OrleansTickets.Tests.Infrastructure;

namespace OrleansTickets.Tests.Grains;

/// <summary>
/// The back office reads an event's orders page by page, during the sale or after it: every acknowledged order exactly
/// once, as it was acknowledged, and nothing of another event that shares the databases.
/// </summary>
[Collection(PostgresSalesCollection.Name)]
public sealed class OrderExportTests(PostgresFixture postgres, ITestOutputHelper output) : EngineClusterTests(postgres, output)
{
    [Theory, InlineData(Engines.Sqlite), PostgresRow]
    public async Task Walking_the_pages_gives_every_acknowledged_order_once_as_it_was_acknowledged(string engine)
    {
        await StartAsync(engine);
        // Seven shards over the four test databases, and a second event whose shards share them.
        await Cluster.CreateEventAsync("fest", TicketingCluster.Type("ga", capacity: 40, shards: 5, maxPerOrder: 4),
            TicketingCluster.Type("vip", capacity: 12, shards: 2, maxPerOrder: 4));
        await Cluster.CreateEventAsync("other", TicketingCluster.Type("ga", capacity: 10, shards: 2));
        var acknowledged = new List<OrderDetails>();
        acknowledged.AddRange(await SellOutAsync("fest", "ga", 40));
        acknowledged.AddRange(await SellOutAsync("fest", "vip", 12));
        await SellOutAsync("other", "ga", 10);

        var exporter = Cluster.Client.GetGrain<IOrderExportGrain>("fest");
        var exported = new List<OrderDetails>();
        string? cursor = null;
        long? lastCount = null;
        string? resume = null;
        var pages = 0;
        while (true)
        {
            var page = await exporter.ReadPage(cursor, limit: 7);
            Assert.NotNull(page);
            Assert.True(page.Orders.Length <= 7);
            exported.AddRange(page.Orders);
            pages++;
            if (page.Next is null)
            {
                lastCount = page.TicketsSold;
                resume = page.Resume;
                break;
            }
            Assert.Null(page.TicketsSold);
            Assert.Null(page.Resume);
            Assert.Equal(7, page.Orders.Length);
            // A page asked for again (a client that lost the answer) is the same page.
            Assert.Equal(page.Orders.Select(o => o.OrderId), (await exporter.ReadPage(cursor, limit: 7))!.Orders.Select(o => o.OrderId));
            cursor = page.Next;
        }

        exported.AddRange(await ResumeUntilWholeAsync(exporter, resume!, exported.Sum(o => (long)o.Quantity), lastCount));
        Assert.True(pages >= acknowledged.Count / 7, $"{exported.Count} orders in only {pages} pages.");
        Assert.Equal(acknowledged.Count, exported.Count);
        var byId = exported.ToDictionary(o => o.OrderId);
        foreach (var order in acknowledged)
        {
            var found = byId[order.OrderId];
            Assert.Equal(order with { Tickets = [] }, found with { Tickets = [] });
            Assert.Equal(order.Tickets.Select(t => (t.Serial, t.Code)), found.Tickets.Select(t => (t.Serial, t.Code)));
        }
        Assert.Equal(52, exported.Sum(o => o.Tickets.Length));
        // The last page's count agrees with the walk's tickets: after the sale, the first walk is whole.
        Assert.Equal(52L, lastCount);
        // Nothing was saved since: resumed, the walk's one page is empty and last.
        var resumed = (await exporter.ReadPage(resume ?? throw new Xunit.Sdk.XunitException("The last page gave no cursor to resume from."), limit: 7))!;
        Assert.Equal((0, null, 52L), (resumed.Orders.Length, resumed.Next, resumed.TicketsSold));
        Assert.Null(await Cluster.Client.GetGrain<IOrderExportGrain>("no-such-event").ReadPage(null, limit: 7));
    }

    [Theory, InlineData(Engines.Sqlite), PostgresRow]
    public async Task A_page_of_large_orders_ends_at_the_most_tickets_a_page_holds_and_the_next_page_goes_on_from_it(string engine)
    {
        // A thousand orders of a hundred tickets made one page of tens of megabytes, built whole in the grain.
        await StartAsync(engine);
        await Cluster.CreateEventAsync("big-orders", TicketingCluster.Type("ga", capacity: 10_100, shards: 4, maxPerOrder: 100));
        var acknowledged = new List<string>();
        for (var i = 0; i < 101; i++)
        {
            var result = await Cluster.BuyAsync("big-orders", "ga", 100, key: $"big-{i}");
            Assert.Equal(PurchaseStatus.Created, result.Status);
            acknowledged.Add(result.Order!.OrderId);
        }

        var exporter = Cluster.Client.GetGrain<IOrderExportGrain>("big-orders");
        var first = (await exporter.ReadPage(null, IOrderExportGrain.MaxPageSize))!;
        var second = (await exporter.ReadPage(first.Next, IOrderExportGrain.MaxPageSize))!;

        Assert.Equal((100, IOrderExportGrain.MaxPageTickets), (first.Orders.Length, first.Orders.Sum(o => o.Tickets.Length)));
        Assert.NotNull(first.Next);
        Assert.Single(second.Orders);
        Assert.Null(second.Next);
        Assert.Equal(10_100L, second.TicketsSold);
        Assert.Equal(acknowledged.Order(), first.Orders.Concat(second.Orders).Select(o => o.OrderId).Order());
    }

    [Theory, InlineData(Engines.Sqlite), PostgresRow]
    public async Task A_page_of_more_orders_than_one_batch_of_ticket_reads_holds_gives_each_order_its_own_tickets(string engine)
    {
        // A page's tickets are read in batches of 500 runs (one round trip each on PostgreSQL): 700 orders on one
        // database take two, and each result set must land on its own order.
        await StartAsync(engine);
        await Cluster.CreateEventAsync("many", TicketingCluster.Type("ga", capacity: 1_400, shards: 1, maxPerOrder: 2));
        var acknowledged = new List<OrderDetails>();
        for (var wave = 0; wave < 14; wave++)
        {
            var results = await Task.WhenAll(Enumerable.Range(wave * 50, 50)
                .Select(i => Cluster.BuyAsync("many", "ga", quantity: 1 + i % 2, key: $"many-{i}")));
            Assert.All(results, result => Assert.Equal(PurchaseStatus.Created, result.Status));
            acknowledged.AddRange(results.Select(result => result.Order!));
        }

        var page = (await Cluster.Client.GetGrain<IOrderExportGrain>("many").ReadPage(null, IOrderExportGrain.MaxPageSize))!;

        Assert.Null(page.Next);
        Assert.Equal(700, page.Orders.Length);
        var exported = page.Orders.ToDictionary(order => order.OrderId);
        Assert.All(acknowledged, order => Assert.Equal(
            order.Tickets.Select(t => (t.Serial, t.Code)), exported[order.OrderId].Tickets.Select(t => (t.Serial, t.Code))));
    }

    [Fact]
    public async Task A_page_whose_tickets_run_out_at_the_end_of_a_database_gives_a_next_that_reads_on_from_there()
    {
        // The first database fills the page exactly, and not even the next database's first order fits: the next page
        // must go on after the last order given, passing over nothing of the next database.
        await StartAsync(Engines.Sqlite);
        await Cluster.CreateEventAsync("exact", TicketingCluster.Type("a", capacity: 10_000, shards: 1, maxPerOrder: 100),
            TicketingCluster.Type("b", capacity: 100, shards: 1, maxPerOrder: 100));
        var catalog = Cluster.Client.GetEventGrain("exact");
        var (a, b) = ((await catalog.GetPlacement("a", 0))!.DatabaseOrdinal, (await catalog.GetPlacement("b", 0))!.DatabaseOrdinal);
        Assert.True(a < b, $"Type a's shard is on database {a} and b's on {b}: the test needs a's first.");
        for (var i = 0; i < 100; i++) Assert.Equal(PurchaseStatus.Created, (await Cluster.BuyAsync("exact", "a", 100, key: $"a-{i}")).Status);
        Assert.Equal(PurchaseStatus.Created, (await Cluster.BuyAsync("exact", "b", 100, key: "b-0")).Status);

        var exporter = Cluster.Client.GetGrain<IOrderExportGrain>("exact");
        var first = (await exporter.ReadPage(null, IOrderExportGrain.MaxPageSize))!;
        var second = (await exporter.ReadPage(first.Next, IOrderExportGrain.MaxPageSize))!;

        Assert.Equal(100, first.Orders.Length);
        Assert.All(first.Orders, order => Assert.Equal("a", order.TicketTypeId));
        Assert.NotNull(first.Next);
        Assert.Equal("b", Assert.Single(second.Orders).TicketTypeId);
        Assert.Equal(10_100L, second.TicketsSold);
    }

    [Fact]
    public async Task A_page_larger_than_the_most_one_page_may_ask_for_is_refused_before_anything_is_read()
    {
        // The page is built in an array of the asked size: a caller inside the cluster asking for int.MaxValue orders
        // (the API refuses more than 1,000 itself) would have taken the silo's memory.
        await StartAsync(Engines.Sqlite);
        await Cluster.CreateEventAsync("huge", TicketingCluster.Type("ga", capacity: 4, shards: 1));
        var exporter = Cluster.Client.GetGrain<IOrderExportGrain>("huge");
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => exporter.ReadPage(null, int.MaxValue));
        Assert.NotNull(await exporter.ReadPage(null, IOrderExportGrain.MaxPageSize));
    }

    [Theory, InlineData(Engines.Sqlite), PostgresRow]
    public async Task An_order_committed_on_a_database_a_walk_has_left_is_in_the_walk_s_later_pages(string engine)
    {
        // Databases are read in turn: a walk that read each once and stopped passed over every order committed on one it
        // had left. Keys follow mint time, not commit time, so a cursor by key passed over some even on the database it
        // was reading. The walk reads save order, and its pages go round every database until one reads them all
        // without filling up.
        await StartAsync(engine);
        await Cluster.CreateEventAsync("walked", TicketingCluster.Type("ga", capacity: 60, shards: 4, maxPerOrder: 4));
        var catalog = Cluster.Client.GetEventGrain("walked");
        var databases = (await catalog.GetShardDatabases()).Distinct().Order().ToList();
        Assert.True(databases.Count >= 2, "The test needs the event's shards on two databases at least.");
        // Orders on the last database, so a walk can get past every other database.
        await BuyUntilOnAsync(catalog, ordinal => ordinal == databases[^1]);

        var exporter = Cluster.Client.GetGrain<IOrderExportGrain>("walked");
        var walked = new List<OrderDetails>();
        string? cursor = null;
        // A page at a time, until one gives an order of the last database: the walk has read every other one by then.
        while (walked.Count == 0 || await DatabaseOfAsync(catalog, walked[^1]) != databases[^1])
        {
            var page = (await exporter.ReadPage(cursor, limit: 1))!;
            Assert.Null(page.TicketsSold);
            walked.AddRange(page.Orders);
            cursor = page.Next ?? throw new Xunit.Sdk.XunitException("The walk ended before it reached the last database.");
        }

        var behind = await BuyUntilOnAsync(catalog, ordinal => ordinal < databases[^1]);
        long? lastCount = null;
        string? resume = null;
        while (cursor is not null)
        {
            var page = (await exporter.ReadPage(cursor, limit: 1))!;
            walked.AddRange(page.Orders);
            cursor = page.Next;
            (lastCount, resume) = (page.TicketsSold, page.Resume);
        }
        walked.AddRange(await ResumeUntilWholeAsync(exporter, resume!, walked.Sum(o => (long)o.Quantity), lastCount));

        Assert.Contains(walked, o => o.OrderId == behind.OrderId);
        Assert.Equal(walked.Count, walked.Select(o => o.OrderId).Distinct().Count());
        Assert.Equal(walked.Sum(o => (long)o.Quantity), lastCount);
        Assert.Equal(await SoldAsync("walked"), lastCount);
    }

    [Theory, InlineData(Engines.Sqlite), PostgresRow]
    public async Task A_walk_resumed_later_gives_the_orders_saved_since_and_only_those(string engine)
    {
        // The back office follows a sale: it walks, and later resumes where the walk ended, as often as it likes.
        await StartAsync(engine);
        await Cluster.CreateEventAsync("walked", TicketingCluster.Type("ga", capacity: 60, shards: 4, maxPerOrder: 4));
        var before = new List<string>();
        for (var i = 0; i < 6; i++) before.Add((await BuyAsync()).OrderId);
        var exporter = Cluster.Client.GetGrain<IOrderExportGrain>("walked");
        var (first, firstCount, resume) = await WalkAsync(exporter, limit: 4, givenBefore: 0);

        var since = new List<OrderDetails>();
        for (var i = 0; i < 5; i++) since.Add(await BuyAsync());
        // A resume cursor handed out while short stops where that walk stopped, so the rest comes with the later orders.
        var given = first.Sum(o => (long)o.Quantity);
        var (later, laterCount, resumeAgain) = await WalkAsync(exporter, limit: 4, after: resume, givenBefore: given);
        var (repeated, _, _) = await WalkAsync(exporter, limit: 4, after: resume, givenBefore: given);
        var (none, noneCount, _) = await WalkAsync(exporter, limit: 4, after: resumeAgain, givenBefore: given + later.Sum(o => (long)o.Quantity));

        Assert.Equal(before.Order(), first.Select(o => o.OrderId).Order());
        Assert.Equal(since.Select(o => o.OrderId).Order(), later.Select(o => o.OrderId).Order());
        Assert.Equal(firstCount + since.Sum(o => (long)o.Quantity), laterCount);
        // A cursor is a place, not a ticket used once: asked again, it gives the same orders.
        Assert.Equal(later.Select(o => o.OrderId), repeated.Select(o => o.OrderId));
        Assert.Empty(none);
        Assert.Equal(laterCount, noneCount);
        Assert.Equal(await SoldAsync("walked"), noneCount);
    }

    [Theory, InlineData(Engines.Sqlite), PostgresRow]
    public async Task A_back_office_following_a_sale_with_its_cursors_ends_with_every_order_once(string engine)
    {
        // Buyers on eight shards at once while the back office walks and resumes, small pages, the whole time: every
        // order committed on any database at any point of a walk must reach it exactly once.
        await StartAsync(engine);
        await Cluster.CreateEventAsync("followed", TicketingCluster.Type("ga", capacity: 600, shards: 8, maxPerOrder: 3));
        var acknowledged = new System.Collections.Concurrent.ConcurrentBag<OrderDetails>();
        var buyers = Enumerable.Range(0, 12).Select(buyer => Task.Run(async () =>
        {
            for (var i = 0; ; i++)
            {
                var result = await Cluster.BuyAsync("followed", "ga", 1 + (buyer + i) % 3);
                if (result.Status == PurchaseStatus.Created) acknowledged.Add(result.Order!);
                else if (result.Status == PurchaseStatus.SoldOut) return;
            }
        })).ToList();
        var exporter = Cluster.Client.GetGrain<IOrderExportGrain>("followed");
        var followed = new List<OrderDetails>();
        string? cursor = null;
        var pagesDuringSale = 0;
        for (var pages = 0; ; pages++)
        {
            Assert.True(pages < 20_000, "The walks never caught up with the sale.");
            // Whether the sale was over before this page began: then a last page means every order has been given.
            var saleOver = buyers.All(buyer => buyer.IsCompleted);
            var page = (await exporter.ReadPage(cursor, limit: 5))!;
            followed.AddRange(page.Orders);
            if (!saleOver) pagesDuringSale++;
            if (page.Next is not null)
            {
                cursor = page.Next;
                continue;
            }
            cursor = page.Resume;
            if (saleOver && page.TicketsSold == followed.Sum(o => (long)o.Quantity)) break;
        }
        await Task.WhenAll(buyers);

        Assert.True(pagesDuringSale >= 10, $"Only {pagesDuringSale} pages were read while the sale ran.");
        Assert.Equal(followed.Count, followed.Select(o => o.OrderId).Distinct().Count());
        Assert.Equal(acknowledged.Select(o => o.OrderId).Order(), followed.Select(o => o.OrderId).Order());
        Assert.Equal(600, followed.Sum(o => o.Tickets.Length));
    }

    [Fact]
    public async Task A_cursor_whose_database_forgot_orders_it_gave_is_refused_and_a_new_walk_reads_what_is_there()
    {
        // A backup put back under a running service: the database forgets its last orders, and new ones take their marks
        // again, up to and past a cursor handed out before. Read on from its mark, it would pass over them.
        await StartAsync(Engines.Sqlite);
        await Cluster.CreateEventAsync("walked", TicketingCluster.Type("ga", capacity: 60, shards: 1, maxPerOrder: 4));
        for (var i = 0; i < 3; i++) await BuyAsync();
        var exporter = Cluster.Client.GetGrain<IOrderExportGrain>("walked");
        var (_, _, resume) = await WalkAsync(exporter, limit: 10);
        var ordinal = (await Cluster.Client.GetEventGrain("walked").GetPlacement("ga", 0))!.DatabaseOrdinal;
        var file = Path.Combine(Cluster.Storage.Folder!, "shards", $"shard_{ordinal:D4}.db");
        await using (var database = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={file};Pooling=False"))
        {
            await database.OpenAsync();
            await using var forget = database.CreateCommand();
            forget.CommandText = "DELETE FROM orders WHERE event_id = 'walked' AND save_mark > 1";
            Assert.Equal(2, await forget.ExecuteNonQueryAsync());
        }
        for (var i = 0; i < 3; i++) await BuyAsync();

        var refused = (await exporter.ReadPage(resume, limit: 10))!;
        var (again, _, _) = await WalkAsync(exporter, limit: 10);

        Assert.True(refused.CursorRefused && refused.DatabaseWentBack);
        Assert.Equal(4, again.Count);
    }

    [PostgresFact]
    public async Task On_postgres_orders_restored_onto_a_server_behind_their_marks_are_in_the_walk_once_a_silo_opens_the_database()
    {
        // A dump restored onto another server keeps each order's save mark, the old server's transaction id. Played on one
        // server: one event's marks are pushed far past every id it has given out, as a server that had run much longer
        // would have left them; the other event's, on the same database, are left as they were.
        var storage = Engines.Storage(Engines.Postgres, Postgres, maxShardDatabases: 1);
        var service = "moved-" + Guid.NewGuid().ToString("N");
        string database;
        Dictionary<string, long> stayedBefore;
        await using (var before = await TicketingCluster.StartAsync(storage, serviceId: service))
        {
            foreach (var eventId in new[] { "moved", "stayed" })
            {
                await before.CreateEventAsync(eventId, TicketingCluster.Type("ga", capacity: 60, shards: 1, maxPerOrder: 4));
                for (var i = 0; i < 3; i++) Assert.Equal(PurchaseStatus.Created, (await before.BuyAsync(eventId, "ga", 2)).Status);
            }
            database = before.PostgresShardDatabase((await before.Client.GetEventGrain("moved").GetPlacement("ga", 0))!.DatabaseOrdinal);
            stayedBefore = await MarksAsync(database, "stayed");
        }
        await using (var connection = new Npgsql.NpgsqlConnection(Postgres.Server.ConnectionString(database)))
        {
            await connection.OpenAsync();
            await using var move = connection.CreateCommand();
            move.CommandText = "UPDATE orders SET save_mark = save_mark + 1000000000 WHERE event_id = 'moved'";
            Assert.Equal(3, await move.ExecuteNonQueryAsync());
        }

        await using var after = await TicketingCluster.StartAsync(storage, serviceId: service);
        Assert.Equal(PurchaseStatus.Created, (await after.BuyAsync("moved", "ga", 2)).Status);
        var (orders, sold, _) = await WalkAsync(after.Client.GetGrain<IOrderExportGrain>("moved"), limit: 10);

        // Before, the three restored orders stayed out of the walk (their marks past the server's horizon): 1 order for 8 tickets.
        Assert.Equal(4, orders.Count);
        Assert.Equal(8, sold);
        Assert.Equal(stayedBefore, await MarksAsync(database, "stayed"));
        var moved = await MarksAsync(database, "moved");
        Assert.All(moved.Values, mark => Assert.True(mark < 1_000_000_000, $"mark {mark} was kept"));
    }

    /// <summary>Each order's save mark in PostgreSQL shard database <paramref name="database"/>, by order key.</summary>
    private async Task<Dictionary<string, long>> MarksAsync(string database, string eventId)
    {
        await using var connection = new Npgsql.NpgsqlConnection(Postgres.Server.ConnectionString(database));
        await connection.OpenAsync();
        await using var read = connection.CreateCommand();
        read.CommandText = "SELECT order_key, save_mark FROM orders WHERE event_id = @event";
        read.Parameters.AddWithValue("event", eventId);
        var marks = new Dictionary<string, long>();
        await using var rows = await read.ExecuteReaderAsync();
        while (await rows.ReadAsync()) marks[rows.GetString(0)] = rows.GetInt64(1);
        return marks;
    }

    private async Task<OrderDetails> BuyAsync()
    {
        var result = await Cluster.BuyAsync("walked", "ga", 2);
        Assert.Equal(PurchaseStatus.Created, result.Status);
        return result.Order!;
    }

    private static async Task<int> DatabaseOfAsync(ITicketEventGrain catalog, OrderDetails order)
    {
        Assert.True(OrderId.TryGetShard(order.OrderId, out var shard));
        return (await catalog.GetPlacement(shard.TicketTypeId, shard.Index))!.DatabaseOrdinal;
    }

    /// <summary>Buys one ticket at a time until an order lands on a shard whose database passes <paramref name="onDatabase"/>.</summary>
    private async Task<OrderDetails> BuyUntilOnAsync(ITicketEventGrain catalog, Func<int, bool> onDatabase)
    {
        for (var attempt = 0; attempt < 40; attempt++)
        {
            var result = await Cluster.BuyAsync("walked", "ga", 1);
            Assert.Equal(PurchaseStatus.Created, result.Status);
            if (onDatabase(await DatabaseOfAsync(catalog, result.Order!))) return result.Order!;
        }
        throw new Xunit.Sdk.XunitException("No order landed on a shard of the wanted databases in 40 purchases.");
    }

    /// <summary>
    /// A whole walk from <paramref name="after"/> (null: the start): its orders, and its last page's count and resume
    /// cursor. With <paramref name="givenBefore"/> (the tickets earlier walks gave), resumed while its tickets fall short
    /// of the count, as the README tells a back office to: on PostgreSQL a transaction of anything else on the server,
    /// still running when a database was read, holds back orders committed after it began.
    /// </summary>
    private static async Task<(List<OrderDetails> Orders, long? TicketsSold, string Resume)> WalkAsync(
        IOrderExportGrain exporter, int limit, string? after = null, long? givenBefore = null)
    {
        var orders = new List<OrderDetails>();
        var cursor = after;
        for (var resumed = 0; ; )
        {
            var page = (await exporter.ReadPage(cursor, limit))!;
            Assert.False(page.CursorRefused);
            orders.AddRange(page.Orders);
            if (page.Next is not null)
            {
                Assert.Null(page.TicketsSold);
                cursor = page.Next;
                continue;
            }
            var whole = givenBefore is not { } before || before + orders.Sum(o => (long)o.Quantity) >= page.TicketsSold;
            if (whole || ++resumed > 50) return (orders, page.TicketsSold, page.Resume!);
            await Task.Delay(100);
            cursor = page.Resume;
        }
    }

    /// <summary>What resuming from <paramref name="resume"/> gives until the tickets given reach <paramref name="sold"/> (see <see cref="WalkAsync"/>).</summary>
    private static async Task<List<OrderDetails>> ResumeUntilWholeAsync(IOrderExportGrain exporter, string resume, long given, long? sold)
    {
        if (given >= sold) return [];
        await Task.Delay(100);
        return (await WalkAsync(exporter, limit: 100, resume, givenBefore: given)).Orders;
    }

    private async Task<long> SoldAsync(string eventId) => (await Cluster.SalesAsync(eventId)).TicketTypes.Sum(t => t.Sold);

    private async Task<List<OrderDetails>> SellOutAsync(string eventId, string typeId, int capacity)
    {
        var orders = new List<OrderDetails>();
        var tickets = 0;
        for (var i = 0; tickets < capacity; i++)
        {
            var quantity = Math.Min(1 + i % 4, capacity - tickets);
            var key = i % 3 == 0 ? $"{eventId}-{typeId}-{i}" : null;
            var result = await Cluster.BuyAsync(eventId, typeId, quantity, key, buyer: $"Buyer{i}");
            // Nothing sold yet (tickets still moving between shards on a loaded machine): the same request again.
            for (var retry = 0; result.Status == PurchaseStatus.Unavailable && retry < 20; retry++)
            {
                result = await Cluster.BuyAsync(eventId, typeId, quantity, key, buyer: $"Buyer{i}");
            }
            Assert.Equal(PurchaseStatus.Created, result.Status);
            orders.Add(result.Order!);
            tickets += quantity;
        }
        return orders;
    }
}
