using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Npgsql;
using OrleansTickets.Diagnostics;
using OrleansTickets.Events;
using OrleansTickets.Inventory;
using OrleansTickets.Storage;
using OrleansTickets.Tests.Infrastructure;

namespace OrleansTickets.Tests.Storage;

/// <summary>A shard database that is not the one the silo checked (emptied, swapped, of another data folder, of an older layout) is refused, never claimed afresh.</summary>
public sealed partial class ShardLedgerTests
{
    [Theory, InlineData(Engines.Sqlite), PostgresRow]
    public async Task A_shard_database_that_lost_its_rows_is_refused_rather_than_claimed_afresh(string engine)
    {
        // The shard sold serials 101-102; then its database is lost (a disk, a DROP by mistake). Made anew, it would
        // give the shard's next claim no row: its block would start again at sold 0 and sell 101-102 a second time.
        using var storage = Engines.Storage(engine, postgres);
        var shard = new ShardAddress("e", "ga", 0);
        string lostName;
        await using (var databases = new ShardDatabases(Options.Create(storage.Options), SaleMetrics.Detached(), NullLoggerFactory.Instance))
        {
            var ledger = new ShardLedger(databases.Get(0), shard);
            await ledger.ClaimAsync(Block);
            Assert.Equal(CommitOutcome.Committed, await ledger.CommitAsync(Batch(ledger, shard, 0, Order(shard, "o1", 101, 102))));
            lostName = databases.ConnectionStringFor(0);
        }
        await LoseDatabaseAsync(engine, lostName);

        await using var again = new ShardDatabases(Options.Create(storage.Options), SaleMetrics.Detached(), NullLoggerFactory.Instance);
        // SQLite's writer thread reports it as its database being unavailable, with the refusal inside.
        var refused = await Assert.ThrowsAnyAsync<Exception>(() => new ShardLedger(again.Get(0), shard).ClaimAsync(Block));
        Assert.Contains("Shard database 0 was used before", refused.ToString(), StringComparison.Ordinal);
        // Refused each time it is opened, not only the first.
        await Assert.ThrowsAsync<InvalidOperationException>(() => again.Get(0).EnsureReadyAsync());
    }

    [Theory, InlineData(Engines.Sqlite), PostgresRow]
    public async Task A_silo_that_checked_a_database_before_it_was_emptied_cannot_claim_in_it(string engine)
    {
        // This silo opened and checked the database, then it was replaced by an empty one with the same tables (another
        // silo made it again and refused it, too late for this one, whose check ran once): its next claim must not
        // start the shard again at sold 0.
        await using var context = await LedgerContext.CreateAsync(engine, postgres);
        var shard = new ShardAddress("e", "ga", 0);
        await ClaimAndSellAsync(context, shard, "o1", 101, 102);
        foreach (var table in new[] { "shard_database_identity", "shard_state", "orders", "tickets" }) await context.ExecuteAsync($"DELETE FROM {table}");

        var refused = await Assert.ThrowsAnyAsync<Exception>(() => context.Ledger(shard).ClaimAsync(Block));
        Assert.Contains("no identity stamp", refused.ToString(), StringComparison.Ordinal);
    }

    [Theory, InlineData(Engines.Sqlite), PostgresRow]
    public async Task A_silo_that_checked_a_database_before_it_was_swapped_for_another_cannot_claim_in_it(string engine)
    {
        // This silo checked the database, then another deployment's was put in its place (a restore from the wrong
        // place): it has a stamp, but not the one checked, and the check runs once per process. Played by changing the
        // stamp: first with the shard's row still there, then with the rows gone, where a claim would start the block
        // again at sold 0 and sell serials (and ticket codes) that acknowledged buyers hold.
        await using var context = await LedgerContext.CreateAsync(engine, postgres);
        var shard = new ShardAddress("e", "ga", 0);
        var holder = await ClaimAndSellAsync(context, shard, "o1", 101, 102);
        Assert.Equal(1, await context.ExecuteAsync("UPDATE shard_database_identity SET stamp = 'another-deployment'"));

        await Assert.ThrowsAsync<ShardClaimLostException>(() => holder.ClaimAsync(Block));
        var refused = await Assert.ThrowsAnyAsync<Exception>(() => context.Ledger(shard).ClaimAsync(Block));
        Assert.Contains("not the one this silo checked", refused.ToString(), StringComparison.Ordinal);
        Assert.Equal(1L, await context.CountAsync("SELECT epoch FROM shard_state"));

        foreach (var table in new[] { "shard_state", "orders", "tickets" }) await context.ExecuteAsync($"DELETE FROM {table}");
        await Assert.ThrowsAnyAsync<Exception>(() => context.Ledger(shard).ClaimAsync(Block));
        Assert.Equal(0L, await context.CountAsync("SELECT COUNT(*) FROM shard_state"));
    }

    [Theory, InlineData(Engines.Sqlite), PostgresRow]
    public async Task A_shard_whose_row_vanished_after_it_sold_is_not_claimed_afresh(string engine)
    {
        // The database keeps its identity stamp, but the shard's row is gone (a DELETE by mistake). Neither the holder's
        // claim again nor a new activation's first claim may insert a fresh row: the shard would sell its block from
        // sold 0 a second time (the tickets' primary key would then refuse every such sale, and the shard would be stuck).
        await using var context = await LedgerContext.CreateAsync(engine, postgres);
        var shard = new ShardAddress("e", "ga", 0);
        var ledger = await ClaimAndSellAsync(context, shard, "o1", 101, 102);
        Assert.Equal(1, await context.ExecuteAsync("DELETE FROM shard_state"));

        var lost = await Assert.ThrowsAsync<ShardClaimLostException>(() => ledger.ClaimAsync(Block));
        Assert.Contains("at epoch 1:", lost.Message);
        // The next activation's first claim must not insert one either: the block's sold tickets show a row existed.
        var refused = await Assert.ThrowsAnyAsync<Exception>(() => context.Ledger(shard).ClaimAsync(Block));
        Assert.Contains("holds sold tickets or gifts of the shard", refused.ToString(), StringComparison.Ordinal);
        Assert.Equal(0L, await context.CountAsync("SELECT COUNT(*) FROM shard_state"));
    }

    [Theory, InlineData(Engines.Sqlite), PostgresRow]
    public async Task A_shard_whose_row_vanished_after_it_only_gave_tickets_away_is_not_claimed_afresh(string engine)
    {
        // The donor sold nothing itself: its serials were sold, if at all, by the receiver, perhaps in another database.
        // Only its gift shows here that it had a row.
        await using var context = await LedgerContext.CreateAsync(engine, postgres);
        var (donor, receiver) = (new ShardAddress("e", "ga", 0), new ShardAddress("e", "ga", 1));
        var ledgers = await context.ClaimEachAsync(donor, receiver);
        var gift = new TicketTransfer("t1", donor.Key, [new SerialSegment(109, 2)]);
        Assert.Equal(CommitOutcome.Committed, await ledgers[donor].CommitAsync(Changing(ledgers[donor], donor, 8, "101+8",
            transfersOut: [new OutgoingTransfer(receiver.Key, gift)])));
        Assert.Equal(1, await context.ExecuteAsync($"DELETE FROM shard_state WHERE shard_key = '{donor.Key}'"));

        var refused = await Assert.ThrowsAnyAsync<Exception>(() => context.Ledger(donor).ClaimAsync(BlockOf(donor)));
        Assert.Contains("holds sold tickets or gifts of the shard", refused.ToString(), StringComparison.Ordinal);
        Assert.Equal(1L, await context.CountAsync("SELECT COUNT(*) FROM shard_state"));
    }

    [Fact]
    public async Task A_shard_database_of_another_data_folder_is_refused()
    {
        // Two deployments' files swapped by hand: the copy holds the other catalog's shards and serials.
        using var mine = TestStorage.Sqlite();
        using var theirs = TestStorage.Sqlite();
        string myFile, theirFile;
        await using (var databases = new ShardDatabases(Options.Create(mine.Options), SaleMetrics.Detached(), NullLoggerFactory.Instance))
        {
            await databases.Get(0).EnsureReadyAsync();
            myFile = new SqliteConnectionStringBuilder(databases.ConnectionStringFor(0)).DataSource;
        }
        await using (var databases = new ShardDatabases(Options.Create(theirs.Options), SaleMetrics.Detached(), NullLoggerFactory.Instance))
        {
            await databases.Get(0).EnsureReadyAsync();
            theirFile = new SqliteConnectionStringBuilder(databases.ConnectionStringFor(0)).DataSource;
        }
        SqliteConnection.ClearAllPools();
        foreach (var suffix in new[] { "-wal", "-shm" }) File.Delete(myFile + suffix);
        File.Copy(theirFile, myFile, overwrite: true);

        await using var again = new ShardDatabases(Options.Create(mine.Options), SaleMetrics.Detached(), NullLoggerFactory.Instance);
        var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => again.Get(0).EnsureReadyAsync());
        Assert.Contains("is not the one this catalog recorded", refused.Message, StringComparison.Ordinal);
    }

    private async Task LoseDatabaseAsync(string engine, string connectionString)
    {
        if (engine == Engines.Sqlite)
        {
            // The process-wide pool would otherwise keep the deleted file open.
            SqliteConnection.ClearAllPools();
            var file = new SqliteConnectionStringBuilder(connectionString).DataSource;
            foreach (var part in new[] { file, file + "-wal", file + "-shm" }.Where(File.Exists)) File.Delete(part);
            return;
        }
        NpgsqlConnection.ClearAllPools();
        await using var admin = new NpgsqlConnection(postgres.Server.ConnectionString());
        await admin.OpenAsync();
        var name = new NpgsqlConnectionStringBuilder(connectionString).Database!;
        await using var drop = new NpgsqlCommand($"DROP DATABASE \"{name}\" WITH (FORCE)", admin);
        await drop.ExecuteNonQueryAsync();
    }

    [Theory, InlineData(Engines.Sqlite), PostgresRow]
    public Task A_shard_database_from_before_orders_were_keyed_is_refused_by_name(string engine) =>
        // The orders table as builds before the ninth session created it: keyed by the whole id, no order_key.
        AssertOlderLayoutRefusedAsync(engine, "orders", "CREATE TABLE orders (order_id TEXT NOT NULL PRIMARY KEY, shard_key TEXT NOT NULL)",
            "order_id,shard_key", "order_key");

    [Theory, InlineData(Engines.Sqlite), PostgresRow]
    public Task A_shard_database_from_before_keys_were_stored_by_event_is_refused_by_name(string engine) =>
        // The keys table as builds before the tenth session created it: keyed by shard and key, no event_id.
        AssertOlderLayoutRefusedAsync(engine, "idempotency_keys",
            "CREATE TABLE idempotency_keys (shard_key TEXT NOT NULL, idem_key TEXT NOT NULL, fingerprint TEXT NOT NULL, " +
            "order_id TEXT NOT NULL, PRIMARY KEY (shard_key, idem_key))",
            "shard_key,idem_key,fingerprint,order_id", "event_id");

    private async Task AssertOlderLayoutRefusedAsync(string engine, string table, string createOldTable, string oldColumns, string missingColumn)
    {
        using var storage = Engines.Storage(engine, postgres);
        await using var databases = new ShardDatabases(Options.Create(storage.Options), SaleMetrics.Detached(), NullLoggerFactory.Instance);
        await using (var old = await OpenFirstShardDatabaseAsync(engine, databases, create: true))
        {
            await using var create = old.CreateCommand();
            create.CommandText = createOldTable;
            await create.ExecuteNonQueryAsync();
        }

        var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => databases.Get(0).EnsureReadyAsync());
        Assert.Contains($"{table} table has no {missingColumn}", refused.Message, StringComparison.Ordinal);

        // The old table is left as it was.
        await using var check = await OpenFirstShardDatabaseAsync(engine, databases, create: false);
        await using var columns = check.CreateCommand();
        columns.CommandText = engine == Engines.Sqlite
            ? $"SELECT group_concat(name) FROM pragma_table_info('{table}')"
            : $"SELECT string_agg(column_name, ',' ORDER BY ordinal_position) FROM information_schema.columns WHERE table_name = '{table}'";
        Assert.Equal(oldColumns, await columns.ExecuteScalarAsync());
    }
}
