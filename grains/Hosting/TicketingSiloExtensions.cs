using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Orleans.Serialization;
using Orleans.Storage;
using OrleansTickets.Catalog;
using OrleansTickets.Diagnostics;
using OrleansTickets.Dispatch;
using OrleansTickets.Inventory;
using OrleansTickets.Storage;
using OrleansTickets.Tickets;

namespace OrleansTickets.Hosting;

/// <summary>Registers everything the ticketing grains need on a silo.</summary>
public static class TicketingSiloExtensions
{
    /// <summary>Adds storage, the ticket signer and the catalog grain storage, configured from <paramref name="configuration"/>.</summary>
    public static ISiloBuilder AddTicketing(this ISiloBuilder silo, IConfiguration configuration)
    {
        var services = silo.Services;
        services.AddOptions<TicketStorageOptions>().Bind(configuration.GetSection(TicketStorageOptions.SectionName))
            // A bad wait would otherwise surface as a dead writer thread and commits that never complete.
            .Validate(o => o.CommitGatherMilliseconds is >= 0 and <= TicketStorageOptions.MaxCommitGatherMilliseconds,
                $"Storage:CommitGatherMilliseconds must be a number from 0 to {TicketStorageOptions.MaxCommitGatherMilliseconds}.")
            // A writer that may take no order per commit takes none, forever, and stopping the silo waits on it.
            .Validate(o => o.MaxOrdersPerCommit >= 1, "Storage:MaxOrdersPerCommit must be at least 1.")
            // A pool of no connections fails every open (a negative one fails the database for the silo's life), and
            // the rehearsal, on the same settings, only logs that: the silo would open and answer every order 503.
            .Validate(o => o.MaxConnectionsPerDatabase >= 1, "Storage:MaxConnectionsPerDatabase must be at least 1.")
            .Validate(o => o.LookupWaitMilliseconds is >= 0 and <= 60_000, "Storage:LookupWaitMilliseconds must be 0 to 60000.")
            // 0 would mean no checkpoint at all, and the log would grow with every commit until the disk filled.
            .Validate(o => o.SqliteCheckpointPages is >= 1 and <= 1_000_000, "Storage:SqliteCheckpointPages must be 1 to 1000000.")
            .Validate(o => o.MaxShardDatabases >= 1, "Storage:MaxShardDatabases must be at least 1.")
            .Validate(o => ShardDatabases.TooLongServerName(o) is null,
                "Storage:ConnectionString names a database too long to name the shard databases after it: PostgreSQL keeps 63 bytes " +
                "of a name, and <database>_shard_NNNN (up to Storage:MaxShardDatabases) must fit, or several would become one database. " +
                "Use a shorter database name.")
            .ValidateOnStart();
        // A bad key would otherwise surface only when the first shard activates: a silo that listens, rehearses
        // happily on its own scratch key, and then fails every purchase.
        services.AddOptions<TicketCodeOptions>().Bind(configuration.GetSection(TicketCodeOptions.SectionName))
            .Validate(o => string.IsNullOrEmpty(o.SigningKey) || TicketCodeSigner.TryParseKey(o.SigningKey, out _),
                $"Tickets:SigningKey must be {TicketCodeSigner.KeyRule}.")
            .ValidateOnStart();
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton<SaleMetrics>();
        services.AddSingleton<ShardPurchaseWatches>();
        services.AddSingleton<ShardDatabases>();
        services.AddSingleton<InventoryShardDirectory>();
        services.AddSingleton<SilentCandidates>();
        services.AddSingleton(sp =>
        {
            var codes = sp.GetRequiredService<IOptions<TicketCodeOptions>>();
            if (codes.Value.SigningKey is { Length: > 0 }) return new TicketCodeSigner(codes);
            var storage = sp.GetRequiredService<IOptions<TicketStorageOptions>>().Value;
            return new TicketCodeSigner(SigningKeyFile.LoadOrCreate(SigningKeyFile.PathIn(storage.DataPath)));
        });
        services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>, CatalogSchemaInitializer>();
        services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>, SigningKeyCheck>();
        services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>, ServiceIdCheck>();
        services.AddSingleton<SiloDeparture>();
        services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>>(services => services.GetRequiredService<SiloDeparture>());

        silo.AddAdoNetGrainStorage(StorageNames.Catalog, (OptionsBuilder<AdoNetGrainStorageOptions> builder) =>
            builder.Configure<IOptions<TicketStorageOptions>, Serializer>((options, storage, serializer) =>
            {
                options.Invariant = CatalogDatabase.Invariant(storage.Value.Provider);
                options.ConnectionString = CatalogDatabase.ConnectionString(storage.Value);
                // Orleans' own binary format: the catalog types are [GenerateSerializer] records.
                options.GrainStorageSerializer = new OrleansGrainStorageSerializer(serializer);
                // Clearing keeps the row and its version (ClearStorageKey). Deleting it would let a new first write
                // start again at version 1, which a stale twin could still hold as its ETag; the scripts ship no
                // DeleteStorageKey, so the provider would refuse to start with true.
                options.DeleteStateOnClear = false;
            }));
        // The last keyed registration wins: the same provider, whose start waits out a catalog database briefly down.
        services.AddKeyedSingleton<IGrainStorage>(StorageNames.Catalog, (provider, name) => new StartRetryingGrainStorage(
            AdoNetGrainStorageFactory.Create(provider, (string)name!), provider.GetRequiredService<ILogger<StartRetryingGrainStorage>>()));
        return silo;
    }
}
