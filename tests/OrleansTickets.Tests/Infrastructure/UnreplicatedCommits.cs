using Npgsql;

namespace OrleansTickets.Tests.Infrastructure;

/// <summary>
/// Commits that land and lose their answer, on a test's own PostgreSQL server. With a synchronous standby named that
/// never connects, each COMMIT is made durable locally and then waits for it; ending a waiting session drops its
/// client's connection, so the client sees an error for a commit that landed (PostgreSQL says as much in its warning).
/// Synchronous replication needs <c>max_wal_senders</c> above 0, as <see cref="PostgresServer"/> leaves it (the default, 10).
/// </summary>
public sealed class UnreplicatedCommits(PostgresServer server)
{
    private const string ProbeApplication = "unreplicated commits probe";

    /// <summary>From now on every commit on the server waits for the standby; returns once one was seen waiting.</summary>
    public async Task StallAsync()
    {
        await ExecuteAsync("CREATE TABLE IF NOT EXISTS unreplicated_probe (n int)");
        await ExecuteAsync("ALTER SYSTEM SET synchronous_standby_names = 'never_connects'");
        await ExecuteAsync("SELECT pg_reload_conf()");
        // The reload reaches the server's processes in their own time: a probe's commit waiting says it has. A probe
        // that commits at once came too early, and the next one tries again; one that is slow to start is watched until
        // it either waits or commits.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (DateTime.UtcNow < deadline)
        {
            var probe = ExecuteAsync("INSERT INTO unreplicated_probe VALUES (1)", ProbeApplication);
            var seen = false;
            while (!probe.IsCompleted && !seen && DateTime.UtcNow < deadline)
            {
                await Task.Delay(20);
                seen = await CutWaitingAsync(ProbeApplication) > 0;
            }
            try
            {
                await probe;
            }
            catch (Exception exception) when (exception is NpgsqlException or InvalidOperationException)
            {
                // The probe's own session was ended while it waited.
            }
            if (seen) return;
        }
        throw new TimeoutException("Commits never began to wait for the standby.");
    }

    /// <summary>
    /// Ends every session whose commit waits for the standby and whose application name ends with
    /// <paramref name="suffix"/>, and waits (up to 5 s each) until each has ended: a session still waiting when commits
    /// resume would get its answer after all.
    /// </summary>
    public async Task<int> CutWaitingAsync(string suffix)
    {
        await using var connection = new NpgsqlConnection(server.ConnectionString());
        await connection.OpenAsync();
        await using var cut = new NpgsqlCommand(
            "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid, 5000)) FROM pg_stat_activity WHERE wait_event = 'SyncRep' AND application_name LIKE '%' || @suffix",
            connection);
        cut.Parameters.AddWithValue("suffix", suffix);
        return Convert.ToInt32(await cut.ExecuteScalarAsync());
    }

    /// <summary>Polls until a session named with <paramref name="suffix"/> waits, and ends it: its commit landed, its answer is lost.</summary>
    public Task CutNextAsync(string suffix) =>
        Poll.UntilAsync(async () => await CutWaitingAsync(suffix) > 0, attempts: 500, delayMilliseconds: 20,
            failure: $"No commit of a session ending '{suffix}' waited for the standby.");

    /// <summary>
    /// Commits stop waiting for the standby, and those waiting go on, once the server's processes have read their
    /// configuration again (each in its own time, as when stalling).
    /// </summary>
    public async Task ResumeAsync()
    {
        await ExecuteAsync("ALTER SYSTEM RESET synchronous_standby_names");
        await ExecuteAsync("SELECT pg_reload_conf()");
    }

    private async Task ExecuteAsync(string sql, string? application = null)
    {
        var builder = new NpgsqlConnectionStringBuilder(server.ConnectionString()) { ApplicationName = application, Pooling = false };
        await using var connection = new NpgsqlConnection(builder.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }
}
