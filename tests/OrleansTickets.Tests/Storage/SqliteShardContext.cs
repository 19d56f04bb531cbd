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
/// One SQLite shard database (<c>shards/shard_0000.db</c> in the test's folder) selling one shard, with the test's settings,
/// its logs down to Information and its checkpoint trouble counter.
/// </summary>
internal sealed class SqliteShardContext : IAsyncDisposable
{
    private const string CheckpointTrouble = "orleanstickets.storage.checkpoint_trouble";

    // An order whose buyer's name fills a page, so that each order adds about a page to the log.
    private static readonly Buyer Bulky = new(new string('b', 4096), "ada@example.com");

    /// <summary>The one shard this context sells.</summary>
    public static ShardAddress Shard { get; } = new("e", "ga", 0);

    private readonly ShardDatabases _databases;
    private readonly ILoggerFactory _loggers;
    private long _sold;

    public SqliteShardContext(TestStorage storage)
    {
        _loggers = LoggerFactory.Create(builder => builder.SetMinimumLevel(LogLevel.Information).AddProvider(Logs));
        _databases = new ShardDatabases(Options.Create(storage.Options), SaleMetrics.Detached(scope: this), _loggers);
        Trouble = new MetricCollector<long>(this, TicketingMeter.Name, CheckpointTrouble);
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
    /// Commits <paramref name="count"/> one-ticket orders of a page each, in one batch. The writer's checkpoint after
    /// the commit, and its report, come before the commit's answer.
    /// </summary>
    public async Task<(CommitOutcome Outcome, string LastOrderId)> SellAsync(ShardLedger ledger, int count)
    {
        var batch = Batch(ledger, count);
        var outcome = await ledger.CommitAsync(batch);
        Assert.Equal(CommitOutcome.Committed, outcome);
        return (outcome, batch.Orders[^1].OrderId);
    }

    /// <summary>The next <paramref name="count"/> one-ticket orders of a page each, as one batch (counted as sold).</summary>
    public LedgerBatch Batch(ShardLedger ledger, int count)
    {
        var orders = Enumerable.Range(0, count).Select(i => Order(_sold + i)).ToList();
        var batch = new LedgerBatch(Shard, ledger.Epoch, _sold, _sold + count, orders, []);
        _sold += count;
        return batch;
    }

    /// <summary>Takes back the last <paramref name="count"/> orders counted as sold: their batch was not committed.</summary>
    public void Forget(int count) => _sold -= count;

    /// <summary>The count <paramref name="sql"/> selects on the shard database.</summary>
    public async Task<long> CountAsync(string sql)
    {
        await using var connection = await _databases.Get(0).OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        return Convert.ToInt64(await command.ExecuteScalarAsync());
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
