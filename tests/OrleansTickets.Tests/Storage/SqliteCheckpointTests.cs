using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OrleansTickets.Diagnostics;
using OrleansTickets.Events;
using OrleansTickets.Orders;
using OrleansTickets.Storage;
using OrleansTickets.Tests.Infrastructure;

namespace OrleansTickets.Tests.Storage;

/// <summary>
/// The SQLite writer's watch over its write-ahead log (ShardDatabase.WatchCheckpoints), on real files: SQLite's own
/// checkpoints drop their errors, so a log that can no longer be copied into the database file must be reported by
/// the writer's check, while the commits themselves go on succeeding.
/// </summary>
public sealed class SqliteCheckpointTests
{
    private const string Trouble = "orleanstickets.storage.checkpoint_trouble";
    private static readonly ShardAddress Shard = new("e", "ga", 0);

    // An order whose buyer's name fills a page, so that each order adds about a page to the log.
    private static readonly Buyer Bulky = new(new string('b', 4096), "ada@example.com");

    [Fact]
    public async Task A_reader_that_holds_the_log_back_is_reported_until_it_ends()
    {
        using var storage = TestStorage.Sqlite(maxShardDatabases: 1);
        // SQLite checkpoints at 16 pages, so the watch reports a reader holding back 64.
        storage.Settings["Storage:SqliteCheckpointPages"] = "16";
        storage.Settings["Storage:SqliteCheckpointCheckSeconds"] = "0";
        await using var context = new CheckpointContext(storage);
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

            // A few pages behind the reader are what any read leaves for a moment: not reported.
            await context.SellAsync(ledger, 5);
            Assert.Empty(context.Trouble.GetMeasurementSnapshot());
            await context.SellAsync(ledger, 40);

            var behind = Assert.Single(context.Trouble.GetMeasurementSnapshot());
            Assert.Equal("behind", behind.Tags["reason"]);
            Assert.Contains(context.Logs.Lines, line => line.Contains("cannot be copied into the database file", StringComparison.Ordinal));
            Assert.DoesNotContain(context.Logs.Lines, line => line.Contains("copied into the database file again", StringComparison.Ordinal));
        }

        await context.SellAsync(ledger, 1);
        Assert.Single(context.Trouble.GetMeasurementSnapshot());
        Assert.Contains(context.Logs.Lines, line => line.Contains("copied into the database file again", StringComparison.Ordinal));
    }

    [SmallDiskFact]
    public async Task A_checkpoint_that_fails_on_a_full_disk_is_reported_while_commits_into_the_log_still_succeed()
    {
        await using var disk = await SmallDisk.MountAsync(megabytes: 16);
        using var storage = TestStorage.Sqlite(maxShardDatabases: 1);
        storage.Settings["Storage:DataPath"] = disk.Path;
        // SQLite's own checkpoints stay out of the way (8,192 pages); the watch checkpoints after every commit.
        storage.Settings["Storage:SqliteCheckpointCheckSeconds"] = "0";
        await using var context = new CheckpointContext(storage);
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

    /// <summary>One SQLite shard database with the test's settings, its logs down to Information and its trouble counter.</summary>
    private sealed class CheckpointContext : IAsyncDisposable
    {
        private readonly ShardDatabases _databases;
        private readonly ILoggerFactory _loggers;
        private long _sold;

        public CheckpointContext(TestStorage storage)
        {
            _loggers = LoggerFactory.Create(builder => builder.SetMinimumLevel(LogLevel.Information).AddProvider(Logs));
            _databases = new ShardDatabases(Options.Create(storage.Options), SaleMetrics.Detached(scope: this), _loggers);
            Trouble = new MetricCollector<long>(this, TicketingMeter.Name, SqliteCheckpointTests.Trouble);
        }

        public WarningCollector Logs { get; } = new(LogLevel.Information);

        public MetricCollector<long> Trouble { get; }

        public async Task<ShardLedger> ClaimAsync()
        {
            var ledger = new ShardLedger(_databases.Get(0), Shard);
            await ledger.ClaimAsync(new SerialBlock(First: 1, Size: 100_000));
            return ledger;
        }

        /// <summary>
        /// Commits <paramref name="count"/> one-ticket orders of a page each, in one batch, and waits for the check the
        /// writer runs after that commit (the settings ask for one after every commit; the commit's caller hears first).
        /// </summary>
        public async Task<(CommitOutcome Outcome, string LastOrderId)> SellAsync(ShardLedger ledger, int count)
        {
            var database = _databases.Get(0);
            var checks = database.CheckpointChecks;
            var orders = Enumerable.Range(0, count).Select(i => Order(_sold + i)).ToList();
            var outcome = await ledger.CommitAsync(new LedgerBatch(Shard, ledger.Epoch, _sold, _sold + count, orders, []));
            Assert.Equal(CommitOutcome.Committed, outcome);
            _sold += count;
            await Poll.UntilAsync(() => Task.FromResult(database.CheckpointChecks > checks), delayMilliseconds: 10, attempts: 1000,
                failure: "The writer never checked its log after the commit.");
            return (outcome, orders[^1].OrderId);
        }

        private static OrderDetails Order(long n) =>
            new($"o{n}", Shard.EventId, Shard.TicketTypeId, 1, 12.5m, 12.5m, "EUR", Bulky, [new TicketDetails($"code-{n}", 1 + n)],
                DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_000_000));

        public async ValueTask DisposeAsync()
        {
            Trouble.Dispose();
            await _databases.DisposeAsync();
            _loggers.Dispose();
            // The pool's idle readers would keep the files (and a small disk's mount) open.
            SqliteConnection.ClearAllPools();
        }
    }
}
