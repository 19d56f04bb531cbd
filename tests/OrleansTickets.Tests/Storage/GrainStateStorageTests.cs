using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Orleans.Storage;
using Orleans.TestingHost;
using OrleansTickets.Storage;
using OrleansTickets.Tests.Infrastructure;

namespace OrleansTickets.Tests.Storage;

/// <summary>
/// Runs Orleans' own ADO.NET grain storage against our schema scripts. Each engine gets a class
/// below that declares the facts and supplies the database; the scenarios live here.
/// </summary>
public abstract class GrainStateStorageTests(StorageClusterFixture fixture)
{
    private const string StateName = "direct-probe";

    /// <summary>Provides this engine's empty database; called once per class.</summary>
    protected abstract Task<StorageTarget> CreateTargetAsync();

    private Task<InProcessTestCluster> ClusterAsync() => fixture.GetClusterAsync(CreateTargetAsync);

    private async Task<IGrainStorage> StorageAsync(string providerName) =>
        (await ClusterAsync()).Silos[0].ServiceProvider.GetRequiredKeyedService<IGrainStorage>(providerName);

    private static GrainId NewGrainId(string key) => GrainId.Create("storage-test", key);

    private static string UniqueKey() => "k-" + Guid.NewGuid().ToString("N");

    // The provider treats a key made only of hex digits as an integer key.
    private static string UniqueIntegerKey() => Random.Shared.NextInt64(1, long.MaxValue).ToString("x");

    /// <summary>Write, deactivate, reactivate: the state and its version come back from the database.</summary>
    protected async Task WrittenStateSurvivesReactivationAsync()
    {
        var cluster = await ClusterAsync();
        var grain = cluster.Client.GetGrain<IStorageProbeGrain>(UniqueKey());

        var fresh = await grain.ReadAsync();
        Assert.False(fresh.RecordExists);
        Assert.Null(fresh.ETag);

        var first = await grain.WriteAsync("one");
        var second = await grain.WriteAsync("two");
        Assert.NotEqual(first.ETag, second.ETag);

        await cluster.DeactivateAsync(grain);
        var reloaded = await grain.ReadAsync();
        Assert.Equal("two", reloaded.Value);
        Assert.Equal(2, reloaded.Writes);
        Assert.Equal(second.ETag, reloaded.ETag);
        Assert.True(reloaded.RecordExists);
    }

    /// <summary>A clear leaves no payload but keeps a version, and the grain can write again.</summary>
    protected async Task ClearedStateReadsAsDefaultAsync()
    {
        var cluster = await ClusterAsync();
        var grain = cluster.Client.GetGrain<IStorageProbeGrain>(UniqueKey());
        var written = await grain.WriteAsync("doomed");

        var cleared = await grain.ClearAsync();
        Assert.False(cleared.RecordExists);
        Assert.NotNull(cleared.ETag);
        Assert.NotEqual(written.ETag, cleared.ETag);

        await cluster.DeactivateAsync(grain);
        var reloaded = await grain.ReadAsync();
        Assert.Null(reloaded.Value);
        Assert.Equal(0, reloaded.Writes);
        Assert.False(reloaded.RecordExists);
        Assert.Equal(cleared.ETag, reloaded.ETag);

        var rewritten = await grain.WriteAsync("again");
        Assert.True(rewritten.RecordExists);
    }

    /// <summary>Two readers of the same version: the second writer loses and nothing is overwritten.</summary>
    protected async Task StaleETagWriteIsRejectedAsync()
    {
        var storage = await StorageAsync(StorageNames.Catalog);
        var id = NewGrainId(UniqueKey());
        await storage.WriteStateAsync(StateName, id, State("base"));

        var winner = await ReadAsync(storage, id);
        var loser = await ReadAsync(storage, id);
        winner.State = new ProbeState { Value = "winner" };
        await storage.WriteStateAsync(StateName, id, winner);

        loser.State = new ProbeState { Value = "loser" };
        await Assert.ThrowsAsync<InconsistentStateException>(() => storage.WriteStateAsync(StateName, id, loser));
        await Assert.ThrowsAsync<InconsistentStateException>(() => storage.ClearStateAsync(StateName, id, loser));
        Assert.Equal("winner", (await ReadAsync(storage, id)).State?.Value);
    }

    /// <summary>A writer whose row was never stored, or was deleted, cannot write with an ETag.</summary>
    protected async Task WriteWithETagToMissingRowIsRejectedAsync()
    {
        var storage = await StorageAsync(StorageNames.Catalog);
        var state = State("ghost");
        state.ETag = "7";

        await Assert.ThrowsAsync<InconsistentStateException>(() => storage.WriteStateAsync(StateName, NewGrainId(UniqueKey()), state));
    }

    /// <summary>
    /// Several writers holding the same version race, first with no ETag (inserts), then with the
    /// winner's ETag (updates): each time the database lets exactly one through. Covered for a
    /// string key (stored in the extension column) and an integer key (extension NULL), since
    /// NULLs are where unique indexes usually let duplicates in.
    /// </summary>
    protected async Task ConcurrentWritesHaveOneWinnerAsync()
    {
        var storage = await StorageAsync(StorageNames.Catalog);
        foreach (var id in new[] { NewGrainId(UniqueKey()), NewGrainId(UniqueIntegerKey()) })
        {
            string? etag = null;
            foreach (var round in new[] { "insert", "update" })
            {
                var writers = Enumerable.Range(0, 8).Select(async i =>
                {
                    var state = State($"{round}-{i}");
                    state.ETag = etag;
                    try
                    {
                        await storage.WriteStateAsync(StateName, id, state);
                        return state.State?.Value;
                    }
                    catch (InconsistentStateException)
                    {
                        return null;
                    }
                });
                var winner = Assert.Single((await Task.WhenAll(writers)).OfType<string>());

                var stored = await ReadAsync(storage, id);
                Assert.Equal(winner, stored.State?.Value);
                Assert.NotEqual(etag, stored.ETag);
                etag = stored.ETag;
            }
        }
    }

    /// <summary>
    /// "ab" and "ab+" parse as the same integer key with no extension and an empty extension:
    /// they are different grains and must get different rows.
    /// </summary>
    protected async Task NullAndEmptyKeyExtensionsAreDifferentRowsAsync()
    {
        var storage = await StorageAsync(StorageNames.Catalog);
        var stem = UniqueIntegerKey();
        var noExtension = NewGrainId(stem);
        var emptyExtension = NewGrainId(stem + "+");
        Assert.True(noExtension.TryGetIntegerKey(out _, out var none) && none is null);
        Assert.True(emptyExtension.TryGetIntegerKey(out _, out var empty) && empty == "");

        await storage.WriteStateAsync(StateName, noExtension, State("none"));
        await storage.WriteStateAsync(StateName, emptyExtension, State("empty"));

        Assert.Equal("none", (await ReadAsync(storage, noExtension)).State?.Value);
        Assert.Equal("empty", (await ReadAsync(storage, emptyExtension)).State?.Value);
    }

    /// <summary>Running the schema again, several times at once, succeeds and keeps the data.</summary>
    protected async Task SchemaCanBeAppliedRepeatedlyAsync()
    {
        var storage = await StorageAsync(StorageNames.Catalog);
        var id = NewGrainId(UniqueKey());
        await storage.WriteStateAsync(StateName, id, State("kept"));

        await Task.WhenAll(Enumerable.Range(0, 4).Select(async _ =>
        {
            await using var connection = fixture.Target.CreateConnection();
            await connection.OpenAsync();
            await GrainStateSchema.EnsureCreatedAsync(connection, fixture.Target.Dialect);
        }));

        Assert.Equal("kept", (await ReadAsync(storage, id)).State?.Value);
    }

    protected async Task SchemaDoesNotWaitForACatalogWriteInFlightAsync()
    {
        var storage = await StorageAsync(StorageNames.Catalog);
        await storage.WriteStateAsync(StateName, NewGrainId(UniqueKey()), State("in flight"));

        await using var writer = fixture.Target.CreateConnection();
        await writer.OpenAsync();
        await using var write = await writer.BeginTransactionAsync();
        await using (var touch = writer.CreateCommand())
        {
            touch.Transaction = write;
            touch.CommandText = "UPDATE OrleansGrainState SET ModifiedOn = ModifiedOn";
            Assert.True(await touch.ExecuteNonQueryAsync() >= 1);
        }

        await using var starting = fixture.Target.CreateConnection();
        await starting.OpenAsync();
        await GrainStateSchema.EnsureCreatedAsync(starting, fixture.Target.Dialect).WaitAsync(TimeSpan.FromSeconds(10));
        await write.RollbackAsync();
    }

    private static GrainState<ProbeState> State(string value) => new() { State = new ProbeState { Value = value } };

    private static async Task<GrainState<ProbeState>> ReadAsync(IGrainStorage storage, GrainId id)
    {
        var state = new GrainState<ProbeState>();
        await storage.ReadStateAsync(StateName, id, state);
        return state;
    }
}

/// <summary>The storage scenarios on SQLite, in a temporary database file.</summary>
public sealed class SqliteGrainStateStorageTests(StorageClusterFixture fixture)
    : GrainStateStorageTests(fixture), IClassFixture<StorageClusterFixture>
{
    /// <inheritdoc/>
    protected override Task<StorageTarget> CreateTargetAsync()
    {
        var path = Path.Combine(Path.GetTempPath(), $"orleanstickets-grainstate-{Guid.NewGuid():N}.db");
        var connectionString = new SqliteConnectionStringBuilder { DataSource = path, Pooling = false }.ToString();
        return Task.FromResult(new StorageTarget(
            SqlDialect.Sqlite, "System.Data.SQLite", connectionString, () => new SqliteConnection(connectionString),
            () => File.Delete(path)));
    }

    [Fact] public Task WrittenStateSurvivesReactivation() => WrittenStateSurvivesReactivationAsync();
    [Fact] public Task ClearedStateReadsAsDefault() => ClearedStateReadsAsDefaultAsync();
    [Fact] public Task StaleETagWriteIsRejected() => StaleETagWriteIsRejectedAsync();
    [Fact] public Task WriteWithETagToMissingRowIsRejected() => WriteWithETagToMissingRowIsRejectedAsync();
    [Fact] public Task ConcurrentWritesHaveOneWinner() => ConcurrentWritesHaveOneWinnerAsync();
    [Fact] public Task NullAndEmptyKeyExtensionsAreDifferentRows() => NullAndEmptyKeyExtensionsAreDifferentRowsAsync();
    [Fact] public Task SchemaCanBeAppliedRepeatedly() => SchemaCanBeAppliedRepeatedlyAsync();
}

/// <summary>The storage scenarios on the private PostgreSQL server, in a database of their own.</summary>
[Collection(PostgresCollection.Name)]
public sealed class PostgresGrainStateStorageTests(PostgresFixture postgres, StorageClusterFixture fixture)
    : GrainStateStorageTests(fixture), IClassFixture<StorageClusterFixture>
{
    /// <inheritdoc/>
    protected override async Task<StorageTarget> CreateTargetAsync()
    {
        var connectionString = await postgres.CreateDatabaseAsync("grainstate");
        return new StorageTarget(SqlDialect.PostgreSql, "Npgsql", connectionString, () => new NpgsqlConnection(connectionString));
    }

    [PostgresFact] public Task WrittenStateSurvivesReactivation() => WrittenStateSurvivesReactivationAsync();
    [PostgresFact] public Task ClearedStateReadsAsDefault() => ClearedStateReadsAsDefaultAsync();
    [PostgresFact] public Task StaleETagWriteIsRejected() => StaleETagWriteIsRejectedAsync();
    [PostgresFact] public Task WriteWithETagToMissingRowIsRejected() => WriteWithETagToMissingRowIsRejectedAsync();
    [PostgresFact] public Task ConcurrentWritesHaveOneWinner() => ConcurrentWritesHaveOneWinnerAsync();
    [PostgresFact] public Task NullAndEmptyKeyExtensionsAreDifferentRows() => NullAndEmptyKeyExtensionsAreDifferentRowsAsync();
    [PostgresFact] public Task SchemaCanBeAppliedRepeatedly() => SchemaCanBeAppliedRepeatedlyAsync();

    /// <summary>A silo starting (the schema runs again) neither waits for a catalog write in flight nor holds later ones up.</summary>
    [PostgresFact]
    public Task SchemaDoesNotWaitForACatalogWriteInFlight() => SchemaDoesNotWaitForACatalogWriteInFlightAsync();
}
