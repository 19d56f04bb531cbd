using System.Data;
using System.Data.Common;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Threading.Channels;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using Npgsql;
using OrleansTickets.Diagnostics;
using OrleansTickets.Events;
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
    // Rounds of "write the group, drop the batches whose key another shard holds" before the group is failed.
    private const int MaxKeyConflictRounds = 4;

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

    /// <summary>Queues a shard's batch for the next group commit and completes when it is durable (or refused).</summary>
    public Task<CommitOutcome> CommitAsync(LedgerBatch batch)
    {
        var item = new CommitItem(batch);
        // Closed (the silo is stopping): the batch was never queued, so the refusal is definite, and the shard answers
        // "unavailable" (the dispatcher may go elsewhere) rather than "outcome unknown".
        return Enqueue(item)
            ? item.Task
            : Task.FromException<CommitOutcome>(new ShardDatabaseUnavailableException(Ordinal, new ObjectDisposedException(nameof(ShardDatabase))));
    }

    /// <summary>
    /// The isolation of claims and group commits, whatever the database's default. Fencing relies on it: a commit that
    /// waited on a newer activation's claim re-reads the row after the wait and matches nothing (fenced). Under
    /// REPEATABLE READ or SERIALIZABLE it would fail with a serialization error instead, and the stale activation,
    /// taking that for an outage, would reload and claim the shard back from the newer one.
    /// </summary>
    private const IsolationLevel FencingIsolation = IsolationLevel.ReadCommitted;

    /// <summary>
    /// Bumps the shard's epoch (creating its row only on a first claim of a shard the database has no trace of) and returns the new epoch and the durable sold count.
    /// An activation claiming again (<paramref name="heldEpoch"/> above 0) bumps only the epoch it holds, and gets
    /// <see cref="ShardClaimLostException"/> when a newer activation claimed the shard since.
    /// </summary>
    public async Task<ClaimedRow> ClaimAsync(ShardAddress shard, SerialBlock block, long heldEpoch, CancellationToken cancellationToken)
    {
        if (_sqliteWriter is not null)
        {
            var item = new ClaimItem(shard, block, heldEpoch);
            if (!Enqueue(item)) throw new ObjectDisposedException(nameof(ShardDatabase));
            return await item.Task;
        }
        await EnsureReadyAsync(cancellationToken);
        await using var connection = await OpenAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(FencingIsolation, cancellationToken);
        await using var claim = new SqlStatement(_sql.Claim)
            .With("@shard_key", shard.Key).With("@block_first", block.First).With("@block_size", (long)block.Size)
            .With("@segments", InitialSegments(block)).With("@held_epoch", heldEpoch)
            .With("@event_id", shard.EventId).With("@ticket_type_id", shard.TicketTypeId).With("@stamp", (object?)Stamp ?? DBNull.Value)
            .ToCommand(connection, transaction);
        ClaimedRow result;
        await using (var reader = await claim.ExecuteReaderAsync(cancellationToken))
        {
            // SQL Server's claim may answer in its second result set (first use of the row).
            while (!await reader.ReadAsync(cancellationToken))
            {
                if (!await reader.NextResultAsync(cancellationToken)) throw NoClaimedRow(shard, heldEpoch);
            }
            result = ReadClaim(reader, shard, block);
        }
        await transaction.CommitAsync(cancellationToken);
        return result;
    }

    /// <summary>
    /// A claim that returned no row. Every claim requires the stamp this silo checked (<see cref="Stamp"/>), and a first
    /// claim inserts a row only where the database holds no trace of the shard (a sold ticket of its block, a gift it
    /// made or received), so for a first claim it means the database was lost and made again, swapped for another, or
    /// the shard's row was deleted from it. A claim again (<paramref name="heldEpoch"/> above 0) returns none when a newer
    /// activation holds the shard, when the row is gone, or when the database is no longer the one checked: in every case
    /// this activation no longer holds it, and a first claim by the next one says which.
    /// </summary>
    internal static InvalidOperationException NoClaimedRow(ShardAddress shard, long heldEpoch) =>
        heldEpoch > 0
            ? new ShardClaimLostException(shard.Key, heldEpoch)
            : new InvalidOperationException($"Claim of {shard.Key} returned no row: its database has no identity stamp, or not the one " +
                "this silo checked (lost and made again, or swapped?), or it holds sold tickets or gifts of the shard but not the shard's " +
                "row (deleted?).");

    /// <summary>A new shard's inventory: exactly its block.</summary>
    internal static string InitialSegments(SerialBlock block) =>
        SegmentText.Format([new Inventory.SerialSegment(block.First, block.Size)]);

    /// <summary>Reads a claim's row (epoch, sold, block_first, block_size, capacity, segments, retired) and checks the block against the catalog.</summary>
    internal static ClaimedRow ReadClaim(DbDataReader reader, ShardAddress shard, SerialBlock block)
    {
        var first = Convert.ToInt64(reader.GetValue(2));
        var size = Convert.ToInt64(reader.GetValue(3));
        if (first != block.First || size != block.Size)
        {
            throw new InvalidOperationException(
                $"Shard {shard.Key} is stored with block {first}+{size} but the catalog says {block.First}+{block.Size}.");
        }
        return new ClaimedRow(
            Convert.ToInt64(reader.GetValue(0)), Convert.ToInt64(reader.GetValue(1)), Convert.ToInt64(reader.GetValue(4)),
            reader.GetString(5), Convert.ToInt64(reader.GetValue(6)) != 0);
    }

    private bool Enqueue(WriterItem item)
    {
        if (!_queue.Writer.TryWrite(item)) return false;
        Interlocked.Increment(ref _queued);
        _sqliteWork?.Set();
        return true;
    }

    /// <summary>The group-commit loop for engines with real asynchronous I/O.</summary>
    private async Task RunWriterAsync()
    {
        var group = new List<WriterItem>();
        while (await _queue.Reader.WaitToReadAsync())
        {
            if (ShouldGather()) await Task.Delay(_gatherWindow);
            Drain(group);
            try
            {
                var started = Stopwatch.GetTimestamp();
                await CommitGroupAsync(group);
                RecordCommit(group, started);
                foreach (var item in group) item.Complete();
            }
            catch (Exception exception) when (group.Count > 1 && IsRefusedRows(exception))
            {
                await CommitEachAloneAsync(group, exception, CommitGroupAsync);
            }
            catch (Exception exception)
            {
                Fail(group, exception);
            }
        }
    }

    /// <summary>The group-commit loop for SQLite, on a dedicated thread because SQLite blocks while it works.</summary>
    private void RunSqliteWriter()
    {
        var group = new List<WriterItem>();
        try
        {
            while (WaitForSqliteWork())
            {
                if (ShouldGather()) Thread.Sleep(_gatherWindow);
                Drain(group);
                try
                {
                    var started = Stopwatch.GetTimestamp();
                    var rewrites = _sqliteWriter!.Commit(group, _sql);
                    RecordCommit(group, started, rewrites);
                    if (_sqliteWriter.FileWatchFailure is { } watchFailure && !_fileWatchFailureReported)
                    {
                        _fileWatchFailureReported = true;
                        LogFileWatchFailed(_logger, watchFailure, Ordinal);
                    }
                    // Before the answers, as SQLite's own checkpoint ran inside the COMMIT: a buyer waits for it as before.
                    WatchCheckpoints();
                    foreach (var item in group) item.Complete();
                }
                catch (Exception exception) when (group.Count > 1 && IsRefusedRows(exception))
                {
                    // The commit runs synchronously, so this completes here, on the writer thread.
                    CommitEachAloneAsync(group, exception, items =>
                    {
                        _sqliteWriter!.Commit(items, _sql);
                        WatchCheckpoints();
                        return Task.CompletedTask;
                    }).GetAwaiter().GetResult();
                }
                catch (ShardDatabaseFilesMovedException moved)
                {
                    // Once, when found: from then on every write here is refused before it starts, as unavailable.
                    LogFilesMoved(_logger, moved, Ordinal, moved.Path);
                    foreach (var item in group) item.Fail(moved);
                }
                catch (Exception exception)
                {
                    Fail(group, exception);
                }
            }
        }
        finally
        {
            _sqliteWriter!.Dispose();
        }
    }

    /// <summary>Blocks the writer thread until a batch is queued; false once the queue is closed and empty.</summary>
    private bool WaitForSqliteWork()
    {
        while (true)
        {
            // Reset before looking, so a batch queued after the look still leaves the event set.
            _sqliteWork!.Reset();
            if (_queue.Reader.TryPeek(out _)) return true;
            if (_queue.Reader.Completion.IsCompleted) return false;
            _sqliteWork.Wait();
        }
    }

    /// <summary>
    /// Whether to hold the first queued batch back for the gather window. Each commit costs an fsync and a rewrite of
    /// every page it touches, and with fast storage a commit ends before the next order arrives, so without a wait
    /// nearly every order pays for a whole commit. A short wait lets the orders arriving meanwhile share one.
    /// Like PostgreSQL's commit_delay with commit_siblings, it waits only when others are committing too: when more
    /// than one batch is queued or the last commit carried several. A lone buyer never waits.
    /// </summary>
    private bool ShouldGather() =>
        _gatherWindow > TimeSpan.Zero && (_lastGroupSize > 1 || Volatile.Read(ref _queued) > 1);

    private void RecordCommit(List<WriterItem> group, long started, int rewrites = 0)
    {
        var orders = 0;
        foreach (var item in group)
        {
            // A batch the fence or the key table refused wrote nothing, though it rode in the commit.
            if (item is CommitItem { Outcome.Kind: CommitOutcomeKind.Committed } commit) orders += commit.Batch.Orders.Count;
        }
        // The group is durable by now: recording cannot fail it (SaleMetrics swallows a listener's throw).
        _metrics.GroupCommitted(group.Count, orders, Stopwatch.GetElapsedTime(started), rewrites);
    }

    private void Drain(List<WriterItem> group)
    {
        group.Clear();
        var weight = 0;
        while (weight < _maxOrdersPerCommit && _queue.Reader.TryRead(out var next))
        {
            group.Add(next);
            weight += next.Weight;
        }
        Interlocked.Add(ref _queued, -group.Count);
        _lastGroupSize = group.Count;
    }

    /// <summary>
    /// True when the database refused a group for its rows (a CHECK, a primary key: SQL class 23; or, on PostgreSQL, a
    /// value it cannot store, such as text with a NUL character: class 22), before COMMIT.
    /// </summary>
    /// <remarks>
    /// Nothing of such a group is durable, but one batch caused it: a shard whose memory disagrees with its row (the
    /// database refusing an oversale or a second sale of a serial is the last line of defence). Failing the whole group
    /// would fail every shard that shares the database, again at each of the culprit's retries, so the group is then
    /// committed one item at a time and only the culprit fails. A database that cannot be reached is not retried this
    /// way, since each item would wait for its own connection attempt; if it goes away during the one-at-a-time
    /// commits, the items left fail at once, as definitely unavailable. SQL Server's numbers (primary key 2627, unique
    /// index 2601, CHECK 547) are unverified, as is that dialect.
    /// </remarks>
    private static bool IsRefusedRows(Exception exception) => exception is ShardDatabaseUnavailableException
    {
        InnerException: PostgresException { SqlState: [ '2', '2' or '3', ..] } or SqliteException { SqliteErrorCode: SqliteConstraint }
            or Microsoft.Data.SqlClient.SqlException { Number: 2627 or 2601 or 547 },
    };

    /// <summary>
    /// Commits the items of a group the database refused (see <see cref="IsRefusedRows"/>) one at a time with
    /// <paramref name="commit"/>, completing or failing each; once one fails for another reason (the database went
    /// away), the rest fail at once, as definitely unavailable (they were never committed), instead of each waiting for
    /// its own attempt.
    /// </summary>
    private async Task CommitEachAloneAsync(List<WriterItem> group, Exception refusal, Func<List<WriterItem>, Task> commit)
    {
        LogGroupRefused(_logger, refusal, Ordinal, group.Count);
        Exception? down = null;
        foreach (var item in group)
        {
            if (down is not null)
            {
                // Never committed: this item was only in the refused group's rolled-back transaction, so its refusal is
                // definite even when the error that stopped the pass was an uncertain COMMIT of another item.
                item.Fail(down as ShardDatabaseUnavailableException ?? new ShardDatabaseUnavailableException(Ordinal, down));
                continue;
            }
            try
            {
                var started = Stopwatch.GetTimestamp();
                await commit([item]);
                RecordCommit([item], started);
                item.Complete();
            }
            catch (Exception alone)
            {
                if (alone is ShardDatabaseFilesMovedException moved) LogFilesMoved(_logger, moved, Ordinal, moved.Path);
                Fail([item], alone);
                if (!IsRefusedRows(alone)) down = alone;
            }
        }
    }

    // SQLITE_CONSTRAINT, the primary result code of every constraint failure.
    private const int SqliteConstraint = 19;

    private void Fail(List<WriterItem> group, Exception exception)
    {
        LogCommitFailed(_logger, exception, Ordinal, group.Count);
        foreach (var item in group) item.Fail(exception);
    }

    /// <summary>
    /// One group commit on a server engine (PostgreSQL: <see cref="PostgresLedgerWrites"/>, one statement; SQL Server:
    /// <see cref="DbBatch"/> round trips); only commit items reach this path. A key conflict
    /// aborts the server's whole transaction, so the group is then written again without the batches that hold a key
    /// another shard of the event recorded first. That happens only when a client reuses a key for another ticket
    /// type, so the common path pays nothing for it.
    /// </summary>
    private async Task CommitGroupAsync(List<WriterItem> writerItems)
    {
        var group = writerItems.Cast<CommitItem>().ToList();
        for (var round = 1; group.Count > 0; round++)
        {
            try
            {
                await CommitGroupOnceAsync(group);
                return;
            }
            catch (KeyConflictException conflict) when (round < MaxKeyConflictRounds)
            {
                List<(CommitItem Item, string Key)> conflicting;
                try
                {
                    conflicting = await FindKeyConflictsAsync(group, conflict.Stale);
                }
                catch (Exception lookup)
                {
                    // The group's transaction failed before COMMIT, so nothing of it is durable: whatever stopped the
                    // lookup (the server restarting, a timeout), the answer is a definite "unavailable".
                    throw new ShardDatabaseUnavailableException(Ordinal, lookup);
                }
                // Another writer's transaction (another silo's) may hold the key uncommitted: unknown here, so fail.
                if (conflicting.Count == 0) throw new ShardDatabaseUnavailableException(Ordinal, conflict.InnerException ?? conflict);
                foreach (var (item, key) in conflicting) item.Outcome = CommitOutcome.KeyConflict(key);
                group = group.Where(item => item.Outcome.Kind != CommitOutcomeKind.KeyConflict).ToList();
            }
            catch (KeyConflictException conflict)
            {
                throw new ShardDatabaseUnavailableException(Ordinal, conflict.InnerException ?? conflict);
            }
        }
    }

    /// <summary>
    /// The batches of <paramref name="group"/> whose keys the database refuses: a new key the event already has (in
    /// the database, or from a batch earlier in the group), a move of a key that no longer points at the order the
    /// batch expected, or a holder's record of its home's key once the home's row has a newer epoch. A batch whose
    /// fence no longer matches is left out: it writes nothing, and the next round reports it fenced, as SQLite does,
    /// so a stale activation learns it lost its shard instead of following the key.
    /// </summary>
    /// <param name="group">The group that failed.</param>
    /// <param name="stale">
    /// The places in the group of the batches PostgreSQL's statement named as not fully written, when the statement
    /// itself ran (no key was refused by the keys' primary key then, so only these batches are looked at); null when a
    /// statement failed on the keys instead.
    /// </param>
    private async Task<List<(CommitItem Item, string Key)>> FindKeyConflictsAsync(List<CommitItem> group, IReadOnlyCollection<int>? stale)
    {
        var conflicting = new List<(CommitItem, string)>();
        var claimed = new Dictionary<(string EventId, string Key), CommitItem>();
        // The writer's own connection (free again: the failed group's was disposed): a lookup rented from the shared
        // pool could wait behind readers holding every connection there, and fail the whole group.
        await using var connection = await _writerDataSource.OpenConnectionAsync();
        for (var place = 0; place < group.Count; place++)
        {
            if (stale is not null && !stale.Contains(place)) continue;
            var item = group[place];
            var shard = item.Batch.Shard;
            if (item.Batch.Keys.Count > 0 && !await FenceMatchesAsync(connection, item.Batch)) continue;
            // A batch's new keys count against later batches only if the whole batch is kept: a refused batch writes
            // none of them (SQLite's writer, which inserts them one by one, rolls them back with the batch).
            var newKeys = new List<(string EventId, string Key)>();
            string? refusedKey = null;
            foreach (var key in item.Batch.Keys)
            {
                var stored = await ReadKeyAsync(connection, shard.EventId, key.Key);
                // A key twice in one batch: a shard that is one type's home of a key and, for another type, the holder
                // of the same key's forward (a client reusing the key across types at once).
                var refused = key.PreviousOrderId is null
                    ? stored is not null || (claimed.TryGetValue((shard.EventId, key.Key), out var first) && first != item)
                        || newKeys.Contains((shard.EventId, key.Key))
                        || (key.Home is { } home && !await HomeHoldsAsync(connection, home))
                    : stored?.ShardKey != shard.Key || stored.OrderId != key.PreviousOrderId;
                if (refused)
                {
                    refusedKey = key.Key;
                    break;
                }
                if (key.PreviousOrderId is null) newKeys.Add((shard.EventId, key.Key));
            }
            // PostgreSQL passes over a home's row that another writer's transaction has locked instead of waiting for
            // it (PostgresLedgerWrites), which leaves nothing to find here once that transaction has ended: the batch
            // is refused for its first such key, and the home commits the key itself instead.
            if (refusedKey is null && stale is not null) refusedKey = item.Batch.Keys.FirstOrDefault(k => k.Home is not null)?.Key;
            if (refusedKey is not null) conflicting.Add((item, refusedKey));
            else foreach (var newKey in newKeys) claimed.TryAdd(newKey, item);
        }
        // SQL Server passes over such a row too (READPAST) and fails the statement without saying whose it was: with
        // nothing else to explain the failure, every batch recording a home's key is refused, and each home commits its
        // key itself.
        if (conflicting.Count == 0 && stale is null)
        {
            foreach (var item in group)
            {
                if (item.Batch.Keys.FirstOrDefault(k => k.Home is not null) is { } recorded) conflicting.Add((item, recorded.Key));
            }
        }
        return conflicting;
    }

    /// <summary>Whether the home's row still has the epoch under which it forwarded.</summary>
    private static async Task<bool> HomeHoldsAsync(DbConnection connection, ForwardingHome home) =>
        await ReadFenceAsync(connection, home.ShardKey) is { } row && row.Epoch == home.Epoch;

    private static async Task<bool> FenceMatchesAsync(DbConnection connection, LedgerBatch batch) =>
        await ReadFenceAsync(connection, batch.Shard.Key) is { } row && row.Epoch == batch.Epoch && row.Sold == batch.OldSold;

    /// <summary>What a fence compares in shard <paramref name="shardKey"/>'s row: its epoch and sold count; null when it has no row.</summary>
    internal static async Task<(long Epoch, long Sold)?> ReadFenceAsync(DbConnection connection, string shardKey)
    {
        await using var read = new SqlStatement(ShardSql.ReadFence).With("@shard_key", shardKey).ToCommand(connection, null);
        await using var reader = await read.ExecuteReaderAsync();
        return await reader.ReadAsync() ? (Convert.ToInt64(reader.GetValue(0)), Convert.ToInt64(reader.GetValue(1))) : null;
    }

    /// <summary>Reads idempotency key <paramref name="key"/> of event <paramref name="eventId"/>, whichever shard holds it; null when the event has no such key.</summary>
    internal static async Task<StoredKey?> ReadKeyAsync(
        DbConnection connection, string eventId, string key, CancellationToken cancellationToken = default)
    {
        await using var read = new SqlStatement(ShardSql.ReadKey)
            .With("@event_id", eventId).With("@idem_key", key).ToCommand(connection, null);
        await using var reader = await read.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken)
            ? new StoredKey(reader.GetString(0), reader.GetString(1), reader.GetString(2))
            : null;
    }

    /// <summary>A statement named a column its table does not have (PostgreSQL 42703, SQL Server 207 or 1911).</summary>
    private static bool IsMissingColumn(DbException exception) => exception switch
    {
        PostgresException postgres => postgres.SqlState == PostgresErrorCodes.UndefinedColumn,
        SqliteException sqlite => sqlite.Message.Contains("no such column", StringComparison.Ordinal),
        Microsoft.Data.SqlClient.SqlException sqlServer => sqlServer.Number is 207 or 1911,
        _ => false,
    };

    private static bool IsKeyConflict(DbException exception) => exception is PostgresException postgres
        ? postgres.SqlState == PostgresErrorCodes.UniqueViolation && postgres.ConstraintName == ShardSql.EventKeyIndex
        : exception.Message.Contains(ShardSql.EventKeyIndex, StringComparison.Ordinal);

    /// <summary>
    /// A group's transaction failed on the keys (an insert or a move); nothing of it is durable. <see cref="Stale"/>
    /// names the places of the batches PostgreSQL's group statement reported as not fully written, if it got that far.
    /// </summary>
    private sealed class KeyConflictException(string message, Exception? inner = null, IReadOnlyCollection<int>? stale = null)
        : Exception(message, inner)
    {
        public IReadOnlyCollection<int>? Stale { get; } = stale;
    }

    private async Task CommitGroupOnceAsync(List<CommitItem> group)
    {
        DbConnection? connection = null;
        DbTransaction transaction;
        try
        {
            await EnsureReadyAsync();
            connection = await _writerDataSource.OpenConnectionAsync();
            transaction = await connection.BeginTransactionAsync(FencingIsolation);
        }
        catch (Exception exception)
        {
            // Npgsql gives a pool slot back only when its connection is disposed: an open that failed here would
            // otherwise keep the writer's only slot and leave the database unwritable from this silo.
            if (connection is not null) await connection.DisposeAsync();
            throw new ShardDatabaseUnavailableException(Ordinal, exception);
        }
        await using var ownedConnection = connection;
        await using var ownedTransaction = transaction;
        try
        {
            await WriteGroupAsync(group, connection, transaction);
        }
        catch (DbException exception) when (IsKeyConflict(exception))
        {
            throw new KeyConflictException(exception.Message, exception);
        }
        catch (DbException exception)
        {
            // Nothing is durable until COMMIT: a failure before it leaves no trace. Pooled connections may all have been
            // cut (a server restart, terminated backends), so they are dropped rather than failing one commit each; not
            // for rows the database refused, which says nothing of the connections (and would drop every shard's idle
            // connections and prepared statements on this database twice: for the group, then for the culprit alone).
            var unavailable = new ShardDatabaseUnavailableException(Ordinal, exception);
            if (!IsRefusedRows(unavailable)) ClearPool();
            throw unavailable;
        }
        try
        {
            await transaction.CommitAsync();
        }
        catch
        {
            // The COMMIT itself failed: it may or may not have landed. The shards reload before selling again.
            ClearPool();
            throw;
        }
    }

    private async Task WriteGroupAsync(List<CommitItem> group, DbConnection connection, DbTransaction transaction)
    {
        // Fences first: a batch whose shard was claimed by a newer activation (or whose sold count moved)
        // matches no row and writes nothing, without disturbing the other shards in the group.
        var batches = group.Select(pending => pending.Batch).ToList();
        bool[] matched;
        if (_dialect == SqlDialect.PostgreSql)
        {
            // Fences, rows and inventory changes in one statement.
            var stale = new List<int>();
            matched = await PostgresLedgerWrites.FenceAndWriteAsync(connection, transaction, batches, stale);
            // Thrown before COMMIT, so the transaction is rolled back whole, as after a refused insert.
            if (stale.Count > 0) throw new KeyConflictException($"{stale.Count} batches did not write every key they carry", stale: stale);
        }
        else
        {
            var rows = await SqlStatement.ExecuteAllAsync(connection, transaction, batches.Select(FenceFor).ToList(), CancellationToken.None);
            matched = rows.Select(count => count == 1).ToArray();
        }

        var committed = new List<LedgerBatch>(group.Count);
        for (var i = 0; i < group.Count; i++)
        {
            if (!matched[i])
            {
                group[i].Outcome = CommitOutcome.Fenced;
                continue;
            }
            group[i].Outcome = CommitOutcome.Committed;
            committed.Add(group[i].Batch);
        }
        // PostgreSQL wrote the rows and the inventory changes with the fences, in the statement above.
        if (_dialect == SqlDialect.PostgreSql) return;
        List<SqlStatement> writes = [.. committed.SelectMany(RowWrites)];
        foreach (var batch in committed) writes.AddRange(InventoryWrites(batch, _sql));
        await SqlStatement.ExecuteAllAsync(connection, transaction, writes, CancellationToken.None);
    }

    private void ClearPool()
    {
        if (_dataSource is NpgsqlDataSource npgsql) npgsql.Clear();
        if (_writerDataSource is NpgsqlDataSource writer && !ReferenceEquals(writer, _dataSource)) writer.Clear();
    }

    /// <summary>
    /// The batch's fence: sold count only, or with the inventory columns when the batch changes them (SQLite and SQL
    /// Server; PostgreSQL fences inside its group statement).
    /// </summary>
    internal static SqlStatement FenceFor(LedgerBatch batch)
    {
        var fence = new SqlStatement(batch.Changes is null ? ShardSql.Fence : ShardSql.FenceWithInventory)
            .With("@shard_key", batch.Shard.Key).With("@epoch", batch.Epoch)
            .With("@old_sold", batch.OldSold).With("@new_sold", batch.NewSold);
        if (batch.Changes is { } changes)
        {
            fence.With("@capacity", changes.Capacity).With("@segments", changes.Segments).With("@retired", changes.Retired ? 1 : 0);
        }
        return fence;
    }

    /// <summary>
    /// The rare writes of an inventory change, after its fence matched (SQLite and SQL Server; PostgreSQL writes the
    /// same rows inside its group statement, <see cref="PostgresLedgerWrites"/>).
    /// </summary>
    internal static IEnumerable<SqlStatement> InventoryWrites(LedgerBatch batch, ShardSql sql) =>
        // Nearly every batch only sells: it gets the shared empty array, not an iterator of its own.
        batch.Changes is { } changes ? InventoryWrites(batch.Shard.Key, changes, sql) : [];

    private static IEnumerable<SqlStatement> InventoryWrites(string shardKey, InventoryChanges changes, ShardSql sql)
    {
        foreach (var (receiver, transfer) in changes.TransfersOut)
        {
            yield return new SqlStatement(ShardSql.InsertTransferOut)
                .With("@transfer_id", transfer.TransferId).With("@donor_key", shardKey).With("@receiver_key", receiver)
                .With("@segments", SegmentText.Format(transfer.Segments)).With("@quantity", transfer.Quantity);
        }
        foreach (var transfer in changes.TransfersIn)
        {
            yield return new SqlStatement(ShardSql.InsertTransferIn)
                .With("@transfer_id", transfer.TransferId).With("@receiver_key", shardKey).With("@donor_key", transfer.Donor)
                .With("@segments", SegmentText.Format(transfer.Segments)).With("@quantity", transfer.Quantity);
        }
        foreach (var transferId in changes.Delivered)
        {
            yield return new SqlStatement(ShardSql.MarkDelivered).With("@transfer_id", transferId).With("@donor_key", shardKey);
        }
        foreach (var orderId in changes.Refusals)
        {
            yield return new SqlStatement(sql.InsertRefusal).With("@order_id", orderId).With("@shard_key", shardKey);
        }
    }

    /// <summary>
    /// An order's serials as stored: null when they are one run from <c>first_serial</c> (almost always), else the
    /// segments, for an order that used serials its shard took in from others.
    /// </summary>
    internal static string? SerialSegmentsOf(OrderDetails order)
    {
        var tickets = order.Tickets;
        var contiguous = true;
        for (var i = 1; i < tickets.Length && contiguous; i++) contiguous = tickets[i].Serial == tickets[i - 1].Serial + 1;
        if (contiguous) return null;
        var segments = new List<Inventory.SerialSegment>();
        foreach (var ticket in tickets)
        {
            if (segments.Count > 0 && segments[^1].End == ticket.Serial) segments[^1] = segments[^1] with { Count = segments[^1].Count + 1 };
            else segments.Add(new Inventory.SerialSegment(ticket.Serial, 1));
        }
        return SegmentText.Format(segments);
    }

    /// <summary>A batch's orders, tickets and keys, a statement per order and per key (engines without array parameters).</summary>
    private IEnumerable<SqlStatement> RowWrites(LedgerBatch batch)
    {
        var shardKey = batch.Shard.Key;
        foreach (var order in batch.Orders)
        {
            yield return new SqlStatement(_sql.InsertOrder)
                .With("@order_key", OrderId.KeyOf(order.OrderId)).With("@order_id", order.OrderId).With("@shard_key", shardKey)
                .With("@event_id", order.EventId).With("@ticket_type_id", order.TicketTypeId)
                .With("@quantity", order.Quantity).With("@first_serial", order.Tickets[0].Serial)
                .With("@serial_segments", (object?)SerialSegmentsOf(order) ?? DBNull.Value)
                .With("@unit_price_cents", Money.ToCents(order.UnitPrice))
                .With("@currency", order.Currency).With("@buyer_name", order.Buyer.Name)
                .With("@buyer_email", order.Buyer.Email).With("@created_at_ms", order.CreatedAt.ToUnixTimeMilliseconds());
            yield return TicketInsert(order);
        }
        foreach (var key in batch.Keys)
        {
            if (key.Home is { } home)
            {
                yield return new SqlStatement(_sql.InsertForwardedKey)
                    .With("@event_id", batch.Shard.EventId).With("@idem_key", key.Key).With("@shard_key", home.ShardKey)
                    .With("@fingerprint", key.Fingerprint).With("@order_id", key.OrderId).With("@home_epoch", home.Epoch);
                continue;
            }
            yield return key.PreviousOrderId is { } previous
                ? new SqlStatement(_sql.MoveKey)
                    .With("@order_id", key.OrderId).With("@event_id", batch.Shard.EventId).With("@idem_key", key.Key)
                    .With("@shard_key", shardKey).With("@previous_order_id", previous)
                : new SqlStatement(ShardSql.InsertKey)
                    .With("@event_id", batch.Shard.EventId).With("@idem_key", key.Key).With("@shard_key", shardKey)
                    .With("@fingerprint", key.Fingerprint).With("@order_id", key.OrderId);
        }
    }

    private static SqlStatement TicketInsert(OrderDetails order)
    {
        var sql = new StringBuilder(ShardSql.InsertTicketsPrefix);
        for (var i = 0; i < order.Tickets.Length; i++)
        {
            if (i > 0) sql.Append(',');
            sql.Append(CultureInfo.InvariantCulture, $"(@e, @t, @s{i}, @o, @c{i})");
        }
        var statement = new SqlStatement(sql.ToString())
            .With("@e", order.EventId).With("@t", order.TicketTypeId).With("@o", order.OrderId);
        for (var i = 0; i < order.Tickets.Length; i++)
        {
            statement.With($"@s{i}", order.Tickets[i].Serial).With($"@c{i}", order.Tickets[i].Code);
        }
        return statement;
    }

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

    [LoggerMessage(Level = LogLevel.Warning, Message = "Shard database {Ordinal} refused a group of {Batches} batches for its rows; committing them one at a time")]
    private static partial void LogGroupRefused(ILogger logger, Exception exception, int ordinal, int batches);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Shard database {Ordinal}: the group-commit writer could not connect, or work out its types, ahead of the sale; its first commit will try again")]
    private static partial void LogWriterNotConnected(ILogger logger, Exception exception, int ordinal);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Shard database {Ordinal}: the writer cannot check that its files are the ones their paths name, " +
        "and from now on checks only that files are at those paths")]
    private static partial void LogFileWatchFailed(ILogger logger, Exception exception, int ordinal);

    [LoggerMessage(Level = LogLevel.Critical, Message = "Shard database {Ordinal} ({Path}): its files were moved or removed under the running service; " +
        "copy them out of this process before stopping it, as the exception says")]
    private static partial void LogFilesMoved(ILogger logger, Exception exception, int ordinal, string path);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Group commit on shard database {Ordinal} failed for {Batches} batches")]
    private static partial void LogCommitFailed(ILogger logger, Exception exception, int ordinal, int batches);

}
