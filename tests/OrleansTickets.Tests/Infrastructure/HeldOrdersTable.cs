using Npgsql;

namespace OrleansTickets.Tests.Infrastructure;

/// <summary>
/// A lock on a PostgreSQL shard database's orders table that every read and write of it waits for, until disposed: a
/// test holds a query in flight with it, and watches it wait (<see cref="UntilWaitingAsync"/>).
/// </summary>
public sealed class HeldOrdersTable : IAsyncDisposable
{
    private readonly NpgsqlConnection _connection;
    private readonly NpgsqlTransaction _transaction;

    private HeldOrdersTable(NpgsqlConnection connection, NpgsqlTransaction transaction)
    {
        _connection = connection;
        _transaction = transaction;
    }

    /// <summary>Takes the lock in the database <paramref name="connectionString"/> names.</summary>
    public static async Task<HeldOrdersTable> HoldAsync(string connectionString)
    {
        var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        var transaction = await connection.BeginTransactionAsync();
        await using (var hold = new NpgsqlCommand("LOCK TABLE orders IN ACCESS EXCLUSIVE MODE", connection, transaction))
        {
            await hold.ExecuteNonQueryAsync();
        }
        return new HeldOrdersTable(connection, transaction);
    }

    /// <summary>Waits until exactly <paramref name="expected"/> queries on <paramref name="database"/> wait on a lock.</summary>
    public static Task UntilWaitingAsync(string connectionString, string database, long expected, string failure) =>
        Poll.UntilAsync(async () =>
        {
            await using var connection = new NpgsqlConnection(connectionString);
            await connection.OpenAsync();
            await using var waiting = new NpgsqlCommand(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = @database AND wait_event_type = 'Lock'", connection);
            waiting.Parameters.AddWithValue("database", database);
            return (long)(await waiting.ExecuteScalarAsync())! == expected;
        }, attempts: 500, delayMilliseconds: 20, failure: failure);

    public async ValueTask DisposeAsync()
    {
        await _transaction.RollbackAsync();
        await _transaction.DisposeAsync();
        await _connection.DisposeAsync();
    }
}
