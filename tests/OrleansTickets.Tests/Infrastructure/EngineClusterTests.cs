namespace OrleansTickets.Tests.Infrastructure;

/// <summary>
/// Base for grain tests that run once per storage engine: each test starts its own cluster on the engine it is given.
/// Derived classes join one of the PostgreSQL collections (PostgresCollections.cs), whose server they are given. The silos'
/// warnings go to the test's output, which the runner prints when the test fails.
/// </summary>
public abstract class EngineClusterTests(PostgresFixture postgres, ITestOutputHelper output) : IAsyncLifetime
{
    private TicketingCluster? _cluster;

    /// <summary>The cluster started by <see cref="StartAsync"/>.</summary>
    protected TicketingCluster Cluster => _cluster ?? throw new InvalidOperationException("Call StartAsync(engine) first.");

    /// <summary>The collection's PostgreSQL server, for a test that cuts a database off.</summary>
    protected PostgresFixture Postgres => postgres;

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        if (_cluster is not null) await _cluster.DisposeAsync();
    }

    protected async Task StartAsync(string engine, Action<ISiloBuilder>? configureSilo = null) =>
        _cluster = await TicketingCluster.StartAsync(Engines.Storage(engine, postgres), configureSilo: configureSilo, output: output);
}
