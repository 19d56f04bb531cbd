using System.Data.Common;
using Microsoft.Data.Sqlite;
using Npgsql;
using OrleansTickets.Storage;
using OrleansTickets.Tests.Infrastructure;

namespace OrleansTickets.Tests.Storage;

/// <summary>
/// The schema scripts on their own: present for every dialect, and safe when several silos
/// create them at the same moment on an empty database.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class GrainStateSchemaTests(PostgresFixture postgres)
{
    // No DeleteStorageKey: without it the provider refuses DeleteStateOnClear, whose deletes would let a stale twin's ETag
    // match a row written afresh (the scripts say why).
    private static readonly string[] QueryKeys = ["ClearStorageKey", "ReadFromStorageKey", "WriteToStorageKey"];

    [Theory]
    [InlineData(SqlDialect.Sqlite)]
    [InlineData(SqlDialect.PostgreSql)]
    [InlineData(SqlDialect.SqlServer)]
    public void EveryDialectShipsExactlyTheQueryKeys(SqlDialect dialect)
    {
        Assert.Equal(QueryKeys, ScriptQueryKeys.Of(GrainStateSchema.ReadScript(dialect)));
    }

    [Theory]
    [InlineData("GrainTypeString")]
    [InlineData("GrainIdExtensionString")]
    [InlineData("ServiceId")]
    public void SqlServerComparesTheIdentifyingStringsByCodePoint(string column)
    {
        // Its usual default collation ignores case: two services, or two grains' keys, differing only so would share
        // rows. The script is never run here, so only its text can show the column's collation. (Trailing spaces are
        // ignored in its comparisons under every collation; the ids compared here never end in one.)
        var declaration = GrainStateSchema.ReadScript(SqlDialect.SqlServer).Split('\n').Single(line => line.TrimStart().StartsWith(column + " ", StringComparison.Ordinal));
        Assert.Contains("COLLATE Latin1_General_100_BIN2", declaration);
    }

    [Theory]
    [InlineData(SqlDialect.Sqlite)]
    [InlineData(SqlDialect.PostgreSql)]
    [InlineData(SqlDialect.SqlServer)]
    public void EveryDialectChangesTheQueryTableOnlyAfterCreatingIt(SqlDialect dialect)
    {
        // SQL Server's script is never run here: a statement on OrleansQuery placed before its CREATE stops the script
        // on a new database ("Invalid object name"), and only its order in the text can show that.
        var script = GrainStateSchema.ReadScript(dialect);
        var created = script.IndexOf("CREATE TABLE", StringComparison.OrdinalIgnoreCase);
        Assert.True(created >= 0);
        foreach (var change in new[] { "DELETE FROM", "INSERT INTO", "UPDATE " })
        {
            var first = script.IndexOf(change, StringComparison.OrdinalIgnoreCase);
            Assert.True(first < 0 || first > created, $"{dialect}: '{change}' comes before the first CREATE TABLE");
        }
    }

    [PostgresFact]
    public async Task PostgresSchemaSurvivesConcurrentFirstCreation()
    {
        var connectionString = await postgres.CreateDatabaseAsync("schema_race");

        await CreateConcurrentlyAsync(() => new NpgsqlConnection(connectionString), SqlDialect.PostgreSql);

        await AssertQueriesStoredAsync(new NpgsqlConnection(connectionString));
    }

    [Fact]
    public async Task SqliteSchemaSurvivesConcurrentFirstCreation()
    {
        var path = Path.Combine(Path.GetTempPath(), $"orleanstickets-schema-{Guid.NewGuid():N}.db");
        var connectionString = new SqliteConnectionStringBuilder { DataSource = path, Pooling = false, DefaultTimeout = 60 }.ToString();
        try
        {
            await CreateConcurrentlyAsync(() => new SqliteConnection(connectionString), SqlDialect.Sqlite);

            await AssertQueriesStoredAsync(new SqliteConnection(connectionString));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public async Task A_delete_query_stored_by_an_earlier_script_is_removed()
    {
        // Left in OrleansQuery, the provider would go on accepting DeleteStateOnClear on a database made before.
        var path = Path.Combine(Path.GetTempPath(), $"orleanstickets-schema-{Guid.NewGuid():N}.db");
        var connectionString = new SqliteConnectionStringBuilder { DataSource = path, Pooling = false }.ToString();
        try
        {
            await using (var connection = new SqliteConnection(connectionString))
            {
                await connection.OpenAsync();
                await GrainStateSchema.EnsureCreatedAsync(connection, SqlDialect.Sqlite);
                await using var insert = connection.CreateCommand();
                insert.CommandText = "INSERT INTO OrleansQuery (QueryKey, QueryText) VALUES ('DeleteStorageKey', 'DELETE FROM OrleansGrainState')";
                await insert.ExecuteNonQueryAsync();
                await GrainStateSchema.EnsureCreatedAsync(connection, SqlDialect.Sqlite);
            }

            await AssertQueriesStoredAsync(new SqliteConnection(connectionString));
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static async Task CreateConcurrentlyAsync(Func<DbConnection> connect, SqlDialect dialect)
    {
        // Open every connection first so the creations really start together.
        var connections = new List<DbConnection>();
        try
        {
            for (var i = 0; i < 6; i++)
            {
                var connection = connect();
                connections.Add(connection);
                await connection.OpenAsync();
            }

            await Task.WhenAll(connections.Select(c => Task.Run(() => GrainStateSchema.EnsureCreatedAsync(c, dialect))));
        }
        finally
        {
            foreach (var connection in connections)
            {
                await connection.DisposeAsync();
            }
        }
    }

    private static async Task AssertQueriesStoredAsync(DbConnection connection)
    {
        await using (connection)
        {
            await connection.OpenAsync();
            await using var command = connection.CreateCommand();
            command.CommandText = "SELECT QueryKey FROM OrleansQuery";
            var stored = new List<string>();
            await using var reader = await command.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                stored.Add(reader.GetString(0));
            }

            Assert.Equal(QueryKeys.Order(), stored.Order());
        }
    }
}
