using OrleansTickets.Hosting;
using OrleansTickets.Storage;

namespace OrleansTickets.Silo.Hosting;

/// <summary>
/// Creates the membership database and our clustering schema before Orleans starts: the ADO.NET clustering provider
/// reads its queries from the database when it initialises. Registered ahead of the silo, and hosted services start
/// in registration order. It waits out a membership database that is briefly down (<see cref="DatabaseStartRetry"/>).
/// </summary>
internal sealed class MembershipSchemaInitializer(string connectionString, ILogger<MembershipSchemaInitializer> logger) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken) =>
        DatabaseStartRetry.RunAsync("membership schema", token => CatalogDatabase.EnsureMembershipSchemaAsync(connectionString, token),
            logger, cancellationToken);

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
