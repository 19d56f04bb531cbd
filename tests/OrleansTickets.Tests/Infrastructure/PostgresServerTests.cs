using Npgsql;

namespace OrleansTickets.Tests.Infrastructure;

/// <summary>The private server itself: it survives a crash-style restart and cleans up after itself.</summary>
public sealed class PostgresServerTests
{
    [PostgresFact]
    public async Task CommittedDataSurvivesImmediateRestart()
    {
        // A server of its own: restarting the shared one would cut other tests' connections.
        var server = new PostgresServer();
        await using (server)
        {
            await server.StartAsync();
            var port = server.Port;
            // No pooling: pooled connections die with the server and would fail the next open.
            var connectionString = server.ConnectionString() + ";Pooling=false";
            await ExecuteAsync(connectionString, "CREATE TABLE kept (v int); INSERT INTO kept VALUES (42)");

            await server.RestartAsync(immediate: true);

            Assert.Equal(port, server.Port);
            Assert.Equal(42, await ExecuteAsync(connectionString, "SELECT v FROM kept"));
        }

        Assert.False(Directory.Exists(server.DataDirectory));
    }

    private static async Task<object?> ExecuteAsync(string connectionString, string sql)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        return await command.ExecuteScalarAsync();
    }
}
