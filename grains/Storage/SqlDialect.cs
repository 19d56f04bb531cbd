namespace OrleansTickets.Storage;

/// <summary>The SQL engines the shard ledgers and the grain-state catalog can run on.</summary>
public enum SqlDialect
{
    /// <summary>Embedded default: one database file per shard database.</summary>
    Sqlite,

    /// <summary>PostgreSQL 15 or newer: one database per shard database on one server.</summary>
    PostgreSql,

    /// <summary>SQL Server / Azure SQL. Unverified: it cannot run on the project's machines.</summary>
    SqlServer,
}
