using Npgsql;
using OrleansTickets.LoadGenerator.Verification;

namespace OrleansTickets.LoadGenerator.Audit;

/// <summary>
/// Reads one event's ledger from every PostgreSQL shard database of a deployment: the databases named after the
/// catalog database with a <c>_shard_NNNN</c> suffix.
/// </summary>
public static class LedgerReader
{
    public static async Task<LedgerSnapshot> ReadAsync(string catalogConnectionString, string eventId, CancellationToken cancellation)
    {
        var catalog = new NpgsqlConnectionStringBuilder(catalogConnectionString);
        var prefix = catalog.Database + "_shard_";
        var databases = new List<string>();
        await using (var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(catalogConnectionString) { Database = "postgres" }.ConnectionString))
        {
            await connection.OpenAsync(cancellation);
            await using var list = new NpgsqlCommand("SELECT datname FROM pg_database WHERE starts_with(datname, @prefix) ORDER BY datname", connection);
            list.Parameters.AddWithValue("prefix", prefix);
            await using var reader = await list.ExecuteReaderAsync(cancellation);
            while (await reader.ReadAsync(cancellation)) databases.Add(reader.GetString(0));
        }

        var shards = new List<LedgerShard>();
        var orders = new List<LedgerOrder>();
        var tickets = new List<LedgerTicket>();
        var transfersOut = new List<LedgerTransfer>();
        var transfersIn = new List<string>();
        var keyPrefix = eventId + "/";
        foreach (var database in databases)
        {
            await using var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(catalogConnectionString) { Database = database }.ConnectionString);
            await connection.OpenAsync(cancellation);
            await ReadAsync(connection, "SELECT shard_key, capacity, sold FROM shard_state WHERE starts_with(shard_key, @p)", keyPrefix,
                r => shards.Add(new LedgerShard(database, r.GetString(0), TypeOf(r.GetString(0)), r.GetInt64(1), r.GetInt64(2))), cancellation);
            await ReadAsync(connection, "SELECT order_id, shard_key, ticket_type_id, quantity, buyer_name, buyer_email FROM orders WHERE event_id = @p", eventId,
                r => orders.Add(new LedgerOrder(database, r.GetString(0), r.GetString(1), r.GetString(2), r.GetInt32(3), r.GetString(4), r.GetString(5))), cancellation);
            await ReadAsync(connection, "SELECT ticket_type_id, serial, order_id, code FROM tickets WHERE event_id = @p", eventId,
                r => tickets.Add(new LedgerTicket(database, r.GetString(0), r.GetInt64(1), r.GetString(2), r.GetString(3))), cancellation);
            await ReadAsync(connection, "SELECT transfer_id, donor_key, quantity, delivered FROM transfers_out WHERE starts_with(donor_key, @p)", keyPrefix,
                r => transfersOut.Add(new LedgerTransfer(database, r.GetString(0), TypeOf(r.GetString(1)), r.GetInt64(2), r.GetInt32(3) != 0)), cancellation);
            await ReadAsync(connection, "SELECT transfer_id FROM transfers_in WHERE starts_with(receiver_key, @p)", keyPrefix,
                r => transfersIn.Add(r.GetString(0)), cancellation);
        }
        return new LedgerSnapshot(shards, orders, tickets, transfersOut, transfersIn);
    }

    private static string TypeOf(string shardKey) => shardKey.Split('/')[1];

    private static async Task ReadAsync(NpgsqlConnection connection, string sql, string parameter, Action<NpgsqlDataReader> row, CancellationToken cancellation)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        command.Parameters.AddWithValue("p", parameter);
        await using var reader = await command.ExecuteReaderAsync(cancellation);
        while (await reader.ReadAsync(cancellation)) row(reader);
    }
}
