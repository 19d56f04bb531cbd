using OrleansTickets.Hosting;

namespace OrleansTickets.Silo.Hosting;

/// <summary>
/// Orleans' ADO.NET membership table as it is, except that its initialisation (reading its queries from the membership
/// database, then the cluster's version row) is run again while that database is briefly out. Orleans makes that call
/// once, as the silo starts, and a failure ends the start.
/// </summary>
/// <remarks>
/// Everything else goes straight through: once running, Orleans' membership protocol has retries of its own.
/// </remarks>
public sealed class StartRetryingMembershipTable(IMembershipTable inner, ILogger<StartRetryingMembershipTable> logger) : IMembershipTable
{
    public Task InitializeMembershipTableAsync(bool tryInitTableVersion, CancellationToken cancellationToken) =>
        DatabaseStartRetry.RunAsync("membership table", token => inner.InitializeMembershipTableAsync(tryInitTableVersion, token), logger, cancellationToken);

    public Task DeleteMembershipTableEntriesAsync(string clusterId, CancellationToken cancellationToken) =>
        inner.DeleteMembershipTableEntriesAsync(clusterId, cancellationToken);

    public Task CleanupDefunctSiloEntriesAsync(DateTimeOffset beforeDate, CancellationToken cancellationToken) =>
        inner.CleanupDefunctSiloEntriesAsync(beforeDate, cancellationToken);

    public Task<MembershipTableData> ReadRowAsync(SiloAddress key, CancellationToken cancellationToken) => inner.ReadRowAsync(key, cancellationToken);

    public Task<MembershipTableData> ReadAllAsync(CancellationToken cancellationToken) => inner.ReadAllAsync(cancellationToken);

    public Task<bool> InsertRowAsync(MembershipEntry entry, TableVersion tableVersion, CancellationToken cancellationToken) =>
        inner.InsertRowAsync(entry, tableVersion, cancellationToken);

    public Task<bool> UpdateRowAsync(MembershipEntry entry, string etag, TableVersion tableVersion, CancellationToken cancellationToken) =>
        inner.UpdateRowAsync(entry, etag, tableVersion, cancellationToken);

    public Task UpdateIAmAliveAsync(MembershipEntry entry, CancellationToken cancellationToken) => inner.UpdateIAmAliveAsync(entry, cancellationToken);

    // The interface's older members, still abstract in Orleans 10 though obsolete; Orleans itself calls the ones above.
#pragma warning disable CS0618
    public Task InitializeMembershipTable(bool tryInitTableVersion) => InitializeMembershipTableAsync(tryInitTableVersion, CancellationToken.None);

    public Task DeleteMembershipTableEntries(string clusterId) => inner.DeleteMembershipTableEntries(clusterId);

    public Task CleanupDefunctSiloEntries(DateTimeOffset beforeDate) => inner.CleanupDefunctSiloEntries(beforeDate);

    public Task<MembershipTableData> ReadRow(SiloAddress key) => inner.ReadRow(key);

    public Task<MembershipTableData> ReadAll() => inner.ReadAll();

    public Task<bool> InsertRow(MembershipEntry entry, TableVersion tableVersion) => inner.InsertRow(entry, tableVersion);

    public Task<bool> UpdateRow(MembershipEntry entry, string etag, TableVersion tableVersion) => inner.UpdateRow(entry, etag, tableVersion);

    public Task UpdateIAmAlive(MembershipEntry entry) => inner.UpdateIAmAlive(entry);
#pragma warning restore CS0618
}
