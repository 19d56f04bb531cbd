using Microsoft.Extensions.Options;
using OrleansTickets.Storage;

namespace OrleansTickets.Hosting;

/// <summary>
/// Creates the catalog schema before Orleans' ADO.NET grain storage starts (it reads its queries from the
/// database when it initialises, at the ApplicationServices stage).
/// </summary>
internal sealed class CatalogSchemaInitializer(IOptions<TicketStorageOptions> options) : ILifecycleParticipant<ISiloLifecycle>
{
    public void Participate(ISiloLifecycle lifecycle) =>
        lifecycle.Subscribe(nameof(CatalogSchemaInitializer), ServiceLifecycleStage.RuntimeInitialize,
            cancellationToken => CatalogDatabase.EnsureCreatedAsync(options.Value, cancellationToken));
}
