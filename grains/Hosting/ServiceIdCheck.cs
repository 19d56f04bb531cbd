using System.Data.Common;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using OrleansTickets.Storage;

namespace OrleansTickets.Hosting;

/// <summary>
/// Records in the catalog database the service id its grain state is filed under, when a silo first starts on it; a
/// silo with another <c>Cluster:ServiceId</c> refuses to start.
/// </summary>
/// <remarks>
/// Orleans keys grain state by service id, while the shard databases, their stamps and their rows are the catalog's
/// whatever the service id. Started under another one, a silo found no event, and its allocator counted shard
/// databases from the start again: an operator who created the "missing" event anew had its shards placed on other
/// databases than before, where they found no row, started their blocks at sold 0 and sold every serial a second
/// time. SQLite and PostgreSQL catalogs; SQL Server catalogs are not checked (that dialect is unverified).
/// </remarks>
internal sealed class ServiceIdCheck(IOptions<ClusterOptions> cluster, IOptions<TicketStorageOptions> storage, ILogger<ServiceIdCheck> logger)
    : ILifecycleParticipant<ISiloLifecycle>
{
    private const string Table = "ticketing_service";
    private const string Column = "service_id";

    public void Participate(ISiloLifecycle lifecycle) =>
        // After the catalog's schema (CatalogSchemaInitializer, at RuntimeInitialize), before any grain reads its state.
        lifecycle.Subscribe(nameof(ServiceIdCheck), ServiceLifecycleStage.RuntimeInitialize + 1,
            cancellationToken => DatabaseStartRetry.RunAsync("service id record",
                token => CheckAsync(storage.Value, cluster.Value.ServiceId, token), logger, cancellationToken));

    /// <summary>
    /// Records the catalog's service id if it has none yet: the one its grain state is filed under when it holds state
    /// under one other id only (a catalog from before this record, first started again under another id), this silo's
    /// when it holds none or some under this id; with several others and none of this silo's, nothing, and throws.
    /// Throws when the recorded id is not this silo's.
    /// </summary>
    public static async Task CheckAsync(TicketStorageOptions storage, string serviceId, CancellationToken cancellationToken)
    {
        var recorded = await CatalogRecord.RecordOrReadAsync(storage, Table, Column,
            (connection, token) => OwnerAsync(connection, serviceId, token), cancellationToken);
        if (recorded is not null && recorded != serviceId)
        {
            throw new InvalidOperationException(
                $"Cluster:ServiceId is '{serviceId}', but this catalog's events are filed under service id '{recorded}': under another id " +
                "every event would seem gone, and an event created again would sell its serials a second time. Use Cluster:ServiceId " +
                $"'{recorded}' with this storage; a new service needs storage of its own (another data folder or Storage:ConnectionString).");
        }
    }

    /// <summary>
    /// The id to record for a catalog that records none yet: this silo's when the catalog holds no grain state or some
    /// under this id; the one other id its state is filed under otherwise. With several others, none of them this
    /// silo's, which is the service's own is not for a silo to guess: throws, and nothing is recorded.
    /// </summary>
    private static async Task<string> OwnerAsync(DbConnection connection, string serviceId, CancellationToken cancellationToken)
    {
        var filedUnder = new List<string>();
        await using (var read = connection.CreateCommand())
        {
            read.CommandText = "SELECT DISTINCT ServiceId FROM OrleansGrainState";
            await using var rows = await read.ExecuteReaderAsync(cancellationToken);
            while (await rows.ReadAsync(cancellationToken)) filedUnder.Add(rows.GetString(0));
        }
        if (filedUnder.Count == 0 || filedUnder.Contains(serviceId)) return serviceId;
        if (filedUnder.Count == 1) return filedUnder[0];
        throw new InvalidOperationException(
            $"Cluster:ServiceId is '{serviceId}', but this catalog's grain state is filed under other service ids " +
            $"({string.Join(", ", filedUnder.Select(id => $"'{id}'"))}) and it records none as its own yet. Start with the " +
            $"service's own id, which the catalog then records (table {Table}).");
    }
}
