using System.Data.Common;
using OrleansTickets.Events;
using OrleansTickets.Export;
using OrleansTickets.Storage;
using OrleansTickets.Tests.Infrastructure;

namespace OrleansTickets.Tests.Storage;

/// <summary>
/// Reads: a shard's own transfers and the export's pages by index, an export place the database cannot continue from
/// refused, the save marks an older database gets, and lookups kept to their share of the pool.
/// </summary>
public sealed partial class ShardLedgerTests
{
    [Theory, InlineData(Engines.Sqlite), PostgresRow]
    public async Task A_shard_reads_its_own_transfers_and_refusals_by_index_not_by_scanning_every_shard_s(string engine)
    {
        await using var context = await LedgerContext.CreateAsync(engine, postgres);
        await context.Ledger(new ShardAddress("e", "ga", 0)).ClaimAsync(Block);
        await using var connection = await OpenWithoutScansAsync(context, engine);
        // What a shard reads when it loads, as the service sends it: a change to a query is planned here too.
        var loads = new (string Index, string Query)[]
        {
            ("transfers_out_donor", ShardSql.ReadUndelivered), ("transfers_out_donor", ShardSql.ReadSettled),
            ("transfers_in_receiver", ShardSql.ReadTakenIn), ("refused_orders_shard", ShardSql.ReadRefused),
        };
        foreach (var (index, query) in loads)
        {
            Assert.Contains(index, await PlanAsync(connection, engine, query, ("@shard_key", "e/ga/0")));
        }
    }

    [Theory, InlineData(Engines.Sqlite), PostgresRow]
    public async Task An_export_page_reads_its_event_s_orders_by_index_not_past_every_other_event_s(string engine)
    {
        await using var context = await LedgerContext.CreateAsync(engine, postgres);
        await context.Ledger(new ShardAddress("e", "ga", 0)).ClaimAsync(Block);
        await using var connection = await OpenWithoutScansAsync(context, engine);
        // The primary key (order_key) alone would give key order, filtering every other event's orders out one by one,
        // and not save order at all: the plan must seek the event's range of the save-order index instead.
        var dialect = engine == Engines.Postgres ? SqlDialect.PostgreSql : SqlDialect.Sqlite;
        var plan = await PlanAsync(connection, engine, ShardSql.For(dialect).ReadOrderPage,
            ("@event_id", "e"), ("@after_mark", 0L), ("@after_key", ""), ("@horizon", long.MaxValue), ("@limit", 100));
        Assert.Contains("orders_saved", plan);
        // And it starts the range at the cursor, rather than reading the event's whole range and filtering it.
        Assert.Contains(engine == Engines.Postgres ? "ROW(save_mark, order_key) > ROW(" : "(save_mark,order_key)>(", plan);
        // The horizon's read (the event's last mark, the last order before the cursor) seeks the same index, not every
        // order of the event.
        var horizon = await PlanAsync(connection, engine, ShardSql.For(dialect).ReadSaveHorizon,
            ("@event_id", "e"), ("@after_mark", 0L), ("@after_key", ""));
        Assert.Contains("orders_saved", horizon);
        Assert.DoesNotContain(engine == Engines.Postgres ? "Seq Scan" : "SCAN orders", horizon);
        // The last order before the cursor: a seek back from the cursor's place, not a walk back over the event's range.
        Assert.Contains(engine == Engines.Postgres ? "ROW(save_mark, order_key) <= ROW(" : "(save_mark,order_key)<(", horizon);
    }

    [PostgresFact]
    public async Task An_export_read_leaves_an_order_committed_behind_a_running_transaction_for_the_next_read_not_past_it()
    {
        // PostgreSQL's transactions commit in any order: a slow writer (another silo's group, a commit waiting on its
        // standby) can commit an order below the marks of orders already read. The read stops below the oldest
        // transaction still running, so the place it hands on comes before that order.
        await using var context = await LedgerContext.CreateAsync(Engines.Postgres, postgres);
        var shard = new ShardAddress("e", "ga", 0);
        var ledger = context.Ledger(shard);
        await ledger.ClaimAsync(Block);
        await SellOneEachAsync(ledger, shard, 0, "e.ga.0.first");
        await using var slow = await context.Database(0).OpenAsync();
        await using var running = await slow.BeginTransactionAsync();
        await using (var insert = slow.CreateCommand())
        {
            insert.Transaction = running;
            insert.CommandText =
                "INSERT INTO orders (order_key, order_id, shard_key, event_id, ticket_type_id, quantity, first_serial, unit_price_cents, " +
                "currency, buyer_name, buyer_email, created_at_ms) VALUES ('slow', 'e.ga.0.slow', 'e/ga/0', 'e', 'ga', 1, 109, 1250, 'EUR', 'Ada', 'ada@example.com', 0)";
            await insert.ExecuteNonQueryAsync();
        }
        await SellOneEachAsync(ledger, shard, 1, "e.ga.0.later");

        var (first, firstFull, reached) = (await ReadExportAsync(context, SavePosition.Start))!;
        await running.CommitAsync();
        var (second, secondFull, _) = (await ReadExportAsync(context, reached))!;

        Assert.Equal(["e.ga.0.first"], first.Select(o => o.OrderId));
        Assert.Equal(["e.ga.0.slow", "e.ga.0.later"], second.Select(o => o.OrderId));
        Assert.False(firstFull || secondFull);
    }

    [Theory, InlineData(Engines.Sqlite), PostgresRow]
    public async Task An_export_read_from_a_place_past_the_database_s_horizon_is_refused_not_read_on(string engine)
    {
        // No read hands out a place past its horizon, and horizons never go back; a database whose marks went back (a
        // backup put back, a move to another server) would save new orders behind such a place, passed over for good.
        await using var context = await LedgerContext.CreateAsync(engine, postgres);
        var shard = new ShardAddress("e", "ga", 0);
        var ledger = context.Ledger(shard);
        await ledger.ClaimAsync(Block);
        await SellOneEachAsync(ledger, shard, 0, "e.ga.0.first");
        var read = (await ReadExportAsync(context, SavePosition.Start))!;

        Assert.NotNull(await ReadExportAsync(context, read.Reached));
        Assert.Null(await ReadExportAsync(context, read.Reached with { Mark = read.Reached.Mark + 1_000_000 }));
    }

    [Theory, InlineData(Engines.Sqlite), PostgresRow]
    public async Task An_export_read_from_a_place_whose_last_order_is_gone_is_refused_even_when_new_orders_took_its_mark(string engine)
    {
        // A backup put back: the database forgot o2 and o3, and new orders took their marks (SQLite numbers an event's
        // orders on from its last, so n4 and n5 get o2's and o3's, behind the place a read handed out, and n6 the place's
        // own). Read on from the place, n4 and n5 would be passed over for good. (On PostgreSQL marks are the server's
        // transaction ids and new ones lie past the place; the missing o3 gives the restore away all the same.)
        await using var context = await LedgerContext.CreateAsync(engine, postgres);
        var shard = new ShardAddress("e", "ga", 0);
        var ledger = context.Ledger(shard);
        await ledger.ClaimAsync(Block);
        await SellOneEachAsync(ledger, shard, 0, "e.ga.0.o1", "e.ga.0.o2", "e.ga.0.o3");
        var read = (await ReadExportAsync(context, SavePosition.Start))!;
        Assert.Equal((3, SavePosition.WitnessOf("o3")), (read.Orders.Count, read.Reached.LastGiven));
        await context.ExecuteAsync("DELETE FROM orders WHERE order_key IN ('o2', 'o3')");
        await SellOneEachAsync(ledger, shard, 3, "e.ga.0.n4", "e.ga.0.n5", "e.ga.0.n6");

        Assert.Null(await ReadExportAsync(context, read.Reached));
        // From the start, every order there is.
        var again = (await ReadExportAsync(context, SavePosition.Start))!;
        Assert.Equal(["e.ga.0.n4", "e.ga.0.n5", "e.ga.0.n6", "e.ga.0.o1"], again.Orders.Select(o => o.OrderId).Order());
    }

    [Theory, InlineData(Engines.Sqlite), PostgresRow]
    public async Task A_shard_database_from_before_orders_had_save_marks_gets_them_and_exports_its_orders_before_new_ones(string engine)
    {
        // The orders table as builds before the eighty-fourth session made it (no save_mark), with orders in it: the
        // service adds the marks and reads those orders first, then the orders it commits.
        await using var context = await LedgerContext.CreateAsync(engine, postgres);
        var shard = new ShardAddress("e", "ga", 0);
        await context.Ledger(shard).ClaimAsync(Block);
        await context.ExecuteAsync("DROP INDEX orders_saved");
        await context.ExecuteAsync("ALTER TABLE orders DROP COLUMN save_mark");
        await context.ExecuteAsync("CREATE INDEX orders_event ON orders (event_id, order_key)");
        foreach (var key in new[] { "zz-old", "aa-old" })
        {
            await context.ExecuteAsync(
                "INSERT INTO orders (order_key, order_id, shard_key, event_id, ticket_type_id, quantity, first_serial, unit_price_cents, " +
                $"currency, buyer_name, buyer_email, created_at_ms) VALUES ('{key}', 'e.ga.0.{key}', 'e/ga/0', 'e', 'ga', 1, 101, 1250, 'EUR', 'Ada', 'ada@example.com', 0)");
        }

        await using var upgraded = await LedgerContext.CreateAsync(engine, postgres, storage: context.Storage);
        var ledger = upgraded.Ledger(shard);
        await ledger.ClaimAsync(Block);
        var (old, _, reached) = (await upgraded.Database(0).ReadOrderPageAsync("e", SavePosition.Start, 100, 10_000, firstOrderAlways: true))!;
        Assert.Equal(CommitOutcome.Committed, await ledger.CommitAsync(Batch(ledger, shard, 0, Order(shard, "e.ga.0.new", 102))));
        var (added, _, _) = (await upgraded.Database(0).ReadOrderPageAsync("e", reached, 100, 10_000, firstOrderAlways: true))!;

        Assert.Equal(["e.ga.0.aa-old", "e.ga.0.zz-old"], old.Select(o => o.OrderId).Order());
        Assert.Equal(["e.ga.0.new"], added.Select(o => o.OrderId));
        Assert.Equal(0, await upgraded.CountAsync(engine == Engines.Sqlite
            ? "SELECT COUNT(*) FROM sqlite_master WHERE name = 'orders_event'"
            : "SELECT COUNT(*) FROM pg_class WHERE relname = 'orders_event'"));
    }

    /// <summary>
    /// Shard database 0, where on PostgreSQL the planner may not scan a table: its tables are nearly empty, where a scan
    /// is cheapest, so a plan then shows whether an index exists.
    /// </summary>
    private static async Task<DbConnection> OpenWithoutScansAsync(LedgerContext context, string engine)
    {
        var connection = await context.Database(0).OpenAsync();
        if (engine == Engines.Postgres)
        {
            await using var noScans = connection.CreateCommand();
            // Shard connections skip the session reset, so this stays on the pooled connection: the tests using it read
            // nothing else through this context's pool, and the context (its databases) is gone after them.
            noScans.CommandText = "SET enable_seqscan = off";
            await noScans.ExecuteNonQueryAsync();
        }
        return connection;
    }

    /// <summary>The engine's plan for <paramref name="query"/>, as text.</summary>
    private static async Task<string> PlanAsync(DbConnection connection, string engine, string query, params (string Name, object Value)[] parameters)
    {
        await using var explain = connection.CreateCommand();
        explain.CommandText = (engine == Engines.Postgres ? "EXPLAIN " : "EXPLAIN QUERY PLAN ") + query;
        foreach (var (name, value) in parameters)
        {
            var parameter = explain.CreateParameter();
            parameter.ParameterName = name;
            parameter.Value = value;
            explain.Parameters.Add(parameter);
        }
        var plan = new System.Text.StringBuilder();
        await using var reader = await explain.ExecuteReaderAsync();
        while (await reader.ReadAsync()) plan.AppendLine(Convert.ToString(reader.GetValue(reader.FieldCount - 1)));
        return plan.ToString();
    }

    [Theory, InlineData(Engines.Sqlite), PostgresRow]
    public async Task Lookups_take_at_most_half_of_a_database_s_pool_and_leave_the_sale_s_reads_the_rest(string engine)
    {
        // Buyers refreshing their order pages during a sale: five lookups at once on a pool of four connections.
        var storage = Engines.Storage(engine, postgres);
        storage.Settings["Storage:MaxConnectionsPerDatabase"] = "4";
        await using var context = LedgerContext.Create(storage);
        var shard = new ShardAddress("e", "ga", 0);
        var ledger = (await context.ClaimEachAsync(shard))[shard];
        Assert.Equal(CommitOutcome.Committed, await ledger.CommitAsync(Batch(ledger, shard, 0, Order(shard, "kept", 101))));
        var database = context.Database(0);
        Assert.Equal(2, database.LookupConnections);

        var crowd = new HeldLookups();
        var lookups = Enumerable.Range(0, 5).Select(_ => crowd.Start(database)).ToList();
        await crowd.UntilInsideAsync(2);

        // The sale's reads find the connections the lookups may not take. Without the limit, on PostgreSQL the crowd held
        // the whole pool, and these waited for Npgsql's pool timeout and failed.
        Assert.Null(await ledger.ReadKeyAsync("absent"));
        Assert.Equal("kept", (await ledger.ReadOrderAsync("kept"))?.OrderId);
        // A lookup past the limit waits its longest, then hears that the database is busy.
        await Assert.ThrowsAsync<ShardDatabaseBusyException>(() => ledger.LookUpOrderAsync("kept"));

        crowd.Release();
        var outcomes = await Task.WhenAll(lookups.Select(async lookup =>
        {
            try
            {
                return await lookup ? "read" : "none";
            }
            catch (ShardDatabaseBusyException)
            {
                return "busy";
            }
        }));
        // The three that waited timed out; one whose time-out was still being handled when the two let go may have read.
        Assert.Equal(5, outcomes.Count(o => o is "read" or "busy"));
        // (The lookup above, which waited its longest, is what shows that waiting ends: a limiter whose waits never time
        // out holds it for good. Here the three timed out too, but a time-out is handled by a continuation of its own, and
        // on a starved thread pool any of them may still be queued when the two let go, and read.)
        Assert.InRange(outcomes.Count(o => o == "read"), 2, 5);
        Assert.Equal(2, crowd.Most);
        Assert.Equal("kept", (await ledger.LookUpOrderAsync("kept"))?.OrderId);
    }

    [Fact]
    public async Task A_lookup_past_the_waiting_limit_is_refused_at_once()
    {
        var storage = TestStorage.Sqlite();
        // Waiting ones that gave up on a slow machine would free their places: none does here.
        storage.Settings["Storage:LookupWaitMilliseconds"] = "60000";
        await using var context = LedgerContext.Create(storage);
        var shard = new ShardAddress("e", "ga", 0);
        var ledger = (await context.ClaimEachAsync(shard))[shard];
        var database = context.Database(0);
        // The lookup connections held, and as many lookups waiting behind them as the limit allows.
        var crowd = new HeldLookups();
        var lookups = Enumerable.Range(0, database.MaxLookupsWaiting).Select(_ => crowd.Start(database)).ToList();
        await crowd.UntilInsideAsync(database.LookupConnections);

        // Refused before any of the waiting ones has waited its longest: it joins no queue.
        var refused = await Assert.ThrowsAsync<ShardDatabaseBusyException>(() => ledger.LookUpOrderAsync("any"));
        Assert.Contains("reading or waiting already", refused.Message);
        Assert.DoesNotContain(lookups, lookup => lookup.IsCompleted);

        crowd.Release();
        Assert.All(await Task.WhenAll(lookups), Assert.True);
        Assert.Null(await ledger.LookUpOrderAsync("any"));
    }
}
