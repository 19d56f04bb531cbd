using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Orleans.Serialization;
using Orleans.Storage;
using OrleansTickets.Catalog;
using OrleansTickets.Diagnostics;
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
            .ValidateOnStart();
        services.AddOptions<TicketCodeOptions>().Bind(configuration.GetSection(TicketCodeOptions.SectionName));
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton<SaleMetrics>();
        services.AddSingleton<ShardDatabases>();
        services.AddSingleton<InventoryShardDirectory>();
        services.AddSingleton(sp =>
        {
            var codes = sp.GetRequiredService<IOptions<TicketCodeOptions>>().Value;
            if (codes.SigningKey is { Length: > 0 } key) return new TicketCodeSigner(Convert.FromBase64String(key));
            var storage = sp.GetRequiredService<IOptions<TicketStorageOptions>>().Value;
            return new TicketCodeSigner(SigningKeyFile.LoadOrCreate(Path.Combine(storage.DataPath, "ticket-signing.key")));
        });
        services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>, CatalogSchemaInitializer>();

        silo.AddAdoNetGrainStorage(StorageNames.Catalog, (OptionsBuilder<AdoNetGrainStorageOptions> builder) =>
            builder.Configure<IOptions<TicketStorageOptions>, Serializer>((options, storage, serializer) =>
            {
                options.Invariant = CatalogDatabase.Invariant(storage.Value.Provider);
                options.ConnectionString = CatalogDatabase.ConnectionString(storage.Value);
                // Orleans' own binary format: the catalog types are [GenerateSerializer] records.
                options.GrainStorageSerializer = new OrleansGrainStorageSerializer(serializer);
            }));
        return silo;
    }
}
