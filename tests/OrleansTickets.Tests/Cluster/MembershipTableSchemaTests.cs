using Microsoft.Data.Sqlite;
using Npgsql;
using OrleansTickets.Storage;
using OrleansTickets.Tests.Infrastructure;

namespace OrleansTickets.Tests.Cluster;

/// <summary>The membership scripts on their own: complete, and safe beside the grain-state script.</summary>
[Collection(PostgresMembershipCollection.Name)]
public sealed class MembershipTableSchemaTests(PostgresFixture postgres)
{
    // Every key the 10.4.2 provider requires, plus the optional per-row cleanup it prefers when present.
    private static readonly string[] QueryKeys =
    [
        "InsertMembershipVersionKey", "MembershipReadAllKey", "MembershipReadRowKey", "InsertMembershipKey", "UpdateMembershipKey",
        "UpdateIAmAlivetimeKey", "GatewaysQueryKey", "DeleteMembershipTableEntriesKey", "CleanupDefunctSiloEntriesKey",
        "CleanupDefunctSiloEntryKey",
    ];

    private static readonly string[] GrainStateKeys = ["ReadFromStorageKey", "WriteToStorageKey", "ClearStorageKey"];

    [Theory]
    [InlineData(SqlDialect.PostgreSql)]
    [InlineData(SqlDialect.SqlServer)]
    public void EveryScriptShipsEveryQueryKey(SqlDialect dialect)
    {
        Assert.Equal(QueryKeys.Order(StringComparer.Ordinal), ScriptQueryKeys.Of(MembershipSchema.ReadScript(dialect)));
    }

    [Fact]
    public void SqlServerComparesClusterIdsByCodePoint()
    {
        // Its usual default collation ignores case: clusters named "Prod" and "prod" would share one membership table.
        var declarations = MembershipSchema.ReadScript(SqlDialect.SqlServer).Split('\n').Where(line => line.TrimStart().StartsWith("DeploymentId ", StringComparison.Ordinal)).ToList();
        Assert.Equal(2, declarations.Count);
        Assert.All(declarations, declaration => Assert.Contains("COLLATE Latin1_General_100_BIN2", declaration));
    }

    [Fact]
    public async Task SqliteIsRefusedWithAReason()
    {
        await using var connection = new SqliteConnection("Data Source=:memory:");
        await connection.OpenAsync();

        var refused = await Assert.ThrowsAsync<NotSupportedException>(() => MembershipSchema.EnsureCreatedAsync(connection, SqlDialect.Sqlite));
        Assert.Contains("SQLite", refused.Message);
    }

    [PostgresFact]
    public async Task A_database_whose_sessions_default_to_a_stricter_isolation_is_refused_by_both_schemas()
    {
        // Under SERIALIZABLE the compare-and-swaps' losers would fail with serialization errors, which Orleans passes on
        // as database failures, not version conflicts.
        var connectionString = await postgres.CreateDatabaseAsync("strict_isolation") + ";Options=-c default_transaction_isolation=serializable";
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();

        foreach (var create in new Func<Task>[]
        {
            () => MembershipSchema.EnsureCreatedAsync(connection, SqlDialect.PostgreSql),
            () => GrainStateSchema.EnsureCreatedAsync(connection, SqlDialect.PostgreSql),
        })
        {
            var refused = await Assert.ThrowsAsync<InvalidOperationException>(create);
            Assert.Contains("default_transaction_isolation = 'serializable'", refused.Message, StringComparison.Ordinal);
        }
        await using var tables = new NpgsqlCommand("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'public'", connection);
        Assert.Equal(0L, await tables.ExecuteScalarAsync());
    }

    [PostgresFact]
    public async Task BothSchemasCanBeCreatedTogetherInAnyOrder()
    {
        var connectionString = await postgres.CreateDatabaseAsync("membership_schema");
        var runs = Enumerable.Range(0, 6).Select(i => Task.Run(async () =>
        {
            await using var connection = new NpgsqlConnection(connectionString);
            await connection.OpenAsync();
            if (i % 2 == 0)
            {
                await MembershipSchema.EnsureCreatedAsync(connection, SqlDialect.PostgreSql);
            }
            else
            {
                await GrainStateSchema.EnsureCreatedAsync(connection, SqlDialect.PostgreSql);
            }
        }));
        await Task.WhenAll(runs);

        await using var check = new NpgsqlConnection(connectionString);
        await check.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT QueryKey FROM OrleansQuery", check);
        var stored = new List<string>();
        await using (var reader = await command.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                stored.Add(reader.GetString(0));
            }
        }

        Assert.Equal(QueryKeys.Concat(GrainStateKeys).Order(), stored.Order());
    }
}
