using System.Data.Common;
using Orleans.TestingHost;
using OrleansTickets.Storage;

namespace OrleansTickets.Tests.Storage;

/// <summary>A database that the storage tests point Orleans' ADO.NET grain storage at.</summary>
/// <param name="Dialect">The engine, which picks the schema script.</param>
/// <param name="Invariant">The ADO.NET invariant Orleans uses to find the driver.</param>
/// <param name="ConnectionString">Where the database is.</param>
/// <param name="CreateConnection">Makes an unopened connection to it.</param>
/// <param name="Cleanup">Runs after the cluster stops, e.g. to delete a database file.</param>
public sealed record StorageTarget(
    SqlDialect Dialect, string Invariant, string ConnectionString, Func<DbConnection> CreateConnection, Action? Cleanup = null);

/// <summary>
/// One single-silo test cluster per test class, started on first use against the class's
/// database, with the schema created first (the provider reads its queries at silo start).
/// </summary>
public sealed class StorageClusterFixture : IAsyncLifetime
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private InProcessTestCluster? _cluster;
    private StorageTarget? _target;

    /// <summary>The database behind the cluster; set once <see cref="GetClusterAsync"/> has succeeded.</summary>
    public StorageTarget Target => _target ?? throw new InvalidOperationException("The cluster has not been started.");

    /// <summary>Returns the cluster, creating the schema and starting it on the first call.</summary>
    /// <param name="createTarget">Provides the database; only called once.</param>
    public async Task<InProcessTestCluster> GetClusterAsync(Func<Task<StorageTarget>> createTarget)
    {
        await _gate.WaitAsync();
        try
        {
            if (_cluster is null)
            {
                var target = await createTarget();
                _cluster = await StartAsync(target);
                _target = target;
            }

            return _cluster;
        }
        finally
        {
            _gate.Release();
        }
    }

    private static async Task<InProcessTestCluster> StartAsync(StorageTarget target)
    {
        await using (var connection = target.CreateConnection())
        {
            await connection.OpenAsync();
            await GrainStateSchema.EnsureCreatedAsync(connection, target.Dialect);
        }

        var builder = new InProcessTestClusterBuilder(1);
        builder.ConfigureSilo((_, silo) => silo
            .AddAdoNetGrainStorage(StorageNames.Catalog, options =>
            {
                options.Invariant = target.Invariant;
                options.ConnectionString = target.ConnectionString;
            }));
        var cluster = builder.Build();
        await cluster.DeployAsync();
        return cluster;
    }

    /// <inheritdoc/>
    public Task InitializeAsync() => Task.CompletedTask;

    /// <inheritdoc/>
    public async Task DisposeAsync()
    {
        if (_cluster is not null)
        {
            await _cluster.StopAllSilosAsync();
            await _cluster.DisposeAsync();
        }

        _target?.Cleanup?.Invoke();
        _gate.Dispose();
    }
}
