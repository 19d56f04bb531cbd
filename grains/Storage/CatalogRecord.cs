using System.Data.Common;

namespace OrleansTickets.Storage;

/// <summary>
/// One value a catalog database keeps for good, recorded by the first silo that starts on it (a singleton row in a table
/// of its own), which every later silo compares with its own. For what must never change under a catalog's data: the
/// key its tickets were signed with, the service id its grain state is filed under.
/// </summary>
internal static class CatalogRecord
{
    /// <summary>
    /// Returns the value recorded in <paramref name="column"/> of <paramref name="table"/>; when none is yet, first
    /// records the one <paramref name="proposal"/> gives (asked only then, on the same connection). Silos starting
    /// together record one value between them. SQL Server catalogs are not checked (that dialect is unverified): null.
    /// </summary>
    public static async Task<string?> RecordOrReadAsync(TicketStorageOptions storage, string table, string column,
        Func<DbConnection, CancellationToken, Task<string>> proposal, CancellationToken cancellationToken)
    {
        if (storage.Provider == SqlDialect.SqlServer) return null;
        await using var source = DatabaseServer.CreateDataSource(storage.Provider, CatalogDatabase.ConnectionString(storage));
        await using var connection = await source.OpenConnectionAsync(cancellationToken);
        // In the schema scripts' transaction and lock: silos starting together would otherwise collide creating it.
        await SqlScripts.RunAsync(connection, storage.Provider,
            $"CREATE TABLE IF NOT EXISTS {table} (singleton INTEGER NOT NULL PRIMARY KEY CHECK (singleton = 1), {column} TEXT NOT NULL);",
            cancellationToken);
        if (await ReadAsync(connection, table, column, cancellationToken) is { } recorded) return recorded;
        var value = await proposal(connection, cancellationToken);
        await using (var record = new SqlStatement($"INSERT INTO {table} (singleton, {column}) VALUES (1, @value) ON CONFLICT (singleton) DO NOTHING")
            .With("@value", value).ToCommand(connection, transaction: null))
        {
            await record.ExecuteNonQueryAsync(cancellationToken);
        }
        // Another silo's value, when it recorded first.
        return await ReadAsync(connection, table, column, cancellationToken);
    }

    private static async Task<string?> ReadAsync(DbConnection connection, string table, string column, CancellationToken cancellationToken)
    {
        await using var read = connection.CreateCommand();
        read.CommandText = $"SELECT {column} FROM {table}";
        return (string?)await read.ExecuteScalarAsync(cancellationToken);
    }
}
