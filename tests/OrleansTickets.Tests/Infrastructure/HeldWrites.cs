using System.Data.Common;
using Microsoft.Data.Sqlite;
using Npgsql;
using OrleansTickets.Storage;

namespace OrleansTickets.Tests.Infrastructure;

/// <summary>
/// Blocks every write to one shard database until disposed: a transaction that holds SQLite's write lock, or on
/// PostgreSQL an exclusive lock on the shard rows' table (reads go on). A test holds a commit in flight with it. On
/// PostgreSQL, <see cref="HoldOrdersTableAsync"/> blocks the orders table's reads too.
/// </summary>
public sealed class HeldWrites : IAsyncDisposable
{
    private readonly DbConnection _connection;
    private readonly DbTransaction _transaction;

    private HeldWrites(DbConnection connection, DbTransaction transaction)
    {
        _connection = connection;
        _transaction = transaction;
    }

    public static async Task<HeldWrites> HoldAsync(ShardDatabase database)
    {
        var connection = await database.OpenAsync();
        DbTransaction transaction;
        if (connection is SqliteConnection sqlite)
        {
            transaction = sqlite.BeginTransaction(deferred: false);
        }
        else
        {
            transaction = await connection.BeginTransactionAsync();
            await using var command = connection.CreateCommand();
            command.Transaction = transaction;
            // The pool's connections end a transaction idle for 10 s (DatabaseServer.EndingIdleTransactions); a test's
            // hold is idle by design, and must last until the test lets go, however long that is.
            command.CommandText = "SET LOCAL idle_in_transaction_session_timeout = 0; LOCK TABLE shard_state IN EXCLUSIVE MODE";
            await command.ExecuteNonQueryAsync();
        }
        return new HeldWrites(connection, transaction);
    }

    /// <summary>
    /// PostgreSQL: blocks every read and write of the orders table in the database <paramref name="connectionString"/>
    /// names, until disposed; a test holds a query on it in flight, and watches it wait (<see cref="UntilLockWaitsAsync"/>).
    /// </summary>
    public static async Task<HeldWrites> HoldOrdersTableAsync(string connectionString)
    {
        var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        var transaction = await connection.BeginTransactionAsync();
        await using (var hold = new NpgsqlCommand("LOCK TABLE orders IN ACCESS EXCLUSIVE MODE", connection, transaction))
        {
            await hold.ExecuteNonQueryAsync();
        }
        return new HeldWrites(connection, transaction);
    }

    /// <summary>Waits until exactly <paramref name="expected"/> queries on PostgreSQL database <paramref name="database"/> wait on a lock.</summary>
    public static Task UntilLockWaitsAsync(string connectionString, string database, long expected, string failure) =>
        Poll.UntilAsync(async () =>
        {
            await using var connection = new NpgsqlConnection(connectionString);
            await connection.OpenAsync();
            await using var waiting = new NpgsqlCommand(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = @database AND wait_event_type = 'Lock'", connection);
            waiting.Parameters.AddWithValue("database", database);
            return (long)(await waiting.ExecuteScalarAsync())! == expected;
        }, attempts: 500, delayMilliseconds: 20, failure: failure);

    /// <summary>
    /// Waits until the writer of <paramref name="database"/> has taken everything queued so far (so it now waits on
    /// the held lock with it), and whatever is queued next goes into one later group together.
    /// </summary>
    public static Task UntilTakenAsync(ShardDatabase database) =>
        Poll.UntilAsync(() => Task.FromResult(database.QueuedWrites == 0), delayMilliseconds: 10, attempts: 1000,
            failure: $"The writer of shard database {database.Ordinal} never took its queued writes.");

    public async ValueTask DisposeAsync()
    {
        await _transaction.RollbackAsync();
        await _transaction.DisposeAsync();
        await _connection.DisposeAsync();
    }
}
