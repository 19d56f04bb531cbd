using System.Data.Common;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Npgsql;
using OrleansTickets.Diagnostics;
using OrleansTickets.Events;
using OrleansTickets.Orders;
using OrleansTickets.Storage;
using OrleansTickets.Tests.Infrastructure;

namespace OrleansTickets.Tests.Storage;

/// <summary>Each engine's durable settings and encodings, checked before anything is written, and the writer's own resources.</summary>
public sealed partial class ShardLedgerTests
{
    [Fact]
    public async Task A_sqlite_writer_that_cannot_prepare_its_statements_leaves_no_connection_open_at_each_try()
    {
        // A layout the refusal does not catch (it probes two columns) but the writer's statements do: its orders
        // table has no currency, so every open of the writer fails part way, and every commit or claim tries again.
        using var storage = TestStorage.Sqlite();
        await using var databases = new ShardDatabases(Options.Create(storage.Options), SaleMetrics.Detached(), NullLoggerFactory.Instance);
        await using (var old = await OpenFirstShardDatabaseAsync(Engines.Sqlite, databases, create: true))
        {
            await using var create = old.CreateCommand();
            create.CommandText =
                "CREATE TABLE orders (order_key TEXT NOT NULL PRIMARY KEY, order_id TEXT NOT NULL, shard_key TEXT NOT NULL, " +
                "event_id TEXT NOT NULL, ticket_type_id TEXT NOT NULL, quantity INTEGER NOT NULL, first_serial INTEGER NOT NULL, " +
                "serial_segments TEXT, unit_price_cents INTEGER NOT NULL, buyer_name TEXT NOT NULL, buyer_email TEXT NOT NULL, " +
                "created_at_ms INTEGER NOT NULL)";
            await create.ExecuteNonQueryAsync();
        }
        var file = Path.GetFullPath(new SqliteConnectionStringBuilder(databases.ConnectionStringFor(0)).DataSource);
        var ledger = new ShardLedger(databases.Get(0), new ShardAddress("e", "ga", 0));
        await Assert.ThrowsAnyAsync<Exception>(() => ledger.ClaimAsync(Block));

        // Counted after the first try, which leaves the pool's own connection open. A leaked connection holds its
        // database file (and the WAL's) until a collection finalizes it, so 20 leaks would show as 20 or more.
        var before = OpenHandlesTo(file);
        // Without a handle seen here, the count below would hold however many leaked (a path read another way).
        Assert.True(before > 0, $"no open handle to {file} was found in /proc/self/fd");
        for (var attempt = 0; attempt < 20; attempt++) await Assert.ThrowsAnyAsync<Exception>(() => ledger.ClaimAsync(Block));
        Assert.InRange(OpenHandlesTo(file), 0, before + 2);
    }

    /// <summary>This process's open file descriptors on <paramref name="file"/> and its WAL and shared-memory files.</summary>
    private static int OpenHandlesTo(string file) =>
        new DirectoryInfo("/proc/self/fd").EnumerateFileSystemInfos()
            .Count(descriptor => descriptor.LinkTarget is { } target && target.StartsWith(file, StringComparison.Ordinal));

    /// <summary>
    /// Opens shard database 0 where <paramref name="databases"/> would, without its schema, after creating it when
    /// asked; unpooled, so nothing stays open behind the test's back.
    /// </summary>
    private async Task<DbConnection> OpenFirstShardDatabaseAsync(string engine, ShardDatabases databases, bool create)
    {
        DbConnection connection;
        if (engine == Engines.Sqlite)
        {
            var file = new SqliteConnectionStringBuilder(databases.ConnectionStringFor(0)) { Pooling = false };
            Directory.CreateDirectory(Path.GetDirectoryName(file.DataSource)!);
            connection = new SqliteConnection(file.ConnectionString);
        }
        else
        {
            var server = new NpgsqlConnectionStringBuilder(databases.ConnectionStringFor(0)) { Pooling = false };
            if (create) await postgres.Server.CreateDatabaseAsync(server.Database!);
            connection = new NpgsqlConnection(server.ConnectionString);
        }
        await connection.OpenAsync();
        return connection;
    }

    [PostgresFact]
    public async Task A_postgres_database_whose_sessions_commit_asynchronously_is_refused()
    {
        // synchronous_commit=off acknowledges a commit before its WAL is flushed: a crash of the server then loses
        // orders the buyers were told about. Set here for every session through the connection string.
        var storage = TestStorage.Postgres(postgres.Server);
        storage.Settings["Storage:ConnectionString"] += ";Options=-c synchronous_commit=off";
        await using var context = LedgerContext.Create(storage);

        var error = await Record.ExceptionAsync(() => context.Ledger(new ShardAddress("e", "ga", 0)).ClaimAsync(new SerialBlock(First: 1, Size: 10)));

        Assert.NotNull(error);
        Assert.Contains("synchronous_commit=off", error.ToString());
    }

    [PostgresFact]
    public async Task A_postgres_shard_database_in_LATIN1_is_refused_before_anything_is_written_to_it()
    {
        // Made in LATIN1 by an operator's hand: a buyer named 李 would be refused only at commit, together with every
        // order grouped with theirs. The database is refused when it is opened instead, by name.
        var storage = TestStorage.Postgres(postgres.Server);
        var shard = new ShardAddress("e", "ga", 0);
        string name;
        await using (var refused = LedgerContext.Create(storage))
        {
            name = refused.ShardDatabaseName(0);
            await postgres.Server.CreateDatabaseAsync(name, encoding: "LATIN1");

            var error = await Record.ExceptionAsync(() => refused.Ledger(shard).ClaimAsync(Block));

            Assert.NotNull(error);
            Assert.Contains("Shard database 0 is in the LATIN1 encoding", error.ToString());
        }
        // Nothing was written to it (no tables, no stamp), so the way out the message gives works: dropped, it is made
        // anew in UTF-8 and sells. Stamped first, it was refused for ever as a database that had lost its rows.
        await using (var admin = new NpgsqlConnection(postgres.Server.ConnectionString()))
        {
            await admin.OpenAsync();
            await using var drop = new NpgsqlCommand($"DROP DATABASE \"{name}\" WITH (FORCE)", admin);
            await drop.ExecuteNonQueryAsync();
        }
        await using var context = LedgerContext.Create(storage);
        await AssertKeepsAnyNameAsync(context);
    }

    [PostgresFact]
    public async Task A_postgres_shard_database_in_SQL_ASCII_stores_any_name_as_sent_and_is_kept()
    {
        // initdb under a C locale makes SQL_ASCII the default, and earlier builds created shard databases in it. It
        // converts nothing, so the driver's UTF-8 is stored and read back as sent.
        await using var context = LedgerContext.Create(TestStorage.Postgres(postgres.Server));
        await postgres.Server.CreateDatabaseAsync(context.ShardDatabaseName(0), encoding: "SQL_ASCII");

        await AssertKeepsAnyNameAsync(context);
    }

    [PostgresFact]
    public async Task On_a_server_whose_databases_default_to_LATIN1_the_service_creates_its_databases_in_UTF8()
    {
        await using var server = new PostgresServer(encoding: "LATIN1");
        await server.StartAsync();
        await using var context = LedgerContext.Create(TestStorage.Postgres(server));

        await AssertKeepsAnyNameAsync(context);
        await using var connection = new NpgsqlConnection(server.ConnectionString());
        await connection.OpenAsync();
        await using var encodings = new NpgsqlCommand(
            "SELECT datname, pg_encoding_to_char(encoding) FROM pg_database WHERE datname NOT IN ('postgres', 'template0', 'template1')",
            connection);
        var created = new Dictionary<string, string>();
        await using (var reader = await encodings.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync()) created.Add(reader.GetString(0), reader.GetString(1));
        }
        // The catalog database and shard database 0, both made by the service.
        Assert.Equal(2, created.Count);
        Assert.Contains(context.ShardDatabaseName(0), created.Keys);
        Assert.All(created.Values, encoding => Assert.Equal("UTF8", encoding));
    }

    [Fact]
    public async Task Sqlite_shard_connections_are_in_WAL_mode_with_synchronous_FULL()
    {
        await using var context = await LedgerContext.CreateAsync(Engines.Sqlite, postgres);
        var database = context.Database(0);
        await database.EnsureReadyAsync();

        await using var connection = await database.OpenAsync();
        await using var check = connection.CreateCommand();
        check.CommandText = "PRAGMA journal_mode;";
        Assert.Equal("wal", (string?)await check.ExecuteScalarAsync());
        check.CommandText = "PRAGMA synchronous;";
        Assert.Equal(2L, (long?)await check.ExecuteScalarAsync());
    }

    [Fact]
    public async Task The_sqlite_writer_refuses_to_commit_on_a_file_taken_out_of_WAL_mode()
    {
        // Someone switched the file back to a rollback journal while the service was away. The writer's commits would
        // still be durable in that mode, but not in the way the writer's settings were chosen for; it says so
        // instead of selling on it. The same check catches a connection that did not get synchronous=FULL.
        await using var context = await LedgerContext.CreateAsync(Engines.Sqlite, postgres);
        var database = context.Database(0);
        await database.EnsureReadyAsync();
        var file = Path.Combine(context.Folder!, "shards", "shard_0000.db");
        // The database's own idle pooled connection keeps the WAL open, which blocks the change.
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        await using (var other = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={file};Pooling=False"))
        {
            await other.OpenAsync();
            await using var mode = other.CreateCommand();
            mode.CommandText = "PRAGMA journal_mode=DELETE;";
            Assert.Equal("delete", (string?)await mode.ExecuteScalarAsync());
        }

        var error = await Record.ExceptionAsync(() => context.Ledger(new ShardAddress("e", "ga", 0)).ClaimAsync(new SerialBlock(First: 1, Size: 10)));

        var unavailable = Assert.IsType<ShardDatabaseUnavailableException>(error);
        Assert.Contains("journal_mode=delete", unavailable.InnerException!.Message);
    }

    [Fact]
    public async Task The_sqlite_writer_checkpoints_less_often_than_sqlite_by_default()
    {
        // SQLite checkpoints once the WAL holds 1,000 pages, then reuses the file from its start, so by default the
        // WAL file stays near 1,000 pages. The writer allows 8,192 (TicketStorageOptions.SqliteCheckpointPages): 60 commits
        // of 40 one-page orders each must leave about 2,400 pages in it.
        const int PageBytes = 4096;
        await using var context = await LedgerContext.CreateAsync(Engines.Sqlite, postgres);
        var shard = new ShardAddress("e", "ga", 0);
        var ledger = context.Ledger(shard);
        await ledger.ClaimAsync(new SerialBlock(First: 1, Size: 10_000));
        var bulky = new Buyer(new string('b', PageBytes), "ada@example.com");
        var sold = 0L;
        for (var commit = 0; commit < 60; commit++)
        {
            var orders = Enumerable.Range(0, 40)
                .Select(i => Order(shard, $"o{sold + i}", 1 + sold + i) with { Buyer = bulky })
                .ToList();
            var batch = new LedgerBatch(shard, ledger.Epoch, sold, sold + orders.Count, orders, []);
            Assert.Equal(CommitOutcome.Committed, await ledger.CommitAsync(batch));
            sold += orders.Count;
        }

        var wal = new FileInfo(Path.Combine(context.Folder!, "shards", "shard_0000.db-wal"));
        Assert.True(wal.Length > 2_000L * PageBytes, $"The WAL holds {wal.Length / PageBytes} pages.");
    }

    /// <summary>
    /// Claims shard e/ga/0 of shard database 0 and sells it an order whose buyer's name and address are far from ASCII;
    /// they read back as sent.
    /// </summary>
    private static async Task AssertKeepsAnyNameAsync(LedgerContext context)
    {
        var shard = new ShardAddress("e", "ga", 0);
        var ledger = context.Ledger(shard);
        await ledger.ClaimAsync(Block);
        var order = Order(shard, "o1", 101) with { Buyer = new Buyer("李小龍 Zoë", "zoë@例え.jp") };

        Assert.Equal(CommitOutcome.Committed, await ledger.CommitAsync(Batch(ledger, shard, 0, order)));
        Assert.Equal(order.Buyer, (await ledger.ReadOrderAsync("o1"))!.Buyer);
    }
}
