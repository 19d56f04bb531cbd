using System.Data.Common;
using Microsoft.Data.Sqlite;
using Npgsql;
using OrleansTickets.Storage;
using OrleansTickets.Tests.Infrastructure;
using Xunit;

namespace OrleansTickets.Tests.Storage;

/// <summary>
/// The schema scripts on their own: present for every dialect, and safe when several silos
/// create them at the same moment on an empty database.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class GrainStateSchemaTests(PostgresFixture postgres)
{
    private static readonly string[] QueryKeys = ["ReadFromStorageKey", "WriteToStorageKey", "ClearStorageKey", "DeleteStorageKey"];

    [Theory]
    [InlineData(SqlDialect.Sqlite)]
    [InlineData(SqlDialect.PostgreSql)]
    [InlineData(SqlDialect.SqlServer)]
    public void EveryDialectShipsAllQueryKeys(SqlDialect dialect)
    {
        var script = GrainStateSchema.ReadScript(dialect);

        Assert.All(QueryKeys, key => Assert.Contains($"'{key}'", script));
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
