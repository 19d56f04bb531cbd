using Microsoft.Data.Sqlite;
using OrleansTickets.Storage;
using OrleansTickets.Tests.Infrastructure;

namespace OrleansTickets.Tests.Storage;

/// <summary>
/// The SQLite writer's own checkpoints (ShardDatabase.WatchCheckpoints), on real files: SQLite's automatic
/// checkpoints drop their errors, so the writer runs them itself and reports a log that can no longer be copied into
/// the database file, while the commits themselves go on succeeding.
/// </summary>
public sealed class SqliteCheckpointTests
{
    [Fact]
    public async Task A_reader_that_holds_the_log_back_is_reported_until_it_ends()
    {
        using var storage = TestStorage.Sqlite(maxShardDatabases: 1);
        // A checkpoint is due at 16 pages, so a reader holding back 64 is reported.
        storage.Settings["Storage:SqliteCheckpointPages"] = "16";
        await using var context = new SqliteShardContext(storage);
        var ledger = await context.ClaimAsync();
        await context.SellAsync(ledger, 10);

        await using (var reader = new SqliteConnection($"Data Source={Path.Combine(storage.Folder!, "shards", "shard_0000.db")};Pooling=False"))
        {
            // A read transaction's snapshot is taken at its first read, and held until it ends.
            await reader.OpenAsync();
            await using var transaction = reader.BeginTransaction(deferred: true);
            await using var read = reader.CreateCommand();
            read.CommandText = "SELECT count(*) FROM orders;";
            Assert.Equal(10L, (long)(await read.ExecuteScalarAsync())!);

            // Some pages behind the reader (a checkpoint is due, and copies none of them) are what any read leaves for a
            // moment: not reported.
            await context.SellAsync(ledger, 15);
            Assert.Empty(context.Trouble.GetMeasurementSnapshot());
            await context.SellAsync(ledger, 40);

            var behind = Assert.Single(context.Trouble.GetMeasurementSnapshot());
            Assert.Equal("behind", behind.Tags["reason"]);
            Assert.Contains(context.Logs.Lines, line => line.Contains("cannot be copied into the database file", StringComparison.Ordinal));
            Assert.DoesNotContain(context.Logs.Lines, line => line.Contains("copied into the database file again", StringComparison.Ordinal));
        }

        // The reader gone, the next checkpoint (due: the log is still long) copies the whole log.
        await context.SellAsync(ledger, 1);
        Assert.Single(context.Trouble.GetMeasurementSnapshot());
        Assert.Contains(context.Logs.Lines, line => line.Contains("copied into the database file again", StringComparison.Ordinal));
        Assert.Equal(66L, await context.CountAsync("SELECT count(*) FROM orders"));
    }

    [Fact]
    public async Task The_writer_checkpoints_once_the_log_holds_the_set_number_of_pages_and_not_before()
    {
        using var storage = TestStorage.Sqlite(maxShardDatabases: 1);
        storage.Settings["Storage:SqliteCheckpointPages"] = "64";
        await using var context = new SqliteShardContext(storage);
        var ledger = await context.ClaimAsync();
        var wal = new FileInfo(Path.Combine(storage.Folder!, "shards", "shard_0000.db-wal"));

        // Ten commits of ten one-page orders: about 20 pages each, so a checkpoint after every third or fourth commit
        // starts the log afresh, and the log file never holds much more than 64 pages and one commit.
        for (var i = 0; i < 10; i++) await context.SellAsync(ledger, 10);
        wal.Refresh();
        Assert.InRange(wal.Length / 4096, 40, 150);
        Assert.Empty(context.Trouble.GetMeasurementSnapshot());
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task After_a_whole_copy_the_log_is_counted_from_its_fresh_start_or_whole_when_a_reader_kept_it(bool readerBetween)
    {
        // SQLite starts the log afresh at the first commit after a checkpoint copied all of it, unless a reader holds
        // part of it then: one that began between the last commit and that checkpoint, as an order page's read may
        // while a checkpoint runs. A writer of the test's own, on the service's file, lets the reader begin there.
        using var storage = TestStorage.Sqlite(maxShardDatabases: 1);
        storage.Settings["Storage:SqliteCheckpointPages"] = "16";
        await using var context = new SqliteShardContext(storage);
        var ledger = await context.ClaimAsync();
        var file = Path.Combine(storage.Folder!, "shards", "shard_0000.db");
        using var writer = new SqliteGroupWriter(0, new SqliteWriterSettings($"Data Source={file}", CheckpointPages: 16), () => Task.CompletedTask, () => null);
        var sql = ShardSql.For(SqlDialect.Sqlite);

        writer.Commit([new CommitItem(context.Batch(ledger, 10))], sql);
        await using var reader = new SqliteConnection($"Data Source={file};Pooling=False");
        await reader.OpenAsync();
        await using var transaction = reader.BeginTransaction(deferred: true);
        if (readerBetween)
        {
            await using var read = reader.CreateCommand();
            read.CommandText = "SELECT count(*) FROM orders;";
            Assert.Equal(10L, (long)(await read.ExecuteScalarAsync())!);
        }
        var copied = writer.CheckpointIfDue();
        Assert.Equal(0L, copied!.Value.PagesBehind);
        writer.Commit([new CommitItem(context.Batch(ledger, 2))], sql);
        var next = writer.CheckpointIfDue();

        if (readerBetween)
        {
            // The reader still holds the log: the commit added to it instead of starting it afresh, and the log, a
            // checkpoint's worth long already, was due again at once.
            Assert.NotNull(next);
            Assert.True(next.Value.LogPages > copied.Value.LogPages, $"The log holds {next.Value.LogPages} pages, against {copied.Value.LogPages} before.");
            Assert.Equal(next.Value.LogPages, writer.LogPages);
        }
        else
        {
            // The commit started the log afresh, with a few pages: no checkpoint is due.
            Assert.Null(next);
            Assert.InRange(writer.LogPages, 1, 15);
        }
    }

    [SmallDiskFact]
    public async Task A_checkpoint_that_fails_on_a_full_disk_is_reported_while_commits_into_the_log_still_succeed()
    {
        await using var disk = await SmallDisk.MountAsync(megabytes: 16);
        using var storage = TestStorage.Sqlite(maxShardDatabases: 1);
        storage.Settings["Storage:DataPath"] = disk.Path;
        storage.Settings["Storage:SqliteCheckpointPages"] = "16";
        await using var context = new SqliteShardContext(storage);
        var ledger = await context.ClaimAsync();

        // A long log first, copied whole, so the next commit starts the log afresh and writes into space the log file
        // already holds: it needs no new space, but copying its new pages into the database file does.
        await context.SellAsync(ledger, 200);
        Assert.Empty(context.Trouble.GetMeasurementSnapshot());
        Assert.True(disk.Fill() > 0);

        var made = await context.SellAsync(ledger, 40);

        Assert.Equal(CommitOutcome.Committed, made.Outcome);
        var failed = Assert.Single(context.Trouble.GetMeasurementSnapshot());
        Assert.Equal("failed", failed.Tags["reason"]);
        var error = Assert.Single(context.Logs.Lines, line => line.Contains("cannot copy its write-ahead log", StringComparison.Ordinal));
        Assert.Contains("full", error, StringComparison.OrdinalIgnoreCase);

        disk.Free();
        await context.SellAsync(ledger, 1);
        Assert.Single(context.Trouble.GetMeasurementSnapshot());
        Assert.Contains(context.Logs.Lines, line => line.Contains("copied into the database file again", StringComparison.Ordinal));
        // The order committed while the disk was full was durable in the log all along, and is in the file now.
        Assert.Equal(made.LastOrderId, (await ledger.ReadOrderAsync(made.LastOrderId))?.OrderId);
    }

    [SmallDiskFact]
    public async Task A_commit_that_finds_the_disk_full_is_not_acknowledged_and_the_shard_goes_on_exactly_once_space_is_freed()
    {
        await using var disk = await SmallDisk.MountAsync(megabytes: 16);
        using var storage = TestStorage.Sqlite(maxShardDatabases: 1);
        storage.Settings["Storage:DataPath"] = disk.Path;
        await using var context = new SqliteShardContext(storage);
        var ledger = await context.ClaimAsync();
        await context.SellAsync(ledger, 50);
        Assert.True(disk.Fill() > 0);

        // Far more pages than the log's file already holds: the commit needs space the disk no longer has.
        var refused = context.Batch(ledger, 2_000);
        CommitOutcome? outcome = null;
        var failure = await Record.ExceptionAsync(async () => outcome = await ledger.CommitAsync(refused));
        Assert.True(failure is not null, $"The commit was answered {outcome?.Kind} on a full disk");
        Assert.Contains("full", failure.ToString(), StringComparison.OrdinalIgnoreCase);
        context.Forget(2_000);

        // Nothing of the batch is stored, its fence included. Space freed, the shard's next claim (a reload after a
        // commit whose outcome it could not know) finds the count the database holds, and sells on from it.
        disk.Free();
        var again = await context.ClaimAsync();
        Assert.Equal(50L, await context.CountAsync("SELECT sold FROM shard_state"));
        Assert.Equal(50L, await context.CountAsync("SELECT COUNT(*) FROM orders"));
        Assert.Null(await again.ReadOrderAsync(refused.Orders[0].OrderId));
        await context.SellAsync(again, 10);
        Assert.Equal((60L, 60L), (await context.CountAsync("SELECT sold FROM shard_state"), await context.CountAsync("SELECT COUNT(*) FROM tickets")));
    }
}
