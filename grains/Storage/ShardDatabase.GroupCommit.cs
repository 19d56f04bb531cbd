using System.Data.Common;
using System.Diagnostics;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using Npgsql;
using OrleansTickets.Inventory;

namespace OrleansTickets.Storage;

/// <summary>
/// The group-commit writer: one loop per database takes what the shards on it queue (their batches, and on SQLite their
/// claims too) and commits the batches of a cycle in one transaction, completing each batch's task only once that
/// transaction has committed (durable before yes); and the reads a group needs when the database refuses a key
/// (<see cref="ReadKeyAsync"/>, which the shards' own key reads use as well).
/// </summary>
public sealed partial class ShardDatabase
{
    // Rounds of "write the group, drop the batches whose key another shard holds" before the group is failed.
    private const int MaxKeyConflictRounds = 4;

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

    [LoggerMessage(Level = LogLevel.Warning, Message = "Shard database {Ordinal} refused a group of {Batches} batches for its rows; committing them one at a time")]
    private static partial void LogGroupRefused(ILogger logger, Exception exception, int ordinal, int batches);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Shard database {Ordinal}: the writer cannot check that its files are the ones their paths name, " +
        "and from now on checks only that files are at those paths")]
    private static partial void LogFileWatchFailed(ILogger logger, Exception exception, int ordinal);

    [LoggerMessage(Level = LogLevel.Critical, Message = "Shard database {Ordinal} ({Path}): its files were moved or removed under the running service; " +
        "copy them out of this process before stopping it, as the exception says")]
    private static partial void LogFilesMoved(ILogger logger, Exception exception, int ordinal, string path);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Group commit on shard database {Ordinal} failed for {Batches} batches")]
    private static partial void LogCommitFailed(ILogger logger, Exception exception, int ordinal, int batches);
}
