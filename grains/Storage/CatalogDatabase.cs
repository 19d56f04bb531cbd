namespace OrleansTickets.Storage;

/// <summary>
/// The catalog database: Orleans ADO.NET grain storage for small state (events, the shard allocator).
/// SQLite keeps it in <c>catalog.db</c> under the data folder; the servers use the configured database.
/// </summary>
public static class CatalogDatabase
{
    /// <summary>The ADO.NET invariant Orleans uses to load the driver.</summary>
    public static string Invariant(SqlDialect dialect) => dialect switch
    {
        SqlDialect.Sqlite => "System.Data.SQLite", // Orleans maps this name to Microsoft.Data.Sqlite.
        SqlDialect.PostgreSql => "Npgsql",
        SqlDialect.SqlServer => "Microsoft.Data.SqlClient",
        _ => throw new ArgumentOutOfRangeException(nameof(dialect)),
    };

    /// <summary>The catalog's connection string.</summary>
    public static string ConnectionString(TicketStorageOptions options) => options.Provider switch
    {
        SqlDialect.Sqlite => DatabaseServer.SqliteFile(Path.Combine(options.DataPath, "catalog.db")),
        _ => options.ConnectionString ?? throw new InvalidOperationException(
            $"Storage:ConnectionString is required when Storage:Provider is {options.Provider}."),
    };

    /// <summary>Creates a PostgreSQL membership database and our clustering schema if they are missing.</summary>
    public static async Task EnsureMembershipSchemaAsync(string connectionString, CancellationToken cancellationToken = default)
    {
        await DatabaseServer.EnsureDatabaseExistsAsync(SqlDialect.PostgreSql, connectionString, cancellationToken);
        // Ending an idle transaction: the schema script holds the schema lock.
        await using var dataSource = DatabaseServer.CreateDataSourceEndingIdleTransactions(SqlDialect.PostgreSql, connectionString);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await MembershipSchema.EnsureCreatedAsync(connection, SqlDialect.PostgreSql, cancellationToken);
    }

    /// <summary>Creates the catalog database and its grain-storage schema if they are missing.</summary>
    public static async Task EnsureCreatedAsync(TicketStorageOptions options, CancellationToken cancellationToken = default)
    {
        var connectionString = ConnectionString(options);
        await DatabaseServer.EnsureDatabaseExistsAsync(options.Provider, connectionString, cancellationToken);
        await using var dataSource = DatabaseServer.CreateDataSourceEndingIdleTransactions(options.Provider, connectionString);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        if (options.Provider == SqlDialect.Sqlite)
        {
            await using var pragma = connection.CreateCommand();
            pragma.CommandText = "PRAGMA journal_mode=WAL;";
            await pragma.ExecuteNonQueryAsync(cancellationToken);
        }
        await GrainStateSchema.EnsureCreatedAsync(connection, options.Provider, cancellationToken);
    }
}
