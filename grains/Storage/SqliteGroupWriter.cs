using System.Runtime.InteropServices;
using Microsoft.Data.Sqlite;
using OrleansTickets.Orders;

namespace OrleansTickets.Storage;

/// <summary>
/// Commits groups of shard batches to one SQLite database on a single long-lived connection whose statements are
/// prepared once. SQLite does its work (and its fsync) synchronously, so this runs on the database's own writer
/// thread and never blocks the thread pool that Orleans and Kestrel share.
/// </summary>
internal sealed class SqliteGroupWriter(int ordinal, SqliteWriterSettings settings, Func<Task> ensureReady, Func<string?> stamp) : IDisposable
{
    private SqliteConnection? _connection;
    private SqliteCommand _claim = null!;
    private SqlitePreparedStatement _fence = null!;
    private SqlitePreparedStatement _order = null!;
    private SqlitePreparedStatement _ticket = null!;
    private SqlitePreparedStatement _newKey = null!;
    private SqlitePreparedStatement _moveKey = null!;
    private SqlitePreparedStatement _forwardedKey = null!;

    // The write-ahead log's size in pages, as far as this connection knows it, and after a checkpoint that copied it
    // whole, the log's checkpoint sequence number and size then (CheckpointIfDue).
    private long _logPages;
    private (uint Sequence, long LogPages)? _copiedWhole;

    // SQLITE_CONSTRAINT_PRIMARYKEY: the key insert's only constraint is the keys' primary key, (event, key).
    private const int PrimaryKeyConstraintFailed = 1555;

    // Set once the database's files are found moved (AcknowledgeOnlyFilesInPlace). The connection stays open from then
    // on, since it may hold the only copy of what was committed, and nothing more is written through it.
    private ShardDatabaseFilesMovedException? _filesMoved;
    private WriteAheadLogWatch? _logWatch;

    /// <summary>
    /// Runs every item in one transaction and stores each item's result; the caller completes them after. Returns how
    /// many times the group was rolled back and written again (0 or 1).
    /// </summary>
    /// <remarks>
    /// A batch whose new key the event already has, or whose key move finds the key changed, gets
    /// <see cref="CommitOutcome.KeyConflict"/> and writes nothing. That happens only when a client reuses a key (for
    /// another ticket type, or in a shard's later activation), so the common path writes the group without savepoints
    /// and pays nothing for it. At the first conflict it rolls back, and one more pass writes every batch inside a
    /// savepoint of its own, dropping each conflicting batch alone: two passes at most, however many batches of the
    /// group reuse keys (dropping one batch per pass took k + 1 passes for k of them, each rewriting the group, so a
    /// client reusing keys on purpose made the writer's work grow with the square of the group).
    /// </remarks>
    public int Commit(IReadOnlyList<WriterItem> group, ShardSql sql)
    {
        if (TryCommit(group, sql, savepointPerBatch: false)) return 0;
        TryCommit(group, sql, savepointPerBatch: true);
        return 1;
    }

    /// <summary>
    /// One transaction over <paramref name="group"/>; false when a batch hit a key conflict without a savepoint, in which
    /// case everything was rolled back.
    /// </summary>
    private bool TryCommit(IReadOnlyList<WriterItem> group, ShardSql sql, bool savepointPerBatch)
    {
        if (group.Count == 0) return true;
        if (_filesMoved is { } moved) throw new ShardDatabaseUnavailableException(ordinal, moved);
        SqliteTransaction transaction;
        try
        {
            EnsureOpen(sql);
            transaction = _connection!.BeginTransaction();
        }
        catch (Exception exception)
        {
            Reset();
            throw new ShardDatabaseUnavailableException(ordinal, exception);
        }

        try
        {
            using (transaction)
            {
                try
                {
                    // The prepared statements run in the connection's open transaction; only commands need telling.
                    _claim.Transaction = transaction;
                    foreach (var item in group)
                    {
                        switch (item)
                        {
                            case ClaimItem claim:
                                ClaimAlone(claim, transaction);
                                break;
                            case CommitItem commit when savepointPerBatch:
                                WriteAlone(commit, sql, transaction);
                                break;
                            case CommitItem commit:
                                commit.Outcome = Write(commit.Batch, sql, transaction);
                                // Disposing the transaction without committing rolls back every batch written so far.
                                if (commit.Outcome.Kind == CommitOutcomeKind.KeyConflict) return false;
                                break;
                        }
                    }
                }
                catch (System.Data.Common.DbException exception)
                {
                    // Before COMMIT nothing is durable, and disposing the transaction rolls it back: a definite failure.
                    throw new ShardDatabaseUnavailableException(ordinal, exception);
                }
                transaction.Commit();
                AcknowledgeOnlyFilesInPlace();
                return true;
            }
        }
        catch (Exception exception) when (exception is not ShardDatabaseFilesMovedException)
        {
            // The connection's state is unknown after a failed write; start from a fresh one next time.
            Reset();
            throw;
        }
    }

    /// <summary>
    /// Throws <see cref="ShardDatabaseFilesMovedException"/> when the database file this connection writes is no longer
    /// the one its path names, or its write-ahead log is no longer at its path: a commit is durable only in files that
    /// outlive the process.
    /// </summary>
    /// <remarks>
    /// Invariant: no group is acknowledged unless, after its COMMIT, the path still names the files it went into. On
    /// Unix an open file can be unlinked or renamed over (a data folder cleaned up, a backup put in its place), and SQLite
    /// in WAL mode goes on committing into it without a word; its orders then vanish when the process ends, and the
    /// next start finds an older file, or none, whose shards sell the same serials again. SQLite's unix VFS answers
    /// SQLITE_FCNTL_HAS_MOVED by comparing the path's inode with the open file's (one <c>stat</c>); the log is watched
    /// through this process's descriptors on it (<see cref="WriteAheadLogWatch"/>, a <c>readlink</c> each). The check comes after
    /// the COMMIT so that a move during it is caught too; the group's buyers then hear "outcome unknown", which is what it
    /// is until someone does or does not put the files back. A finding is looked at once more before it stands: a
    /// passing <c>stat</c> error would otherwise close the database until a restart.
    /// </remarks>
    private void AcknowledgeOnlyFilesInPlace()
    {
        if (FilesInPlace() || FilesInPlace()) return;
        var path = _connection!.DataSource;
        _filesMoved = new ShardDatabaseFilesMovedException(ordinal, path, WriteAheadLogWatch.HeldOpen(path));
        throw _filesMoved;
    }

    private bool FilesInPlace()
    {
        var path = _connection!.DataSource;
        if (FileWatchFailure is not null) return NamesInPlace(path);
        try
        {
            var databaseInPlace = sqlite3_file_control(_connection.Handle!.DangerousGetHandle(), IntPtr.Zero, SqliteFcntlHasMoved, out var hasMoved) == 0
                ? hasMoved == 0
                : File.Exists(path);
            _logWatch ??= new WriteAheadLogWatch(path);
            return databaseInPlace && _logWatch.InPlace();
        }
        catch (Exception exception)
        {
            // The watch itself failing (no sqlite3_file_control in the library, no /proc) must not fail commits that
            // landed: from then on only the files' names are checked, and the writer's owner says so once.
            FileWatchFailure = exception;
            return NamesInPlace(path);
        }
    }

    private static bool NamesInPlace(string path) => File.Exists(path) && File.Exists(path + "-wal");

    /// <summary>Set once when the check of the files' identity failed and only their names are checked since.</summary>
    public Exception? FileWatchFailure { get; private set; }

    // SQLITE_FCNTL_HAS_MOVED: whether the main database file was unlinked or renamed since it was opened.
    private const int SqliteFcntlHasMoved = 20;

    // The library SQLitePCLRaw loads for Microsoft.Data.Sqlite; SQLitePCLRaw itself offers no sqlite3_file_control.
    [DllImport("e_sqlite3", CallingConvention = CallingConvention.Cdecl)]
    private static extern int sqlite3_file_control(IntPtr db, IntPtr databaseName, int operation, out int argument);

    /// <summary>Writes one batch inside a savepoint, undoing whatever it wrote (its fence included) when its keys conflict.</summary>
    private void WriteAlone(CommitItem commit, ShardSql sql, SqliteTransaction transaction)
    {
        const string savepoint = "batch";
        transaction.Save(savepoint);
        commit.Outcome = Write(commit.Batch, sql, transaction);
        if (commit.Outcome.Kind == CommitOutcomeKind.KeyConflict) transaction.Rollback(savepoint);
        transaction.Release(savepoint);
    }

    /// <summary>
    /// Claims inside a savepoint: a row that disagrees with the catalog refuses that claim alone, with its epoch bump
    /// undone as on engines that claim in a transaction of their own, instead of failing every shard's batch in the
    /// group (and again at each of that shard's retries).
    /// </summary>
    private void ClaimAlone(ClaimItem claim, SqliteTransaction transaction)
    {
        const string savepoint = "claim";
        transaction.Save(savepoint);
        // A group written twice (a key conflict) claims twice: only the pass that commits decides.
        claim.Refusal = null;
        try
        {
            claim.Result = Claim(claim);
        }
        catch (InvalidOperationException exception)
        {
            transaction.Rollback(savepoint);
            claim.Refusal = exception;
        }
        transaction.Release(savepoint);
    }

    private ClaimedRow Claim(ClaimItem claim)
    {
        Set(_claim, claim.Shard.Key, claim.Block.First, (long)claim.Block.Size, ShardDatabase.InitialSegments(claim.Block), claim.HeldEpoch,
            claim.Shard.EventId, claim.Shard.TicketTypeId, (object?)stamp() ?? DBNull.Value);
        using var reader = _claim.ExecuteReader();
        if (!reader.Read()) throw ShardDatabase.NoClaimedRow(claim.Shard, claim.HeldEpoch);
        return ShardDatabase.ReadClaim(reader, claim.Shard, claim.Block);
    }

    private CommitOutcome Write(LedgerBatch batch, ShardSql sql, SqliteTransaction transaction)
    {
        var shardKey = batch.Shard.Key;
        // The fence: only the activation holding the current epoch, extending the stored count, may write.
        if (batch.Changes is null)
        {
            if (_fence.Bind(0, shardKey).Bind(1, batch.Epoch).Bind(2, batch.OldSold).Bind(3, batch.NewSold).Execute() != 1)
            {
                return CommitOutcome.Fenced;
            }
        }
        else if (Execute(ShardDatabase.FenceFor(batch), transaction) != 1)
        {
            return CommitOutcome.Fenced;
        }

        foreach (var order in batch.Orders)
        {
            _order.Bind(0, OrderId.KeyOf(order.OrderId)).Bind(1, order.OrderId).Bind(2, shardKey).Bind(3, order.EventId)
                .Bind(4, order.TicketTypeId).Bind(5, order.Quantity).Bind(6, order.Tickets[0].Serial)
                .Bind(7, ShardDatabase.SerialSegmentsOf(order)).Bind(8, Money.ToCents(order.UnitPrice)).Bind(9, order.Currency)
                .Bind(10, order.Buyer.Name).Bind(11, order.Buyer.Email).Bind(12, order.CreatedAt.ToUnixTimeMilliseconds())
                .Execute();
            foreach (var ticket in order.Tickets)
            {
                _ticket.Bind(0, order.EventId).Bind(1, order.TicketTypeId).Bind(2, ticket.Serial).Bind(3, order.OrderId)
                    .Bind(4, ticket.Code).Execute();
            }
        }
        foreach (var key in batch.Keys)
        {
            if (key.PreviousOrderId is { } previous)
            {
                var moved = _moveKey.Bind(0, key.OrderId).Bind(1, batch.Shard.EventId).Bind(2, key.Key).Bind(3, shardKey)
                    .Bind(4, previous).Execute();
                if (moved != 1) return CommitOutcome.KeyConflict(key.Key);
                continue;
            }
            try
            {
                if (key.Home is { } home)
                {
                    // A holder recording its home's key: refused, like a key another home holds, once the home's row has
                    // a newer epoch (ShardSql.InsertForwardedKey).
                    var recorded = _forwardedKey.Bind(0, batch.Shard.EventId).Bind(1, key.Key).Bind(2, home.ShardKey)
                        .Bind(3, key.Fingerprint).Bind(4, key.OrderId).Bind(5, home.Epoch).Execute();
                    if (recorded != 1) return CommitOutcome.KeyConflict(key.Key);
                    continue;
                }
                _newKey.Bind(0, batch.Shard.EventId).Bind(1, key.Key).Bind(2, shardKey).Bind(3, key.Fingerprint).Bind(4, key.OrderId)
                    .Execute();
            }
            catch (SqliteException exception) when (exception.SqliteExtendedErrorCode == PrimaryKeyConstraintFailed)
            {
                return CommitOutcome.KeyConflict(key.Key);
            }
        }
        // Inventory changes are rare (the end of a sale, operators' actions), so they are not prepared.
        foreach (var statement in ShardDatabase.InventoryWrites(batch, sql)) Execute(statement, transaction);
        return CommitOutcome.Committed;
    }

    /// <summary>
    /// After a commit: once the write-ahead log holds <see cref="SqliteWriterSettings.CheckpointPages"/> pages, copies
    /// what it can of it into the database file without waiting for readers (a passive checkpoint), and says how far that
    /// got; null when none was due, or when the writer has no connection open. Throws what SQLite reports, such as a full
    /// disk or an I/O error on the database file.
    /// </summary>
    /// <remarks>
    /// This is SQLite's own automatic checkpoint (<c>wal_autocheckpoint</c>), taken over: the same passive checkpoint,
    /// due at the same log size, after every commit while the log stays that long. SQLite's drops its outcome, so a log
    /// that can no longer be copied (a full disk, a failing file, a reader left open) would only show once the log had
    /// filled the disk. SQLite knows the log's size from its wal hook, which SQLitePCLRaw does not offer, so it is counted
    /// here: the pages each commit wrote to the log (<c>SQLITE_DBSTATUS_CACHE_WRITE</c>, which may count a page twice,
    /// so that a checkpoint comes early, never late) on top of what the last checkpoint found in it. After a checkpoint
    /// that copied the whole log, SQLite starts the log afresh at the next commit, unless a reader still holds part of
    /// it; the log file's header says which, since its checkpoint sequence number moves on with every fresh start.
    /// </remarks>
    public WalCheckpoint? CheckpointIfDue()
    {
        if (_connection is null) return null;
        SQLitePCL.raw.sqlite3_db_status(_connection.Handle, SQLitePCL.raw.SQLITE_DBSTATUS_CACHE_WRITE, out var written, out _, 1);
        if (_copiedWhole is { } copied)
        {
            _copiedWhole = null;
            _logPages = ReadCheckpointSequence() is { } sequence && sequence != copied.Sequence ? written : copied.LogPages + written;
        }
        else
        {
            _logPages += written;
        }
        if (_logPages < settings.CheckpointPages) return null;
        using var command = _connection.CreateCommand();
        command.CommandText = "PRAGMA wal_checkpoint(PASSIVE);";
        WalCheckpoint checkpoint;
        using (var reader = command.ExecuteReader())
        {
            reader.Read();
            checkpoint = new WalCheckpoint(Busy: reader.GetInt64(0) != 0, LogPages: reader.GetInt64(1), CopiedPages: reader.GetInt64(2));
        }
        if (checkpoint.Known)
        {
            _logPages = checkpoint.LogPages;
            if (checkpoint.PagesBehind == 0 && ReadCheckpointSequence() is { } sequence) _copiedWhole = (sequence, checkpoint.LogPages);
        }
        return checkpoint;
    }

    /// <summary>The log's size in pages as <see cref="CheckpointIfDue"/> last counted it, for tests.</summary>
    internal long LogPages => Volatile.Read(ref _logPages);

    /// <summary>
    /// The write-ahead log file's checkpoint sequence number (bytes 12 to 15 of its header, big-endian: SQLite's file
    /// format), or null when the file cannot be read.
    /// </summary>
    private uint? ReadCheckpointSequence()
    {
        try
        {
            using var log = new FileStream(_connection!.DataSource + "-wal", FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, bufferSize: 1);
            Span<byte> header = stackalloc byte[16];
            return log.ReadAtLeast(header, header.Length, throwOnEndOfStream: false) < header.Length
                ? null
                : System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(header[12..]);
        }
        catch (Exception)
        {
            // Only a refinement of the count: without it, the next commit's count starts from the whole log, and a
            // checkpoint comes early.
            return null;
        }
    }

    private int Execute(SqlStatement statement, SqliteTransaction transaction)
    {
        using var command = statement.ToCommand(_connection!, transaction);
        return command.ExecuteNonQuery();
    }

    private void EnsureOpen(ShardSql sql)
    {
        if (_connection is not null) return;
        ensureReady().GetAwaiter().GetResult();
        var connection = _connection = new SqliteConnection(settings.ConnectionString);
        try
        {
            connection.Open();
            using (var pragma = connection.CreateCommand())
            {
                pragma.CommandText = ShardDatabase.SqliteConnectionPragmas + ShardDatabase.SqliteWriterPragmas;
                pragma.ExecuteNonQuery();
            }
            RefuseRelaxedDurability(connection);
            // What an earlier connection left in the log is not known here: the first commit checks it.
            _logPages = settings.CheckpointPages;
            _copiedWhole = null;
            _claim = Prepare(connection, sql.Claim, "@shard_key", "@block_first", "@block_size", "@segments", "@held_epoch", "@event_id", "@ticket_type_id", "@stamp");
            _fence = new SqlitePreparedStatement(connection, ShardSql.Fence, "@shard_key", "@epoch", "@old_sold", "@new_sold");
            _order = new SqlitePreparedStatement(connection, sql.InsertOrder, "@order_key", "@order_id", "@shard_key", "@event_id",
                "@ticket_type_id", "@quantity", "@first_serial", "@serial_segments", "@unit_price_cents", "@currency", "@buyer_name",
                "@buyer_email", "@created_at_ms");
            _ticket = new SqlitePreparedStatement(connection, ShardSql.InsertTicket, "@e", "@t", "@s", "@o", "@c");
            _newKey = new SqlitePreparedStatement(connection, ShardSql.InsertKey, "@event_id", "@idem_key", "@shard_key", "@fingerprint", "@order_id");
            _moveKey = new SqlitePreparedStatement(connection, sql.MoveKey, "@order_id", "@event_id", "@idem_key", "@shard_key", "@previous_order_id");
            _forwardedKey = new SqlitePreparedStatement(connection, sql.InsertForwardedKey, "@event_id", "@idem_key", "@shard_key", "@fingerprint",
                "@order_id", "@home_epoch");
        }
        catch
        {
            // The writer tries again at its next commit or claim: a half-opened writer left behind each time would hold
            // the file and the statements prepared so far until a finalizer ran.
            Reset();
            throw;
        }
    }

    /// <summary>
    /// Every acknowledged order rests on this connection's commits reaching the disk: WAL with synchronous=FULL
    /// (2). A connection that did not get them (a pragma lost in an edit, a file left in another journal mode) would
    /// sell on orders a power cut can take back, and nothing else would notice; it writes nothing instead.
    /// </summary>
    private void RefuseRelaxedDurability(SqliteConnection connection)
    {
        using var check = connection.CreateCommand();
        check.CommandText = "PRAGMA journal_mode; PRAGMA synchronous;";
        using var reader = check.ExecuteReader();
        reader.Read();
        var journal = reader.GetString(0);
        reader.NextResult();
        reader.Read();
        var synchronous = reader.GetInt64(0);
        if (!string.Equals(journal, "wal", StringComparison.OrdinalIgnoreCase) || synchronous != 2)
        {
            connection.Dispose();
            throw new InvalidOperationException(
                $"Shard database {ordinal}: the writer got journal_mode={journal}, synchronous={synchronous}; it needs WAL and FULL (2) to promise durable orders.");
        }
    }

    private static SqliteCommand Prepare(SqliteConnection connection, string text, params string[] names)
    {
        var command = connection.CreateCommand();
        command.CommandText = text;
        foreach (var name in names) command.Parameters.Add(new SqliteParameter { ParameterName = name, Value = DBNull.Value });
        command.Prepare();
        return command;
    }

    private static void Set(SqliteCommand command, params object[] values)
    {
        for (var i = 0; i < values.Length; i++) command.Parameters[i].Value = values[i];
    }

    private void Reset()
    {
        if (_connection is null) return;
        // Statements are finalized before their connection closes.
        foreach (var statement in new[] { _fence, _order, _ticket, _newKey, _moveKey, _forwardedKey }) statement?.Dispose();
        _claim?.Dispose();
        // A later open that fails part way must not finalize this connection's statements again.
        (_fence, _order, _ticket, _newKey, _moveKey, _forwardedKey, _claim) = (null!, null!, null!, null!, null!, null!, null!);
        // Disposing returns the handle to the pool, and the next open would get the same one back (with this writer's
        // cache and checkpoint settings): cleared first, so the next open really is a fresh connection.
        SqliteConnection.ClearPool(_connection);
        _connection.Dispose();
        _connection = null;
        // The descriptors it found belonged to the connections just closed.
        _logWatch = null;
    }

    public void Dispose() => Reset();
}
