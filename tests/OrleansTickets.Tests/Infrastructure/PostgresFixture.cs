namespace OrleansTickets.Tests.Infrastructure;

/// <summary>
/// One private PostgreSQL server for the classes of one PostgreSQL collection (PostgresCollections.cs), started when
/// the collection starts and stopped when it ends. Tests isolate themselves by creating their own database.
/// </summary>
public sealed class PostgresFixture : IAsyncLifetime
{
    private PostgresServer? _server;
    private int _databaseCounter;

    /// <summary>The running server.</summary>
    /// <exception cref="InvalidOperationException">PostgreSQL is not installed (the test should have been skipped).</exception>
    public PostgresServer Server => _server ?? throw new InvalidOperationException(
        "PostgreSQL is not installed; mark the test [PostgresFact] so it is skipped.");

    /// <summary>Creates a fresh, uniquely named database and returns its connection string.</summary>
    /// <param name="prefix">Readable start of the name, for finding it in server logs.</param>
    public async Task<string> CreateDatabaseAsync(string prefix)
    {
        var name = $"{prefix}_{Interlocked.Increment(ref _databaseCounter)}".ToLowerInvariant();
        await Server.CreateDatabaseAsync(name);
        return Server.ConnectionString(name);
    }

    /// <inheritdoc/>
    public async Task InitializeAsync()
    {
        // xunit builds collection fixtures even when every test in the collection is skipped, so a
        // machine without PostgreSQL must get here quietly. On CI StartAsync throws instead, and
        // the tests fail rather than vanish.
        if (!PostgresServer.IsAvailable && !PostgresServer.IsCi)
        {
            return;
        }

        var server = new PostgresServer();
        try
        {
            await server.StartAsync();
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }

        _server = server;
    }

    /// <inheritdoc/>
    public async Task DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }
}
