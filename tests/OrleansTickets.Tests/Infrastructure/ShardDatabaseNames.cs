using Npgsql;
using OrleansTickets.Storage;

namespace OrleansTickets.Tests.Infrastructure;

/// <summary>Names of shard databases as the service derives them, so tests never restate the naming rule.</summary>
public static class ShardDatabaseNames
{
    /// <summary>The PostgreSQL database of shard database <paramref name="ordinal"/>.</summary>
    public static string PostgresDatabaseName(this ShardDatabases databases, int ordinal) =>
        new NpgsqlConnectionStringBuilder(databases.ConnectionStringFor(ordinal)).Database!;
}
