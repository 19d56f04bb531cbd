using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Logging;
using Orleans.TestingHost;
using OrleansTickets.Diagnostics;
using OrleansTickets.Events;
using OrleansTickets.Hosting;
using OrleansTickets.Inventory;
using OrleansTickets.Orders;
using OrleansTickets.Sales;
using OrleansTickets.Storage;

namespace OrleansTickets.Tests.Infrastructure;

/// <summary>An in-memory Orleans test cluster running the real grains on real databases.</summary>
public sealed class TicketingCluster : IAsyncDisposable
{
    private TicketingCluster(InProcessTestCluster cluster, TestStorage storage)
    {
        Cluster = cluster;
        Storage = storage;
    }

    public InProcessTestCluster Cluster { get; }

    public TestStorage Storage { get; }

    public IClusterClient Client => Cluster.Client;

    /// <summary>
    /// Starts the cluster. With <c>gatewayPerSilo</c> false only the first silo is a gateway, so the client survives
    /// other silos leaving. Clusters given the same <c>serviceId</c> share catalog state in the same storage.
    /// </summary>
    public static async Task<TicketingCluster> StartAsync(
        TestStorage storage, short silos = 1, Action<ISiloBuilder>? configureSilo = null, bool gatewayPerSilo = true,
        string? serviceId = null, ITestOutputHelper? output = null)
    {
        var configuration = storage.Configuration();
        // One service id for every attempt: a retried start on the same storage is the same deployment, and the catalog
        // refuses a silo filed under another (ServiceIdCheck). Each builder would otherwise pick its own.
        serviceId ??= "tests-" + Guid.NewGuid().ToString("N");
        for (var attempt = 1; ; attempt++)
        {
            var builder = new InProcessTestClusterBuilder(silos);
            builder.Options.GatewayPerSilo = gatewayPerSilo;
            builder.Options.ServiceId = serviceId;
            builder.ConfigureSilo((_, silo) =>
            {
                silo.AddTicketing(configuration);
                if (output is not null) silo.Services.AddLogging(logging => logging.AddProvider(new TestOutputLoggerProvider(output)));
                configureSilo?.Invoke(silo);
            });
            var cluster = builder.Build();
            var deploy = cluster.DeployAsync();
            if (await Task.WhenAny(deploy, Task.Delay(DeployTimeout)) == deploy)
            {
                await deploy;
                return new TicketingCluster(cluster, storage);
            }
            // Seen once in a CI run (2026-11-30): a silo's start waited forever on Orleans' in-memory membership table
            // (SystemTargetBasedMembershipTable.ReadAllAsync), with no test code on any stack. The stuck cluster is
            // left to stop in the background, and a new one (new ports) is started; a second hang fails the test.
            _ = cluster.DisposeAsync().AsTask().WaitAsync(DeployTimeout).ContinueWith(_ => { }, TaskScheduler.Default);
            if (attempt == 2) throw new TimeoutException($"The test cluster did not start within {DeployTimeout}, twice.");
            output?.WriteLine($"The test cluster did not start within {DeployTimeout}; starting another.");
        }
    }

    /// <summary>A deploy takes seconds; this is for one that never ends.</summary>
    private static readonly TimeSpan DeployTimeout = TimeSpan.FromMinutes(2);

    /// <summary>
    /// Silo set-up that runs <paramref name="intercept"/> instead of <paramref name="method"/> when the call is for
    /// <paramref name="shard"/>: a test plays a shard that answers late, or not at all. The interception may still
    /// invoke the call.
    /// </summary>
    public static Action<ISiloBuilder> Intercepting(ShardAddress shard, string method, Func<IIncomingGrainCallContext, Task> intercept) =>
        silo => silo.AddIncomingGrainCallFilter(call =>
            call.InterfaceMethod.Name == method && call.TargetId.Key.ToString() == shard.Key ? intercept(call) : call.Invoke());

    /// <summary>
    /// Silo set-up in which <paramref name="shard"/>'s purchases wait for <paramref name="thaw"/>, as on a frozen silo;
    /// <paramref name="arrived"/>, if given, is set when the first one arrives.
    /// </summary>
    public static Action<ISiloBuilder> Freezing(ShardAddress shard, Task thaw, TaskCompletionSource? arrived = null) =>
        Intercepting(shard, nameof(IInventoryShardGrain.Purchase), async call =>
        {
            arrived?.TrySetResult();
            await thaw;
            await call.Invoke();
        });

    public async Task<EventDefinition> CreateEventAsync(string id, params TicketTypeDefinition[] types)
    {
        var definition = new EventDefinition(id, "Event " + id, [.. types]);
        Assert.Equal(CreateEventOutcome.Created, await Client.GetEventGrain(id).Create(definition));
        return definition;
    }

    public static TicketTypeDefinition Type(string id, int capacity, int shards, int maxPerOrder = 10, decimal price = 10m) =>
        new(id, "Type " + id, price, "EUR", capacity, shards, maxPerOrder);

    public Task<PurchaseResult> BuyAsync(string eventId, string typeId, int quantity, string? key = null, string buyer = "Ada") =>
        Client.GetGrain<IPurchaseDispatcherGrain>($"{eventId}/{typeId}")
            .Purchase(new PurchaseRequest(eventId, typeId, quantity, new Buyer(buyer, $"{buyer.ToLowerInvariant()}@example.com"), key));

    /// <summary>An order without a key, for a test that sends it to one shard itself instead of through a dispatcher.</summary>
    public static ShardPurchase KeylessPurchase(string eventId, string typeId, int quantity) =>
        new(new PurchaseRequest(eventId, typeId, quantity, new Buyer("Ada", "ada@example.com"), null), string.Empty, []);

    public IInventoryShardGrain Shard(string eventId, string typeId, int index) =>
        Client.GetGrain<IInventoryShardGrain>(new ShardAddress(eventId, typeId, index).Key);

    /// <summary>
    /// Activates shards before a test's first call that has one of the service's time-outs (2 s for a question for
    /// room, a forward, a pull or a refresh, 5 s for a grant's delivery). A shard's first activation opens or creates
    /// its database, which on a busy machine (the suite runs collections side by side) can
    /// take longer than that, and the shard was passed over as if it did not answer.
    /// </summary>
    public async Task ActivateShardsAsync(string eventId, string typeId, params int[] indexes)
    {
        foreach (var index in indexes)
        {
            Assert.True(await Shard(eventId, typeId, index).GetSellable() >= 0, $"shard {eventId}/{typeId}/{index} could not load");
        }
    }

    /// <summary>
    /// A ledger for one shard, opened from outside its grain as a second activation would (not yet claimed): for
    /// tests that play a competing activation or count what is really in the database.
    /// </summary>
    public async Task<(ShardPlacement Placement, ShardLedger Ledger)> LedgerAsync(string eventId, string typeId, int index)
    {
        var (placement, database) = await ShardDatabaseAsync(eventId, typeId, index);
        return (placement, new ShardLedger(database, placement.Address));
    }

    /// <summary>Blocks every write to the database of one shard until disposed (see <see cref="HeldWrites"/>).</summary>
    public async Task<HeldWrites> HoldWritesAsync(string eventId, string typeId, int index) =>
        await HeldWrites.HoldAsync((await ShardDatabaseAsync(eventId, typeId, index)).Database);

    /// <summary>One shard's placement and its database, as the silo holds it.</summary>
    public async Task<(ShardPlacement Placement, ShardDatabase Database)> ShardDatabaseAsync(string eventId, string typeId, int index)
    {
        var placement = await Client.GetEventGrain(eventId).GetPlacement(typeId, index)
            ?? throw new InvalidOperationException($"no shard {eventId}/{typeId}/{index}");
        var databases = Cluster.GetSiloServiceProvider().GetRequiredService<ShardDatabases>();
        return (placement, databases.Get(placement.DatabaseOrdinal));
    }

    /// <summary>
    /// Collects one instrument of the sale's metrics on the first silo. Its own meter factory scopes the collector to
    /// this cluster, whatever other tests run meanwhile.
    /// </summary>
    public MetricCollector<T> CollectMetric<T>(string instrument) where T : struct =>
        new(Cluster.GetSiloServiceProvider().GetRequiredService<IMeterFactory>(), TicketingMeter.Name, instrument);

    /// <summary>Whether the dispatchers' pauses that <paramref name="pauses"/> collected include one for <paramref name="reason"/>.</summary>
    public static bool PausedFor(MetricCollector<long> pauses, string reason) => PausesFor(pauses, reason) > 0;

    /// <summary>How many pauses the dispatchers made for <paramref name="reason"/>, as <paramref name="pauses"/> collected them.</summary>
    public static long PausesFor(MetricCollector<long> pauses, string reason) =>
        pauses.GetMeasurementSnapshot().Where(m => m.Tags.TryGetValue("reason", out var tag) && (string?)tag == reason).Sum(m => m.Value);

    /// <summary>The PostgreSQL database of shard database <paramref name="ordinal"/>, named as the silo names it.</summary>
    public string PostgresShardDatabase(int ordinal) =>
        Cluster.GetSiloServiceProvider().GetRequiredService<ShardDatabases>().PostgresDatabaseName(ordinal);

    public async Task<EventSales> SalesAsync(string eventId) =>
        await Client.GetEventGrain(eventId).GetSales() ?? throw new InvalidOperationException("no event");

    public async ValueTask DisposeAsync()
    {
        await Cluster.StopAllSilosAsync();
        await Cluster.DisposeAsync();
        Storage.Dispose();
    }
}
