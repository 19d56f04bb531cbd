using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OrleansTickets.Storage;

namespace OrleansTickets.Hosting;

/// <summary>
/// Creates the catalog schema before Orleans' ADO.NET grain storage starts (it reads its queries from the
/// database when it initialises, at the ApplicationServices stage). It waits out a database that is briefly down
/// (<see cref="DatabaseStartRetry"/>).
/// </summary>
internal sealed class CatalogSchemaInitializer(IOptions<TicketStorageOptions> options, ILogger<CatalogSchemaInitializer> logger)
    : ILifecycleParticipant<ISiloLifecycle>
{
    public void Participate(ISiloLifecycle lifecycle) =>
        lifecycle.Subscribe(nameof(CatalogSchemaInitializer), ServiceLifecycleStage.RuntimeInitialize,
            cancellationToken => DatabaseStartRetry.RunAsync("catalog schema",
                token => CatalogDatabase.EnsureCreatedAsync(options.Value, token), logger, cancellationToken));
}
