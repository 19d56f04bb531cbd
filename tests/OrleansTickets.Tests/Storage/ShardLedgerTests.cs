using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Npgsql;
using OrleansTickets.Diagnostics;
using OrleansTickets.Events;
using OrleansTickets.Export;
using OrleansTickets.Inventory;
using OrleansTickets.Orders;
using OrleansTickets.Storage;
using OrleansTickets.Tests.Infrastructure;

namespace OrleansTickets.Tests.Storage;

/// <summary>
/// The shard ledger's storage contract, run against SQLite and a real PostgreSQL: fencing by epoch, group commit of
/// several shards in one database, and the database's own refusal of a double sale or an oversell.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed partial class ShardLedgerTests(PostgresFixture postgres)
{
    private static readonly SerialBlock Block = new(First: 101, Size: 10);

    private static LedgerBatch Keyed(ShardLedger ledger, ShardAddress shard, string key, string orderId, long oldSold = 0) =>
        new(shard, ledger.Epoch, oldSold, oldSold + 1, [Order(shard, orderId, BlockOf(shard).First + oldSold)], [new IdempotencyRecord(key, "fp", orderId)]);

    /// <summary>A batch that changes the shard's inventory to <paramref name="capacity"/> and <paramref name="segments"/>, with one order or none.</summary>
    private static LedgerBatch Changing(
        ShardLedger ledger, ShardAddress shard, long capacity, string segments, bool retired = false,
        IReadOnlyList<OutgoingTransfer>? transfersOut = null, IReadOnlyList<TicketTransfer>? transfersIn = null,
        IReadOnlyList<string>? delivered = null, IReadOnlyList<string>? refusals = null, OrderDetails? order = null) =>
        new(shard, ledger.Epoch, 0, order?.Quantity ?? 0, order is null ? [] : [order], [],
            new InventoryChanges(capacity, segments, retired, transfersOut ?? [], transfersIn ?? [], delivered ?? [], refusals ?? []));

    private static LedgerBatch KeysOnly(ShardLedger ledger, ShardAddress shard, params IdempotencyRecord[] keys) =>
        new(shard, ledger.Epoch, 0, 0, [], keys);

    /// <summary>A ledger that claimed <paramref name="shard"/> and committed its first order, of <paramref name="serials"/>.</summary>
    private static async Task<ShardLedger> ClaimAndSellAsync(LedgerContext context, ShardAddress shard, string orderId, params long[] serials)
    {
        var ledger = context.Ledger(shard);
        await ledger.ClaimAsync(Block);
        Assert.Equal(CommitOutcome.Committed, await ledger.CommitAsync(Batch(ledger, shard, 0, Order(shard, orderId, serials))));
        return ledger;
    }

    /// <summary>
    /// The commit fails because the database itself refused its rows (an integrity constraint), not because a check in
    /// our code, a closed connection or anything else stopped it first: that refusal is what the tests using this are about.
    /// </summary>
    private static async Task AssertRowsRefusedAsync(Func<Task> commit)
    {
        var error = await Assert.ThrowsAnyAsync<Exception>(commit);
        Assert.True(
            ExceptionCauses.Of(error).Any(cause => cause is PostgresException { SqlState: ['2', '3', ..] } or SqliteException { SqliteErrorCode: 19 }),
            $"The database did not refuse the rows; the commit failed with {error}");
    }

    /// <summary>Commits a one-ticket order per id, in turn, on a ledger that claimed <paramref name="shard"/>, after <paramref name="soldBefore"/> tickets.</summary>
    private static async Task SellOneEachAsync(ShardLedger ledger, ShardAddress shard, long soldBefore, params string[] orderIds)
    {
        for (var i = 0; i < orderIds.Length; i++)
        {
            var sold = soldBefore + i;
            Assert.Equal(CommitOutcome.Committed, await ledger.CommitAsync(Batch(ledger, shard, sold, Order(shard, orderIds[i], Block.First + sold))));
        }
    }

    /// <summary>One export read of event e on database 0, after <paramref name="after"/>, room for everything a test sells.</summary>
    private static Task<SavedOrders?> ReadExportAsync(LedgerContext context, SavePosition after) =>
        context.Database(0).ReadOrderPageAsync("e", after, 100, 10_000, firstOrderAlways: true);

    // Shards of one type own disjoint blocks, as in a real event.
    private static SerialBlock BlockOf(ShardAddress shard) => new(First: 101 + shard.Index * 10, Size: 10);

    private static LedgerBatch Batch(ShardLedger ledger, ShardAddress shard, long oldSold, OrderDetails order) =>
        new(shard, ledger.Epoch, oldSold, oldSold + order.Quantity, [order], []);

    private static OrderDetails Order(ShardAddress shard, string id, params long[] serials) =>
        new(id, shard.EventId, shard.TicketTypeId, serials.Length, 12.5m, 12.5m * serials.Length, "EUR",
            new Buyer("Ada", "ada@example.com"), [.. serials.Select(s => new TicketDetails($"{id}-code-{s}", s))],
            DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_000_000));

    /// <summary>Runs an action, on the logging thread, each time a message containing <paramref name="text"/> is logged.</summary>
    private sealed class LogHook(string text, Action action) : ILoggerProvider, ILogger
    {
        private int _calls;

        public int Calls => Volatile.Read(ref _calls);

        public ILogger CreateLogger(string categoryName) => this;

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!formatter(state, exception).Contains(text, StringComparison.Ordinal)) return;
            Interlocked.Increment(ref _calls);
            action();
        }

        public void Dispose()
        {
        }
    }

    /// <summary>Shard databases for one test, all shards mapped to database 0 so they share it.</summary>
    private sealed class LedgerContext : IAsyncDisposable
    {
        private readonly TestStorage _storage;
        private readonly ShardDatabases _databases;

        private readonly ILoggerFactory _loggers;
        private bool _ownsStorage = true;

        private LedgerContext(TestStorage storage, ILoggerProvider? logs)
        {
            _storage = storage;
            _loggers = logs is null ? NullLoggerFactory.Instance : LoggerFactory.Create(builder => builder.AddProvider(logs));
            _databases = new ShardDatabases(Options.Create(storage.Options), SaleMetrics.Detached(scope: this), _loggers);
        }

        public static Task<LedgerContext> CreateAsync(string engine, PostgresFixture postgres, ILoggerProvider? logs = null) =>
            Task.FromResult(new LedgerContext(Engines.Storage(engine, postgres), logs));

        /// <summary>
        /// A second context over <paramref name="storage"/>'s databases (a silo started again on them); it leaves the
        /// storage for its owner to dispose.
        /// </summary>
        public static Task<LedgerContext> CreateAsync(string engine, PostgresFixture postgres, TestStorage storage) =>
            Task.FromResult(new LedgerContext(storage, logs: null) { _ownsStorage = false });

        /// <summary>The databases' settings, for a second context over them.</summary>
        public TestStorage Storage => _storage;

        public static LedgerContext Create(TestStorage storage) => new(storage, logs: null);

        /// <summary>The name of PostgreSQL shard database <paramref name="ordinal"/>, as the service derives it.</summary>
        public string ShardDatabaseName(int ordinal) => _databases.PostgresDatabaseName(ordinal);

        public ShardLedger Ledger(ShardAddress shard) => new(_databases.Get(0), shard);

        public ShardDatabase Database(int ordinal) => _databases.Get(ordinal);

        /// <summary>Runs <paramref name="sql"/> on shard database 0 from outside the service (an operator's hand, a mistake).</summary>
        public async Task<int> ExecuteAsync(string sql)
        {
            await using var connection = await _databases.Get(0).OpenAsync();
            await using var command = connection.CreateCommand();
            command.CommandText = sql;
            return await command.ExecuteNonQueryAsync();
        }

        /// <summary>The count <paramref name="sql"/> selects on shard database 0.</summary>
        public async Task<long> CountAsync(string sql)
        {
            await using var connection = await _databases.Get(0).OpenAsync();
            await using var command = connection.CreateCommand();
            command.CommandText = sql;
            return Convert.ToInt64(await command.ExecuteScalarAsync());
        }

        /// <summary>Collects one instrument of this context's storage metrics.</summary>
        public MetricCollector<T> Collect<T>(string instrument) where T : struct => new(this, TicketingMeter.Name, instrument);

        /// <summary>A ledger per shard, each having claimed its shard with the block <paramref name="blockOf"/> gives it.</summary>
        public async Task<List<ShardLedger>> ClaimAllAsync(IEnumerable<ShardAddress> shards, Func<ShardAddress, SerialBlock> blockOf)
        {
            var ledgers = new List<ShardLedger>();
            foreach (var shard in shards)
            {
                var ledger = Ledger(shard);
                await ledger.ClaimAsync(blockOf(shard));
                ledgers.Add(ledger);
            }
            return ledgers;
        }

        /// <summary>A ledger per shard, by address, each having claimed its shard with its usual block (<see cref="BlockOf"/>).</summary>
        public async Task<Dictionary<ShardAddress, ShardLedger>> ClaimEachAsync(params ShardAddress[] shards) =>
            shards.Zip(await ClaimAllAsync(shards, BlockOf)).ToDictionary(pair => pair.First, pair => pair.Second);

        /// <summary>The SQLite files' folder; null on PostgreSQL.</summary>
        public string? Folder => _storage.Folder;

        public async ValueTask DisposeAsync()
        {
            await _databases.DisposeAsync();
            _loggers.Dispose();
            if (_ownsStorage) _storage.Dispose();
        }
    }
}
