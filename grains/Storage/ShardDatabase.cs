using System.Data.Common;
using System.Globalization;
using System.Text;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
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
    private readonly Channel<PendingCommit> _queue = Channel.CreateUnbounded<PendingCommit>(
        new UnboundedChannelOptions { SingleReader = true });
    private readonly DbDataSource _dataSource;
    private readonly SqlDialect _dialect;
    private readonly ShardSql _sql;
    private readonly Func<CancellationToken, Task> _createDatabase;
    private readonly int _maxOrdersPerCommit;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _initLock = new(1, 1);
    private readonly Task _writer;
    private volatile bool _initialized;

    internal ShardDatabase(
        int ordinal,
        SqlDialect dialect,
        DbDataSource dataSource,
        Func<CancellationToken, Task> createDatabase,
        int maxOrdersPerCommit,
        ILogger logger)
    {
        Ordinal = ordinal;
        _dialect = dialect;
        _sql = ShardSql.For(dialect);
        _dataSource = dataSource;
        _createDatabase = createDatabase;
        _maxOrdersPerCommit = maxOrdersPerCommit;
        _logger = logger;
        _writer = Task.Run(RunWriterAsync);
    }

    /// <summary>This database's number in the shard map.</summary>
    public int Ordinal { get; }

    internal ShardSql Sql => _sql;

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
            await SqlScripts.RunAsync(connection, _dialect, SqlScripts.Read("Shard", _sql.SchemaResource), cancellationToken);
            _initialized = true;
        }
        finally
        {
            _initLock.Release();
        }
    }

    /// <summary>Opens a connection with the durability settings this project promises.</summary>
    public async Task<DbConnection> OpenAsync(CancellationToken cancellationToken = default)
    {
        var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        if (_dialect == SqlDialect.Sqlite)
        {
            // synchronous is per connection, so it is set on every open: WAL + FULL makes each commit durable.
            await using var pragma = connection.CreateCommand();
            pragma.CommandText = "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA busy_timeout=10000;";
            await pragma.ExecuteNonQueryAsync(cancellationToken);
        }
        return connection;
    }

    /// <summary>Queues a shard's batch for the next group commit and completes when it is durable (or refused).</summary>
    public Task<CommitOutcome> CommitAsync(LedgerBatch batch)
    {
        var pending = new PendingCommit(batch);
        if (!_queue.Writer.TryWrite(pending))
        {
            return Task.FromException<CommitOutcome>(new ObjectDisposedException(nameof(ShardDatabase)));
        }
        return pending.Completion.Task;
    }

    private async Task RunWriterAsync()
    {
        var group = new List<PendingCommit>();
        var reader = _queue.Reader;
        while (await reader.WaitToReadAsync())
        {
            group.Clear();
            var orders = 0;
            while (orders < _maxOrdersPerCommit && reader.TryRead(out var next))
            {
                group.Add(next);
                orders += next.Batch.Orders.Count;
            }
            try
            {
                var outcomes = await CommitGroupAsync(group);
                for (var i = 0; i < group.Count; i++) group[i].Completion.TrySetResult(outcomes[i]);
            }
            catch (Exception exception)
            {
                LogCommitFailed(_logger, exception, Ordinal, group.Count);
                foreach (var pending in group) pending.Completion.TrySetException(exception);
            }
        }
    }

    private async Task<CommitOutcome[]> CommitGroupAsync(List<PendingCommit> group)
    {
        DbConnection connection;
        DbTransaction transaction;
        try
        {
            await EnsureReadyAsync();
            connection = await OpenAsync();
            transaction = await connection.BeginTransactionAsync();
        }
        catch (Exception exception)
        {
            throw new ShardDatabaseUnavailableException(Ordinal, exception);
        }
        await using var ownedConnection = connection;
        await using var ownedTransaction = transaction;

        // Fences first: a batch whose shard was claimed by a newer activation (or whose sold count moved)
        // matches no row and writes nothing, without disturbing the other shards in the group.
        var fences = new List<SqlStatement>(group.Count);
        foreach (var pending in group)
        {
            var batch = pending.Batch;
            fences.Add(new SqlStatement(ShardSql.Fence)
                .With("@shard_key", batch.Shard.Key).With("@epoch", batch.Epoch)
                .With("@old_sold", batch.OldSold).With("@new_sold", batch.NewSold));
        }
        var fenceRows = await SqlStatement.ExecuteAllAsync(connection, transaction, fences, CancellationToken.None);

        var outcomes = new CommitOutcome[group.Count];
        var writes = new List<SqlStatement>();
        for (var i = 0; i < group.Count; i++)
        {
            if (fenceRows[i] != 1)
            {
                outcomes[i] = CommitOutcome.Fenced;
                continue;
            }
            outcomes[i] = CommitOutcome.Committed;
            AddWrites(group[i].Batch, writes);
        }
        await SqlStatement.ExecuteAllAsync(connection, transaction, writes, CancellationToken.None);
        await transaction.CommitAsync();
        return outcomes;
    }

    private void AddWrites(LedgerBatch batch, List<SqlStatement> writes)
    {
        var shardKey = batch.Shard.Key;
        foreach (var order in batch.Orders)
        {
            writes.Add(new SqlStatement(ShardSql.InsertOrder)
                .With("@order_id", order.OrderId).With("@shard_key", shardKey)
                .With("@event_id", order.EventId).With("@ticket_type_id", order.TicketTypeId)
                .With("@quantity", order.Quantity).With("@unit_price_cents", Money.ToCents(order.UnitPrice))
                .With("@currency", order.Currency).With("@buyer_name", order.Buyer.Name)
                .With("@buyer_email", order.Buyer.Email).With("@created_at_ms", order.CreatedAt.ToUnixTimeMilliseconds()));
            writes.Add(TicketInsert(order));
        }
        foreach (var key in batch.Keys)
        {
            writes.Add(new SqlStatement(_sql.UpsertKey)
                .With("@shard_key", shardKey).With("@idem_key", key.Key)
                .With("@fingerprint", key.Fingerprint).With("@order_id", key.OrderId));
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
        await _writer;
        await _dataSource.DisposeAsync();
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Group commit on shard database {Ordinal} failed for {Batches} batches")]
    private static partial void LogCommitFailed(ILogger logger, Exception exception, int ordinal, int batches);

    private sealed class PendingCommit(LedgerBatch batch)
    {
        public LedgerBatch Batch { get; } = batch;

        public TaskCompletionSource<CommitOutcome> Completion { get; } =
            new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
