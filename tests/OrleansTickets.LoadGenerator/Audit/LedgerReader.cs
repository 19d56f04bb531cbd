using System.Data.Common;
using Microsoft.Data.Sqlite;
using Npgsql;
using OrleansTickets.LoadGenerator.Verification;

namespace OrleansTickets.LoadGenerator.Audit;

/// <summary>
/// Reads one event's ledger from every shard database of a deployment: on PostgreSQL the databases named after the
/// catalog database with a <c>_shard_NNNN</c> suffix, on SQLite the files <c>shards/shard_NNNN.db</c> of its data folder.
/// </summary>
public static class LedgerReader
{
    public static async Task<LedgerSnapshot> ReadPostgresAsync(string catalogConnectionString, string eventId, CancellationToken cancellation)
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
        // As on SQLite: a server with none is a wrong connection string, not an empty ledger.
        if (databases.Count == 0) throw new IOException($"no shard databases ({prefix}NNNN) on the server of database {catalog.Database}");
        return await ReadAsync(databases, database =>
            new NpgsqlConnection(new NpgsqlConnectionStringBuilder(catalogConnectionString) { Database = database }.ConnectionString), eventId, cancellation);
    }

    /// <summary>
    /// The SQLite shard files under <paramref name="dataPath"/> (the service's <c>Storage:DataPath</c>), read only. A
    /// running service's files can be read: its writers commit through the write-ahead log, which readers see whole.
    /// </summary>
    public static Task<LedgerSnapshot> ReadSqliteAsync(string dataPath, string eventId, CancellationToken cancellation)
    {
        var folder = Path.Combine(dataPath, "shards");
        // A data folder with no shard files is a wrong path, not an empty ledger: that would fail a sale's "stored"
        // checks as if its orders were lost, and pass a sale with none.
        var files = Directory.Exists(folder) ? Directory.GetFiles(folder, "shard_*.db").Order(StringComparer.Ordinal).ToList() : [];
        if (files.Count == 0) throw new FileNotFoundException($"no shard databases (shards/shard_NNNN.db) under {dataPath}");
        return ReadAsync(files, file =>
            new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = file, Mode = SqliteOpenMode.ReadOnly, Pooling = false }.ConnectionString),
            eventId, cancellation);
    }

    /// <summary>Reads the ledger tables of each database; the queries are written for both engines.</summary>
    private static async Task<LedgerSnapshot> ReadAsync(
        IReadOnlyList<string> databases, Func<string, DbConnection> connect, string eventId, CancellationToken cancellation)
    {
        var shards = new List<LedgerShard>();
        var orders = new List<LedgerOrder>();
        var tickets = new List<LedgerTicket>();
        var transfersOut = new List<LedgerTransfer>();
        var transfersIn = new List<string>();
        var keyPrefix = eventId + "/";
        foreach (var database in databases)
        {
            await using var connection = connect(database);
            await connection.OpenAsync(cancellation);
            // substr(...) = @p: PostgreSQL's starts_with is not SQLite's, and a prefix compared whole needs no thought about
            // LIKE's wildcards in what the audit is given.
            await ReadAsync(connection, "SELECT shard_key, capacity, sold FROM shard_state WHERE substr(shard_key, 1, length(@p)) = @p", keyPrefix,
                r => shards.Add(new LedgerShard(database, r.GetString(0), TypeOf(r.GetString(0)), r.GetInt64(1), r.GetInt64(2))), cancellation);
            await ReadAsync(connection, "SELECT order_id, shard_key, ticket_type_id, quantity, buyer_name, buyer_email FROM orders WHERE event_id = @p", eventId,
                r => orders.Add(new LedgerOrder(database, r.GetString(0), r.GetString(1), r.GetString(2), r.GetInt32(3), r.GetString(4), r.GetString(5))), cancellation);
            await ReadAsync(connection, "SELECT ticket_type_id, serial, order_id, code FROM tickets WHERE event_id = @p", eventId,
                r => tickets.Add(new LedgerTicket(database, r.GetString(0), r.GetInt64(1), r.GetString(2), r.GetString(3))), cancellation);
            await ReadAsync(connection, "SELECT transfer_id, donor_key, quantity, delivered FROM transfers_out WHERE substr(donor_key, 1, length(@p)) = @p", keyPrefix,
                r => transfersOut.Add(new LedgerTransfer(database, r.GetString(0), TypeOf(r.GetString(1)), r.GetInt64(2), r.GetInt32(3) != 0)), cancellation);
            await ReadAsync(connection, "SELECT transfer_id FROM transfers_in WHERE substr(receiver_key, 1, length(@p)) = @p", keyPrefix,
                r => transfersIn.Add(r.GetString(0)), cancellation);
        }
        return new LedgerSnapshot(shards, orders, tickets, transfersOut, transfersIn);
    }

    private static string TypeOf(string shardKey) => shardKey.Split('/')[1];

    private static async Task ReadAsync(DbConnection connection, string sql, string parameter, Action<DbDataReader> row, CancellationToken cancellation)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        var value = command.CreateParameter();
        value.ParameterName = "p";
        value.Value = parameter;
        command.Parameters.Add(value);
        await using var reader = await command.ExecuteReaderAsync(cancellation);
        while (await reader.ReadAsync(cancellation)) row(reader);
    }
}
