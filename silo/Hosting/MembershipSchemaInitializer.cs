using OrleansTickets.Storage;

namespace OrleansTickets.Silo.Hosting;

/// <summary>
/// Creates the membership database and our clustering schema before Orleans starts: the ADO.NET clustering provider
/// reads its queries from the database when it initialises. Registered ahead of the silo, and hosted services start
/// in registration order.
/// </summary>
internal sealed class MembershipSchemaInitializer(string connectionString) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken) =>
        await CatalogDatabase.EnsureMembershipSchemaAsync(connectionString, cancellationToken);

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
