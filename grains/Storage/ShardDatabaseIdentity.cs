using System.Data.Common;

namespace OrleansTickets.Storage;

/// <summary>
/// Ties each shard database to its catalog. The first time a database is used it gets a random stamp, stored in the
/// database itself and then recorded in the catalog under the database's number; every later open compares the two.
/// </summary>
/// <remarks>
/// The invariant: a shard database the catalog has recorded is never used again unless it is the same one. Without
/// it, a shard database that was deleted, dropped, replaced by an empty one or swapped with another folder's would be
/// recreated (or read) without the shard's rows; the shard's next claim would then find no row, start its block at
/// sold = 0 and sell serials that buyers already hold, which no key of that empty database can refuse. Such a
/// database is refused by name instead, like a database of an older layout: its shards answer 503 and the log says
/// why, until an operator restores it. The shard is stamped before the catalog records it, so a crash between the
/// two leaves a stamped database the next open records, never a recorded one without its stamp. A backup restored
/// from after the stamp but before the latest orders is the same database to this check; it cannot see that loss.
/// SQL Server databases are not checked (that dialect is unverified).
/// </remarks>
internal static class ShardDatabaseIdentity
{
    private const string CatalogTable = """
        CREATE TABLE IF NOT EXISTS ticketing_shard_databases (
            ordinal INTEGER NOT NULL PRIMARY KEY,
            stamp   TEXT    NOT NULL
        );
        """;

    /// <summary>
    /// Stamps a new shard database and records it, or checks one used before; throws when it is not the recorded one.
    /// Returns the stamp, which every claim in the database then requires (null on SQL Server, which has no stamps yet).
    /// </summary>
    public static async Task<string?> CheckAsync(
        SqlDialect dialect, string catalogConnectionString, int ordinal, DbConnection shard, CancellationToken cancellationToken)
    {
        if (dialect == SqlDialect.SqlServer) return null;
        await DatabaseServer.EnsureDatabaseExistsAsync(dialect, catalogConnectionString, cancellationToken);
        await using var catalogSource = DatabaseServer.CreateDataSource(dialect, catalogConnectionString);
        await using var catalog = await catalogSource.OpenConnectionAsync(cancellationToken);
        await SqlScripts.RunAsync(catalog, dialect, CatalogTable, cancellationToken);

        var recorded = await ReadRecordedAsync(catalog, ordinal, cancellationToken);
        var stamped = await ReadStampAsync(shard, cancellationToken);
        if (stamped is null)
        {
            if (recorded is not null)
            {
                throw new InvalidOperationException(
                    $"Shard database {ordinal} was used before (the catalog recorded it as {recorded}) but has lost its records: it was " +
                    "deleted, dropped or replaced by an empty one. Its shards stay unavailable rather than sell their serials again; " +
                    "restore the database, or sell into a new data folder or database.");
            }
            // Two silos opening a new database together: the first stamp stays, and both read it back.
            await ExecuteAsync(shard, new SqlStatement(
                "INSERT INTO shard_database_identity (singleton, ordinal, stamp) VALUES (1, @ordinal, @stamp) ON CONFLICT (singleton) DO NOTHING")
                .With("@ordinal", ordinal).With("@stamp", Guid.NewGuid().ToString("N")), cancellationToken);
            stamped = await ReadStampAsync(shard, cancellationToken)
                ?? throw new InvalidOperationException($"Shard database {ordinal}: its stamp was not stored.");
        }
        if (stamped.Value.Ordinal != ordinal)
        {
            throw new InvalidOperationException(
                $"Shard database {ordinal} holds shard database {stamped.Value.Ordinal}'s data (its stamp says so): the databases were " +
                "swapped or copied. Its shards stay unavailable; put each database back under its own name.");
        }
        if (recorded is null)
        {
            await ExecuteAsync(catalog, new SqlStatement(
                "INSERT INTO ticketing_shard_databases (ordinal, stamp) VALUES (@ordinal, @stamp) ON CONFLICT (ordinal) DO NOTHING")
                .With("@ordinal", ordinal).With("@stamp", stamped.Value.Stamp), cancellationToken);
            recorded = await ReadRecordedAsync(catalog, ordinal, cancellationToken);
        }
        if (recorded != stamped.Value.Stamp)
        {
            throw new InvalidOperationException(
                $"Shard database {ordinal} is not the one this catalog recorded (stamp {stamped.Value.Stamp}, recorded {recorded}): it " +
                "belongs to another data folder or database. Its shards stay unavailable; put the catalog's own database back.");
        }
        return recorded;
    }

    private static async Task<string?> ReadRecordedAsync(DbConnection catalog, int ordinal, CancellationToken cancellationToken)
    {
        await using var read = new SqlStatement("SELECT stamp FROM ticketing_shard_databases WHERE ordinal = @ordinal")
            .With("@ordinal", ordinal).ToCommand(catalog, transaction: null);
        return await read.ExecuteScalarAsync(cancellationToken) as string;
    }

    private static async Task<(int Ordinal, string Stamp)?> ReadStampAsync(DbConnection shard, CancellationToken cancellationToken)
    {
        await using var read = shard.CreateCommand();
        read.CommandText = "SELECT ordinal, stamp FROM shard_database_identity";
        await using var reader = await read.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken)) return null;
        return (Convert.ToInt32(reader.GetValue(0)), reader.GetString(1));
    }

    private static async Task ExecuteAsync(DbConnection connection, SqlStatement statement, CancellationToken cancellationToken)
    {
        await using var command = statement.ToCommand(connection, transaction: null);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }
}
