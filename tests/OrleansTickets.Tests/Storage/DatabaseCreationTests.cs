using Npgsql;
using OrleansTickets.Storage;
using OrleansTickets.Tests.Infrastructure;

namespace OrleansTickets.Tests.Storage;

/// <summary>Finding or creating the service's own databases on a PostgreSQL server it does not run.</summary>
[Collection(PostgresCollection.Name)]
public sealed class DatabaseCreationTests(PostgresFixture postgres)
{
    [PostgresFact]
    public async Task A_start_up_step_s_connection_has_the_server_end_a_transaction_left_idle()
    {
        // The schema scripts and the cluster and catalog records hold the schema's advisory lock across round trips: a
        // silo host that froze inside one must not keep every other silo from starting until TCP gives it up.
        var connectionString = await postgres.CreateDatabaseAsync("start_up");
        await using var dataSource = DatabaseServer.CreateDataSourceEndingIdleTransactions(SqlDialect.PostgreSql, connectionString);
        await using var connection = await dataSource.OpenConnectionAsync();
        await using var show = connection.CreateCommand();
        show.CommandText = "SHOW idle_in_transaction_session_timeout";

        Assert.Equal(DatabaseServer.IdleTransactionLimit, (string?)await show.ExecuteScalarAsync());
    }

    [PostgresFact]
    public async Task A_role_that_may_open_only_its_own_databases_starts_on_them()
    {
        // As on a managed server, or one whose operators revoked CONNECT on the maintenance database: the service's
        // role owns its catalog database and can reach nothing else. Finding that database must not need 'postgres'.
        var suffix = Guid.NewGuid().ToString("N")[..12];
        var role = $"ot_app_{suffix}";
        var database = $"ot_catalog_{suffix}";
        await AdminAsync($"CREATE ROLE {role} LOGIN", $"CREATE DATABASE {database} OWNER {role}", "REVOKE CONNECT ON DATABASE postgres FROM PUBLIC");
        try
        {
            var asRole = new NpgsqlConnectionStringBuilder(postgres.Server.ConnectionString(database)) { Username = role, Pooling = false };
            // The setting bites: this role cannot open the maintenance database.
            var maintenance = new NpgsqlConnectionStringBuilder(asRole.ConnectionString) { Database = "postgres" };
            await using (var refused = new NpgsqlConnection(maintenance.ConnectionString))
            {
                var error = await Assert.ThrowsAsync<PostgresException>(() => refused.OpenAsync());
                Assert.Equal(PostgresErrorCodes.InsufficientPrivilege, error.SqlState);
            }

            var options = new TicketStorageOptions { Provider = SqlDialect.PostgreSql, ConnectionString = asRole.ConnectionString };
            await CatalogDatabase.EnsureCreatedAsync(options);

            await using var catalog = new NpgsqlConnection(asRole.ConnectionString);
            await catalog.OpenAsync();
            await using var tables = new NpgsqlCommand("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'", catalog);
            Assert.True((long)(await tables.ExecuteScalarAsync())! > 0, "the catalog's grain-storage schema was created");
        }
        finally
        {
            await AdminAsync("GRANT CONNECT ON DATABASE postgres TO PUBLIC", $"DROP DATABASE IF EXISTS {database} WITH (FORCE)", $"DROP ROLE IF EXISTS {role}");
        }
    }

    private async Task AdminAsync(params string[] statements)
    {
        await using var admin = new NpgsqlConnection(postgres.Server.ConnectionString() + ";Pooling=false");
        await admin.OpenAsync();
        foreach (var statement in statements)
        {
            await using var command = new NpgsqlCommand(statement, admin);
            await command.ExecuteNonQueryAsync();
        }
    }
}
