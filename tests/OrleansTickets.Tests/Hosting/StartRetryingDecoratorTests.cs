using System.Net.Sockets;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Orleans.Storage;
using OrleansTickets.Hosting;
using OrleansTickets.Silo.Hosting;
using OrleansTickets.Tests.Infrastructure;

namespace OrleansTickets.Tests.Hosting;

/// <summary>
/// Orleans' own one-off start-up reads (the membership table's queries, the catalog storage's queries) wait out a
/// database outage, and the silo really uses the wrapped providers.
/// </summary>
public sealed class StartRetryingDecoratorTests
{
    [Fact]
    public async Task The_membership_table_initialises_again_after_an_outage_and_passes_everything_else_through()
    {
        var inner = new FlakyMembershipTable(outages: 2);
        var table = new StartRetryingMembershipTable(inner, NullLogger<StartRetryingMembershipTable>.Instance);

        await table.InitializeMembershipTableAsync(tryInitTableVersion: true, CancellationToken.None);
        Assert.Equal(3, inner.Initialisations);

        // Once running, Orleans' membership protocol retries by itself: no second layer of retries.
        inner.Outages = 1;
        await Assert.ThrowsAsync<SocketException>(() => table.ReadAllAsync(CancellationToken.None));
    }

    [Fact]
    public async Task The_catalog_storage_start_step_runs_again_after_an_outage_and_only_once_when_it_succeeds()
    {
        var inner = new FlakyStorage(outages: 1);
        var lifecycle = new RecordingLifecycle();
        new StartRetryingGrainStorage(inner, NullLogger.Instance).Participate(lifecycle);

        var (name, stage, observer) = Assert.Single(lifecycle.Subscriptions);
        Assert.Equal((FlakyStorage.StepName, 4000), (name, stage));
        await observer.OnStart(CancellationToken.None);
        Assert.Equal(2, inner.Starts);
    }

    [Fact]
    public async Task The_catalog_storage_passes_a_callers_cancellation_token_through()
    {
        var inner = new TokenRecordingStorage();
        IGrainStorage storage = new StartRetryingGrainStorage(inner, NullLogger.Instance);
        using var cancellation = new CancellationTokenSource();
        var grainId = GrainId.Create("catalog", "event");
        var state = new GrainState<string>();

        await storage.ReadStateAsync("catalog", grainId, state, cancellation.Token);
        await storage.WriteStateAsync("catalog", grainId, state, cancellation.Token);
        await storage.ClearStateAsync("catalog", grainId, state, cancellation.Token);

        Assert.Equal([cancellation.Token, cancellation.Token, cancellation.Token], inner.Tokens);
    }

    [Fact]
    public void A_cluster_silo_uses_the_waiting_membership_table_and_catalog_storage()
    {
        var builder = WebApplication.CreateBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Storage:Provider"] = "PostgreSql",
            ["Storage:ConnectionString"] = "Host=127.0.0.1;Port=1;Username=nobody;Database=unused",
            ["Cluster:Membership"] = "AdoNet",
            ["Tickets:SigningKey"] = TestStorage.SigningKey,
        });
        builder.AddTicketingSilo();
        using var app = builder.Build();

        Assert.IsType<StartRetryingMembershipTable>(app.Services.GetRequiredService<IMembershipTable>());
        var catalog = app.Services.GetRequiredKeyedService<IGrainStorage>(OrleansTickets.Catalog.StorageNames.Catalog);
        Assert.IsType<StartRetryingGrainStorage>(catalog);
        // Orleans subscribes the provider to the silo's lifecycle through that same keyed service.
        Assert.Contains(app.Services.GetServices<ILifecycleParticipant<ISiloLifecycle>>(), p => ReferenceEquals(p, catalog));
    }

    private static SocketException Refused() => new((int)SocketError.ConnectionRefused);

    private sealed class FlakyMembershipTable(int outages) : IMembershipTable
    {
        public int Outages { get; set; } = outages;

        public int Initialisations { get; private set; }

        public Task InitializeMembershipTableAsync(bool tryInitTableVersion, CancellationToken cancellationToken)
        {
            Initialisations++;
            return Outages-- > 0 ? Task.FromException(Refused()) : Task.CompletedTask;
        }

        public Task<MembershipTableData> ReadAllAsync(CancellationToken cancellationToken) =>
            Outages-- > 0 ? Task.FromException<MembershipTableData>(Refused()) : throw new NotSupportedException();

#pragma warning disable CS0618 // the interface's obsolete members, still abstract
        public Task InitializeMembershipTable(bool tryInitTableVersion) => InitializeMembershipTableAsync(tryInitTableVersion, CancellationToken.None);
        public Task DeleteMembershipTableEntries(string clusterId) => throw new NotSupportedException();
        public Task CleanupDefunctSiloEntries(DateTimeOffset beforeDate) => throw new NotSupportedException();
        public Task<MembershipTableData> ReadRow(SiloAddress key) => throw new NotSupportedException();
        public Task<MembershipTableData> ReadAll() => ReadAllAsync(CancellationToken.None);
        public Task<bool> InsertRow(MembershipEntry entry, TableVersion tableVersion) => throw new NotSupportedException();
        public Task<bool> UpdateRow(MembershipEntry entry, string etag, TableVersion tableVersion) => throw new NotSupportedException();
        public Task UpdateIAmAlive(MembershipEntry entry) => throw new NotSupportedException();
#pragma warning restore CS0618
    }

    private sealed class FlakyStorage(int outages) : IGrainStorage, ILifecycleParticipant<ISiloLifecycle>
    {
        public const string StepName = "flaky-storage";

        private int _outages = outages;

        public int Starts { get; private set; }

        public void Participate(ISiloLifecycle lifecycle) => lifecycle.Subscribe(StepName, 4000, _ =>
        {
            Starts++;
            return _outages-- > 0 ? Task.FromException(Refused()) : Task.CompletedTask;
        });

        public Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) => throw new NotSupportedException();
        public Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) => throw new NotSupportedException();
        public Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) => throw new NotSupportedException();
    }

    private sealed class TokenRecordingStorage : IGrainStorage
    {
        public List<CancellationToken> Tokens { get; } = [];

        public Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) => Record(CancellationToken.None);
        public Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) => Record(CancellationToken.None);
        public Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) => Record(CancellationToken.None);

        public Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState, CancellationToken cancellationToken) =>
            Record(cancellationToken);

        public Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState, CancellationToken cancellationToken) =>
            Record(cancellationToken);

        public Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState, CancellationToken cancellationToken) =>
            Record(cancellationToken);

        private Task Record(CancellationToken token)
        {
            Tokens.Add(token);
            return Task.CompletedTask;
        }
    }

    private sealed class RecordingLifecycle : ISiloLifecycle
    {
        public List<(string Name, int Stage, ILifecycleObserver Observer)> Subscriptions { get; } = [];

        public int HighestCompletedStage => 0;

        public int LowestStoppedStage => 0;

        public IDisposable Subscribe(string observerName, int stage, ILifecycleObserver observer)
        {
            Subscriptions.Add((observerName, stage, observer));
            return new NoSubscription();
        }

        private sealed class NoSubscription : IDisposable
        {
            public void Dispose()
            {
            }
        }
    }
}
