using System.Data.Common;
using System.Globalization;
using System.Threading.Channels;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using Npgsql;
using OrleansTickets.Diagnostics;
using OrleansTickets.Export;
using OrleansTickets.Inventory;
using OrleansTickets.Orders;

namespace OrleansTickets.Storage;

/// <summary>
/// One shard database and its group-commit writer. Every shard mapped to this database submits its batches
/// here; one loop drains whatever has queued up and commits it in a single transaction, so N shards on one
/// database cost one durable commit (one fsync) per cycle, not N.
/// </summary>
/// <remarks>
/// Invariant, "durable before yes": a submitted batch's task completes with <see cref="CommitOutcome.Committed"/>
/// only after the transaction holding it has committed. A failed commit faults every task in the cycle;
/// the shards treat that as "outcome unknown" and reload from the database before selling again.
/// </remarks>
public sealed partial class ShardDatabase : IAsyncDisposable
{
    private readonly Channel<WriterItem> _queue = Channel.CreateUnbounded<WriterItem>(
        new UnboundedChannelOptions { SingleReader = true });
    private readonly DbDataSource _dataSource;

    // The group commits' own pool of one connection on server engines (DatabaseServer.ForWriter); the shared pool
    // serves claims, key reads and replays, and lookups (order and export pages) on at most half of it. SQLite's
    // writer keeps its own connection (SqliteGroupWriter).
    private readonly DbDataSource _writerDataSource;
    private readonly SqlDialect _dialect;
    private readonly ShardSql _sql;
    private readonly Func<CancellationToken, Task> _createDatabase;
    private readonly Func<DbConnection, CancellationToken, Task<string?>> _checkIdentity;
    private readonly int _maxOrdersPerCommit;
    private readonly TimeSpan _gatherWindow;
    private readonly SaleMetrics _metrics;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _initLock = new(1, 1);

    // Lookups (buyers' order pages, the export) hold at most half of the shared pool: a crowd refreshing its order pages
    // must not leave the sale's own reads (claims, key reads, replays) waiting for a connection. See LookUpAsync.
    private readonly SemaphoreSlim _lookups;

    // Lookups reading or waiting to: past MaxLookupsWaiting one more is refused at once, so a flood of page loads
    // neither piles up waiters nor makes every page answer after the whole wait.
    private int _lookupsAdmitted;
    private readonly Task _writer;
    private readonly SqliteGroupWriter? _sqliteWriter;

    // Wakes the SQLite writer thread. spinCount 0: a waiting writer blocks at once instead of burning a core
    // (Task.Wait and the default event spin first, which cost half the CPU with 16 idle writers on 2 cores).
    private readonly ManualResetEventSlim? _sqliteWork;
    private volatile bool _initialized;
    // Written and read on the SQLite writer's thread only.
    private bool _fileWatchFailureReported;

    /// <summary>
    /// The identity stamp this database had when this process checked it (<see cref="ShardDatabaseIdentity"/>), or null
    /// on SQL Server or before the check. The check runs once per process, so a database swapped or replaced while the
    /// silo runs would pass unseen; every claim requires this stamp instead, and a claim in a database that is no longer
    /// the checked one returns no row.
    /// </summary>
    internal string? Stamp { get; private set; }

    // Batches queued and not yet drained (briefly off by one while an enqueue races a drain), and the size of the
    // last group: the writer's view of the load, for the gather window only.
    private int _queued;
    private int _lastGroupSize;

    internal ShardDatabase(
        int ordinal,
        SqlDialect dialect,
        DbDataSource dataSource,
        DbDataSource? writerDataSource,
        Func<CancellationToken, Task> createDatabase,
        Func<DbConnection, CancellationToken, Task<string?>> checkIdentity,
        int maxOrdersPerCommit,
        TimeSpan gatherWindow,
        SaleMetrics metrics,
        ILogger logger,
        int maxConnections,
        TimeSpan lookupWait,
        SqliteWriterSettings? sqlite = null)
    {
        Ordinal = ordinal;
        LookupConnections = Math.Max(1, maxConnections / 2);
        LookupWait = lookupWait;
        _lookups = new SemaphoreSlim(LookupConnections, LookupConnections);
        _dialect = dialect;
        _sql = ShardSql.For(dialect);
        _dataSource = dataSource;
        _writerDataSource = writerDataSource ?? dataSource;
        _createDatabase = createDatabase;
        _checkIdentity = checkIdentity;
        _maxOrdersPerCommit = maxOrdersPerCommit;
        _gatherWindow = gatherWindow;
        _metrics = metrics;
        _logger = new NonThrowingLogger(logger);
        if (dialect == SqlDialect.Sqlite)
        {
            _sqliteWriter = new SqliteGroupWriter(ordinal, sqlite!, () => EnsureReadyAsync(), () => Stamp);
            _checkpointPagesBehindWarning = 4L * sqlite!.CheckpointPages;
            _sqliteWork = new ManualResetEventSlim(false, spinCount: 0);
            _writer = Task.Factory.StartNew(RunSqliteWriter, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        }
        else
        {
            _writer = Task.Run(RunWriterAsync);
        }
    }

    /// <summary>This database's number in the shard map.</summary>
    public int Ordinal { get; }

    /// <summary>How many lookups (<see cref="LookUpAsync{T}"/>) read this database at once, per silo: half its pool, at least 1.</summary>
    public int LookupConnections { get; }

    /// <summary>How long a lookup waits for one of those connections before it gives up (<see cref="ShardDatabaseBusyException"/>).</summary>
    public TimeSpan LookupWait { get; }

    /// <summary>
    /// How many lookups may read or wait at once, per silo: four for each lookup connection (one reading, three
    /// waiting). One more is refused at once.
    /// </summary>
    public int MaxLookupsWaiting => 4 * LookupConnections;

    /// <summary>Batches and claims queued for this database's writer that it has not yet taken into a group commit.</summary>
    public int QueuedWrites => Math.Max(0, Volatile.Read(ref _queued));

    internal ShardSql Sql => _sql;

    /// <summary>
    /// Per-connection SQLite settings, run on every open: <c>synchronous</c> is per connection, and with the file's
    /// WAL mode, FULL makes each commit durable before it returns.
    /// </summary>
    internal const string SqliteConnectionPragmas = "PRAGMA synchronous=FULL; PRAGMA busy_timeout=10000;";

    /// <summary>
    /// Settings for the one connection that writes a SQLite database (every write goes through its writer thread). Its
    /// automatic checkpoints are off: the writer runs them itself, at the same log size
    /// (<see cref="TicketStorageOptions.SqliteCheckpointPages"/>, 8,192 by default), to see their outcome
    /// (<see cref="SqliteGroupWriter.CheckpointIfDue"/>).
    /// </summary>
    /// <remarks>
    /// An order dirties a leaf in each of several B-trees whose keys arrive in random order (idempotency keys, and
    /// order ids until the ninth session), so the working set is most of the file: 12 MB per database after the
    /// 150,000-ticket festival. With the default 2 MB cache most of those leaves were read back from the file before
    /// every change; 32 MB keeps them (an 8 MB cache was measured again once orders were stored in time order: no gain).
    /// A checkpoint copies each page it finds in the WAL to the file once, however often the page changed since the
    /// last one, so letting the WAL grow to 8,192 pages (32 MB) before a checkpoint copies the same hot leaves far
    /// less often. Durability is unchanged: a commit is durable in the WAL, and the checkpoint only moves pages.
    /// Readers keep the defaults; they read a few rows each.
    /// </remarks>
    internal const string SqliteWriterPragmas = "PRAGMA cache_size=-32768; PRAGMA wal_autocheckpoint=0;";

    /// <summary>Creates the database and its tables once; a failure is retried by the next caller.</summary>
    public async Task EnsureReadyAsync(CancellationToken cancellationToken = default)
    {
        if (_initialized) return;
        await _initLock.WaitAsync(cancellationToken);
        try
        {
            if (_initialized) return;
            await _createDatabase(cancellationToken);
            await using var connection = await OpenAsync(cancellationToken);
            if (_dialect == SqlDialect.Sqlite)
            {
                // WAL is a property of the file, so it is set once here, outside any transaction.
                await using var wal = connection.CreateCommand();
                wal.CommandText = "PRAGMA journal_mode=WAL;";
                await wal.ExecuteNonQueryAsync(cancellationToken);
                await AddSqliteSaveMarksAsync(connection, cancellationToken);
            }
            if (_dialect == SqlDialect.PostgreSql)
            {
                // Before anything is written: a refused database gets no tables and no stamp, so the operator can drop it
                // and let the service make it anew (stamped, it would be refused as one that lost its rows).
                await RefuseRelaxedDurabilityAsync(connection, cancellationToken);
                await RefuseNarrowEncodingAsync(connection, cancellationToken);
            }
            try
            {
                await SqlScripts.RunAsync(connection, _dialect, SqlScripts.Read("Shard", SqlScripts.FileName(_dialect)), cancellationToken);
            }
            catch (DbException exception) when (IsMissingColumn(exception))
            {
                // An older layout can fail the script itself (its orders table has no column for the export's index):
                // it is refused by name all the same. Any other failure (the server restarting, a timeout) fails as it
                // came, since the probe would misread its broken connection as an older layout.
                await RefuseOlderLayoutAsync(connection, cancellationToken);
                throw;
            }
            await RefuseOlderLayoutAsync(connection, cancellationToken);
            Stamp = await _checkIdentity(connection, cancellationToken);
            if (!ReferenceEquals(_writerDataSource, _dataSource)) await ConnectWriterAsync(cancellationToken);
            _initialized = true;
        }
        finally
        {
            _initLock.Release();
        }
    }

    /// <summary>
    /// Gives the orders of a database made before orders had a save mark (<c>orders.save_mark</c>) one, before the
    /// script indexes it: their row ids, unique in the table, so each event's orders keep one mark each and the writer's
    /// next mark (one past the event's last) comes after them. (Row ids follow insertion until a VACUUM renumbers them;
    /// the order among the old orders does not matter, as no cursor from before the upgrade is accepted.) PostgreSQL and SQL Server
    /// do this in their scripts; SQLite has no conditional ALTER TABLE.
    /// </summary>
    private static async Task AddSqliteSaveMarksAsync(DbConnection connection, CancellationToken cancellationToken)
    {
        // An immediate transaction: another process opening the same file waits, then finds the column.
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using var probe = connection.CreateCommand();
        probe.Transaction = transaction;
        probe.CommandText =
            "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'orders') " +
            "AND NOT EXISTS (SELECT 1 FROM pragma_table_info('orders') WHERE name = 'save_mark') " +
            // Only the layout just before: an older one is refused whole (RefuseOlderLayoutAsync), and left as it was.
            "AND EXISTS (SELECT 1 FROM pragma_table_info('orders') WHERE name = 'order_key') " +
            "AND EXISTS (SELECT 1 FROM pragma_table_info('idempotency_keys') WHERE name = 'event_id')";
        if (Convert.ToInt64(await probe.ExecuteScalarAsync(cancellationToken), CultureInfo.InvariantCulture) == 1)
        {
            await using var add = connection.CreateCommand();
            add.Transaction = transaction;
            add.CommandText = "ALTER TABLE orders ADD COLUMN save_mark INTEGER NOT NULL DEFAULT 0; UPDATE orders SET save_mark = rowid;";
            await add.ExecuteNonQueryAsync(cancellationToken);
        }
        await transaction.CommitAsync(cancellationToken);
    }

    /// <summary>
    /// Connects the writer's pool (a data source of its own) on the first claim, when the doors open, so that the sale's
    /// first group commit does not also wait for a server process to start and for the driver's first look at the
    /// server's types (measured: no answer at all in the sale's first 100 ms), nor for the driver to work out each type
    /// the writer binds, nor for the server process to look the tables up and plan the group statements. Best effort:
    /// claims and reads do not need the writer, and a first commit that cannot connect either is refused as it would
    /// have been.
    /// </summary>
    private async Task ConnectWriterAsync(CancellationToken cancellationToken)
    {
        try
        {
            await using var writer = await _writerDataSource.OpenConnectionAsync(cancellationToken);
            if (_dialect == SqlDialect.PostgreSql) await PostgresLedgerWrites.PlanGroupStatementsAsync(writer, cancellationToken);
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            LogWriterNotConnected(_logger, exception, Ordinal);
        }
    }

    /// <summary>
    /// The scripts create what is missing and never alter what exists. A database created before orders were stored
    /// under their key (<c>orders.order_key</c>) or before keys were stored by event (<c>idempotency_keys.event_id</c>)
    /// would take the scripts and then fail every commit; it is refused here instead, by name, each time something
    /// tries to open it, and its shards stay unavailable.
    /// </summary>
    /// <remarks>
    /// SQL Server's earlier key table had <c>event_id</c> as a computed column, which this probe does not tell from
    /// the new one; that dialect is unverified and no such database was ever made.
    /// </remarks>
    private async Task RefuseOlderLayoutAsync(DbConnection connection, CancellationToken cancellationToken)
    {
        foreach (var (table, column) in new[] { ("orders", "order_key"), ("idempotency_keys", "event_id") })
        {
            await using var probe = connection.CreateCommand();
            probe.CommandText = $"SELECT {column} FROM {table} WHERE 1 = 0";
            try
            {
                await probe.ExecuteNonQueryAsync(cancellationToken);
            }
            catch (DbException exception)
            {
                throw new InvalidOperationException(
                    $"Shard database {Ordinal} was created by an older OrleansTickets build: its {table} table has no {column} " +
                    "column. Sell into a new data folder or database, or move this one aside.", exception);
            }
        }
    }

    /// <summary>
    /// A 201 promises that the order survives a crash of the database server. PostgreSQL keeps that promise only with
    /// <c>fsync</c> on and <c>synchronous_commit</c> not off (a server setting, or one a connection string's
    /// <c>Options</c> can set for every session of the pool). A database that would not keep it is refused here, by
    /// name, like a database of an older layout: its shards stay unavailable and the log says why.
    /// </summary>
    private async Task RefuseRelaxedDurabilityAsync(DbConnection connection, CancellationToken cancellationToken)
    {
        await using var settings = connection.CreateCommand();
        settings.CommandText = "SELECT current_setting('fsync'), current_setting('synchronous_commit')";
        await using var reader = await settings.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        var (fsync, synchronousCommit) = (reader.GetString(0), reader.GetString(1));
        if (fsync == "off" || synchronousCommit == "off")
        {
            throw new InvalidOperationException(
                $"Shard database {Ordinal} runs with fsync={fsync}, synchronous_commit={synchronousCommit}: a commit could be lost " +
                "after the service acknowledged it. Turn both on (the server's settings, or Options in Storage:ConnectionString).");
        }
    }

    /// <summary>
    /// Buyers' names and e-mail addresses are any Unicode text the API accepts. A PostgreSQL database in a narrower
    /// encoding (LATIN1, WIN1252, ...) cannot store some of them, and would refuse them only at commit, with a group of
    /// other buyers' orders; such a database is refused here, by name, like one with relaxed durability. SQL_ASCII
    /// passes: it converts nothing, so the UTF-8 the driver sends is stored and read back as sent (initdb under a C
    /// locale makes it the default, and earlier builds created shard databases in it).
    /// </summary>
    private async Task RefuseNarrowEncodingAsync(DbConnection connection, CancellationToken cancellationToken)
    {
        await using var setting = connection.CreateCommand();
        setting.CommandText = "SELECT current_setting('server_encoding')";
        var encoding = (string?)await setting.ExecuteScalarAsync(cancellationToken);
        if (encoding is not ("UTF8" or "SQL_ASCII"))
        {
            throw new InvalidOperationException(
                $"Shard database {Ordinal} is in the {encoding} encoding: some buyers' names could not be stored in it. Shard " +
                "databases must be UTF-8: drop this one if it holds no orders (the service creates it anew, in UTF-8), or " +
                "dump it and restore the dump into a UTF-8 database of the same name.");
        }
    }

    /// <summary>Opens a connection with the durability settings this project promises.</summary>
    public async Task<DbConnection> OpenAsync(CancellationToken cancellationToken = default)
    {
        var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        if (_dialect != SqlDialect.Sqlite) return connection;
        try
        {
            await using var pragma = connection.CreateCommand();
            pragma.CommandText = SqliteConnectionPragmas;
            await pragma.ExecuteNonQueryAsync(cancellationToken);
            return connection;
        }
        catch
        {
            // Nobody else holds it yet: left to a finalizer, each failed open would keep a file handle until a collection.
            await connection.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// Runs <paramref name="read"/> on a connection of this database's pool for a lookup: a read that serves a buyer's
    /// order page or the export, not a sale in progress. Throws <see cref="ShardDatabaseBusyException"/> when no lookup
    /// connection came free within <see cref="LookupWait"/>.
    /// </summary>
    /// <remarks>
    /// The pool (<see cref="TicketStorageOptions.MaxConnectionsPerDatabase"/>) also serves the sale's reads: claims, the
    /// key reads of retries and of keyed buyers' "sold out" answers, replays. Buyers refresh their order pages while a
    /// sale runs, and with no limit of their own those reads could take every connection, and a purchase would wait
    /// behind them for one, until its patience ran out. Lookups take at most half; past that they wait here, briefly
    /// (<see cref="LookupWait"/>), and then hear that the service is busy (503 with Retry-After), which changes nothing;
    /// past <see cref="MaxLookupsWaiting"/> they hear it at once. A database not ready yet (just after the silo started,
    /// or down) is made ready by at most <see cref="LookupConnections"/> lookups at a time, so a crowd does not queue
    /// in front of the claims that wait for the same start. SQLite's pool has no limit, and there the cap only bounds
    /// the readers a crowd opens. With a pool of one connection the two cannot be kept apart, and lookups share it.
    /// </remarks>
    public async Task<T> LookUpAsync<T>(Func<DbConnection, CancellationToken, Task<T>> read, CancellationToken cancellationToken = default)
    {
        if (Interlocked.Increment(ref _lookupsAdmitted) > MaxLookupsWaiting)
        {
            Interlocked.Decrement(ref _lookupsAdmitted);
            throw new ShardDatabaseBusyException(Ordinal, $"{MaxLookupsWaiting} lookups are reading or waiting already");
        }
        try
        {
            if (!await _lookups.WaitAsync(LookupWait, cancellationToken))
            {
                throw new ShardDatabaseBusyException(Ordinal, $"no lookup connection came free within {LookupWait.TotalSeconds:0.#} s");
            }
            try
            {
                await EnsureReadyAsync(cancellationToken);
                await using var connection = await OpenAsync(cancellationToken);
                return await read(connection, cancellationToken);
            }
            finally
            {
                _lookups.Release();
            }
        }
        finally
        {
            Interlocked.Decrement(ref _lookupsAdmitted);
        }
    }

    /// <summary>
    /// Up to <paramref name="limit"/> committed orders of <paramref name="eventId"/> in this database after
    /// <paramref name="after"/> in save order, with their tickets, holding at most <paramref name="maxTickets"/> tickets
    /// in all (the first order whatever its size when <paramref name="firstOrderAlways"/>). <c>Full</c> when the database
    /// may hold more after them; <c>Reached</c> is where the next read here starts: after the last order given when
    /// full, else the save horizon read before the orders, so that orders committing later (all at or past it) are
    /// read then and none is passed over. Null when <paramref name="after"/> lies past the horizon, which no read of this
    /// database handed out, or when the last order before it is not the one the place names
    /// (<see cref="SavePosition.LastGiven"/>): the database's marks went back (a backup put back, the database moved to
    /// another server), and orders saved since could sort behind the cursor.
    /// </summary>
    public Task<SavedOrders?> ReadOrderPageAsync(
        string eventId, SavePosition after, int limit, long maxTickets, bool firstOrderAlways, CancellationToken cancellationToken = default) =>
        LookUpAsync((connection, cancellation) => ReadOrderPageAsync(connection, eventId, after, limit, maxTickets, firstOrderAlways, cancellation),
            cancellationToken);

    private async Task<SavedOrders?> ReadOrderPageAsync(
        DbConnection connection, string eventId, SavePosition after, int limit, long maxTickets, bool firstOrderAlways, CancellationToken cancellationToken)
    {
        // Read first, in a statement of its own: every order below it has committed (or never will), so the orders read
        // next, below it, are all there will ever be below it.
        long horizon;
        string? lastGiven;
        await using (var read = new SqlStatement(_sql.ReadSaveHorizon)
            .With("@event_id", eventId).With("@after_mark", after.Mark).With("@after_key", after.Key).ToCommand(connection, null))
        await using (var reader = await read.ExecuteReaderAsync(cancellationToken))
        {
            if (!await reader.ReadAsync(cancellationToken)) throw new InvalidOperationException("The save horizon's read gave no row.");
            horizon = Convert.ToInt64(reader.GetValue(0), CultureInfo.InvariantCulture);
            lastGiven = reader.IsDBNull(1) ? null : reader.GetString(1);
        }
        // Horizons never go back on one database (SQLite's next mark grows, a server's oldest running transaction only
        // moves on), every place a read hands out lies at or below its horizon, and orders are never deleted: so the
        // order before the place is still the one it names. (A restore can give its mark to a new order: the witness
        // tells them apart, but for one in 65,535.)
        if (horizon < after.Mark || SavePosition.WitnessOf(lastGiven) != after.LastGiven) return null;
        var rows = new List<(OrderDetails Order, IReadOnlyList<SerialSegment> Serials)>();
        var full = false;
        var last = after;
        await using (var read = new SqlStatement(_sql.ReadOrderPage)
            .With("@event_id", eventId).With("@after_mark", after.Mark).With("@after_key", after.Key).With("@horizon", horizon)
            .With("@limit", limit).ToCommand(connection, null))
        await using (var reader = await read.ExecuteReaderAsync(cancellationToken))
        {
            var tickets = 0L;
            while (await reader.ReadAsync(cancellationToken))
            {
                var row = StoredOrders.FromRow(reader);
                tickets += row.Order.Quantity;
                if (tickets > maxTickets && !(rows.Count == 0 && firstOrderAlways))
                {
                    full = true;
                    break;
                }
                rows.Add(row);
                var key = reader.GetString(StoredOrders.ColumnCount + 1);
                last = new SavePosition(Convert.ToInt64(reader.GetValue(StoredOrders.ColumnCount), CultureInfo.InvariantCulture),
                    key, SavePosition.WitnessOf(key));
            }
        }
        var orders = await StoredOrders.WithTicketsAsync(connection, rows, cancellationToken);
        full |= rows.Count == limit;
        // The horizon is not below the place (checked above). At the place's own mark no order lies between them, so the
        // place stays, its key with it.
        return new SavedOrders(orders, full, full || horizon == after.Mark ? last : new SavePosition(horizon, "", last.LastGiven));
    }

    /// <summary>The tickets the shards of <paramref name="eventId"/> in this database have sold, as committed.</summary>
    public Task<long> ReadEventSoldAsync(string eventId, CancellationToken cancellationToken = default) =>
        LookUpAsync(async (connection, cancellation) =>
        {
            await using var read = new SqlStatement(ShardSql.ReadEventSold).With("@shard_prefix", eventId + "/%").ToCommand(connection, null);
            return Convert.ToInt64(await read.ExecuteScalarAsync(cancellation), CultureInfo.InvariantCulture);
        }, cancellationToken);

    /// <summary>A statement named a column its table does not have (PostgreSQL 42703, SQL Server 207 or 1911).</summary>
    private static bool IsMissingColumn(DbException exception) => exception switch
    {
        PostgresException postgres => postgres.SqlState == PostgresErrorCodes.UndefinedColumn,
        SqliteException sqlite => sqlite.Message.Contains("no such column", StringComparison.Ordinal),
        Microsoft.Data.SqlClient.SqlException sqlServer => sqlServer.Number is 207 or 1911,
        _ => false,
    };

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        _sqliteWork?.Set();
        await _writer;
        _sqliteWork?.Dispose();
        // _lookups is not disposed: a lookup still reading at shutdown releases it afterwards, and a SemaphoreSlim holds
        // nothing to free unless its wait handle was asked for.
        await _dataSource.DisposeAsync();
        if (!ReferenceEquals(_writerDataSource, _dataSource)) await _writerDataSource.DisposeAsync();
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Shard database {Ordinal}: the group-commit writer could not connect, or work out its types, ahead of the sale; its first commit will try again")]
    private static partial void LogWriterNotConnected(ILogger logger, Exception exception, int ordinal);
}
