using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Orleans.Runtime.Membership;
using OrleansTickets.Tests.Infrastructure;

namespace OrleansTickets.Tests.Cluster;

/// <summary>
/// Orleans' own ADO.NET membership table and gateway list provider against our PostgreSQL script: the
/// optimistic-concurrency contract the membership protocol depends on, driven through the provider's public API.
/// </summary>
[Collection(PostgresMembershipCollection.Name)]
public sealed class MembershipTableTests(PostgresFixture postgres)
{
    private static int _nextPort = 20_000;

    [PostgresFact]
    public async Task StaleInsertsAndUpdatesFailWithoutSideEffects()
    {
        var (db, clusterId, table) = await StartAsync("membership_stale");
        var empty = await table.ReadAllAsync();
        Assert.Empty(empty.Members);
        Assert.Equal(0, empty.Version.Version);

        var first = Entry(SiloStatus.Joining);
        Assert.True(await table.InsertRowAsync(first, empty.Version.Next()));
        var afterInsert = await table.ReadAllAsync();
        Assert.Equal(1, afterInsert.Version.Version);
        var (_, etag) = Assert.Single(afterInsert.Members);
        Assert.Equal(afterInsert.Version.VersionEtag, etag);

        // Another silo that read the table before the insert.
        Assert.False(await table.InsertRowAsync(Entry(SiloStatus.Joining), empty.Version.Next()));
        first.Status = SiloStatus.Active;
        Assert.False(await table.UpdateRowAsync(first, empty.Version.VersionEtag, empty.Version.Next()));
        Assert.Equal(SiloStatus.Joining, Assert.Single(await db.MembersAsync(clusterId)).Status);
        Assert.Equal(1, await db.VersionAsync(clusterId));

        Assert.True(await table.UpdateRowAsync(first, etag, afterInsert.Version.Next()));
        var current = await table.ReadAllAsync();
        Assert.Equal(2, current.Version.Version);
        Assert.Equal(SiloStatus.Active, Assert.Single(current.Members).Item1.Status);

        // With a current version, a duplicate insert and an update of a missing row still fail, and fail whole.
        Assert.False(await table.InsertRowAsync(first, current.Version.Next()));
        Assert.False(await table.UpdateRowAsync(Entry(SiloStatus.Active), current.Version.VersionEtag, current.Version.Next()));
        Assert.Equal(2, await db.VersionAsync(clusterId));
        Assert.Single(await db.MembersAsync(clusterId));
    }

    [PostgresFact]
    public async Task ConcurrentWritersWithOneVersionHaveOneWinner()
    {
        var (db, clusterId, _) = await StartAsync("membership_race");
        // Several silos, each with its own provider, initialising and then joining at the same moment.
        var silos = await Task.WhenAll(Enumerable.Range(0, 6).Select(_ => Task.Run(async () =>
        {
            var table = db.Table(clusterId);
            await table.InitializeMembershipTableAsync(tryInitTableVersion: true);
            return table;
        })));
        var start = await silos[0].ReadAllAsync();

        var joined = await Task.WhenAll(silos.Select(t => Task.Run(() => t.InsertRowAsync(Entry(SiloStatus.Joining), start.Version.Next()))));
        Assert.Single(joined, ok => ok);
        Assert.Single(await db.MembersAsync(clusterId));
        Assert.Equal(start.Version.Version + 1, await db.VersionAsync(clusterId));

        for (var i = 0; i < 3; i++)
        {
            Assert.True(await silos[0].InsertRowAsync(Entry(SiloStatus.Joining), (await silos[0].ReadAllAsync()).Version.Next()));
        }

        // Every silo tries to write every row, all holding the same version: one write in total may land.
        var before = await silos[0].ReadAllAsync();
        var attempts = from member in before.Members from silo in silos select (Silo: silo, Entry: member.Item1, ETag: member.Item2);
        var updated = await Task.WhenAll(attempts.Select(a => Task.Run(() => a.Silo.UpdateRowAsync(a.Entry, a.ETag, before.Version.Next()))));
        Assert.Single(updated, ok => ok);
        Assert.Equal(before.Version.Version + 1, await db.VersionAsync(clusterId));
    }

    [PostgresFact]
    public async Task HeartbeatsKeepTheVersionAndReadsRoundTripEveryColumn()
    {
        var (db, clusterId, table) = await StartAsync("membership_rows");
        var entry = Entry(SiloStatus.Active, proxyPort: 30_000);
        Assert.True(await table.InsertRowAsync(entry, (await table.ReadAllAsync()).Version.Next()));

        var snapshot = await table.ReadRowAsync(entry.SiloAddress);
        var (row, etag) = Assert.Single(snapshot.Members);
        Assert.Equal((entry.SiloAddress, entry.SiloName, entry.HostName, entry.Status, entry.ProxyPort),
            (row.SiloAddress, row.SiloName, row.HostName, row.Status, row.ProxyPort));
        AssertClose(entry.StartTime, row.StartTime);
        AssertClose(entry.IAmAliveTime, row.IAmAliveTime);
        Assert.Null(row.SuspectTimes);

        entry.IAmAliveTime = DateTime.UtcNow.AddSeconds(5);
        await table.UpdateIAmAliveAsync(entry);
        Assert.Equal(snapshot.Version.Version, await db.VersionAsync(clusterId));
        AssertClose(entry.IAmAliveTime, Assert.Single((await table.ReadRowAsync(entry.SiloAddress)).Members).Item1.IAmAliveTime);

        // A vote based on the read from before the heartbeat still lands: heartbeats do not invalidate it.
        var voter = SiloAddress.New(IPAddress.Loopback, 11_111, 42);
        var votedAt = DateTime.UtcNow;
        row.AddOrUpdateSuspector(voter, votedAt, 2);
        Assert.True(await table.UpdateRowAsync(row, etag, snapshot.Version.Next()));
        var voted = Assert.Single((await table.ReadRowAsync(entry.SiloAddress)).Members).Item1;
        var vote = Assert.Single(voted.SuspectTimes!);
        Assert.Equal(voter, vote.Item1);
        AssertClose(votedAt, vote.Item2);
        // The vote carried the heartbeat time read before the heartbeat; the later one stays.
        AssertClose(entry.IAmAliveTime, voted.IAmAliveTime);

        var absent = await table.ReadRowAsync(Entry(SiloStatus.Active).SiloAddress);
        Assert.Empty(absent.Members);
        Assert.Equal(snapshot.Version.Version + 1, absent.Version.Version);
    }

    [PostgresFact]
    public async Task GatewaysAreActiveSilosWithAProxyPort()
    {
        var (db, clusterId, table) = await StartAsync("membership_gateways");
        var gateway = Entry(SiloStatus.Active, proxyPort: 30_001);
        foreach (var entry in new[] { gateway, Entry(SiloStatus.Active), Entry(SiloStatus.Joining, 30_002), Entry(SiloStatus.Dead, 30_003) })
        {
            Assert.True(await table.InsertRowAsync(entry, (await table.ReadAllAsync()).Version.Next()));
        }

        var provider = new AdoNetGatewayListProvider(
            NullLogger<AdoNetGatewayListProvider>.Instance,
            new ServiceCollection().BuildServiceProvider(),
            Options.Create(new AdoNetClusteringClientOptions { Invariant = "Npgsql", ConnectionString = db.ConnectionString }),
            Options.Create(new GatewayOptions()),
            Options.Create(new ClusterOptions { ClusterId = clusterId, ServiceId = "membership-tests" }));
        await provider.InitializeGatewayListProviderAsync();

        var uri = Assert.Single(await provider.GetGatewaysAsync());
        Assert.Equal((gateway.SiloAddress.Endpoint.Address.ToString(), 30_001), (uri.Host, uri.Port));
    }

    [PostgresFact]
    public async Task CleanupRemovesOnlySilosDeadBeforeTheCutoffOnBothQueryPaths()
    {
        var (db, clusterId, table) = await StartAsync("membership_cleanup");
        var cutoff = DateTimeOffset.UtcNow.AddHours(-1);
        var (longDead, keptRows) = await SeedForCleanupAsync(table);
        var version = await db.VersionAsync(clusterId);

        await table.CleanupDefunctSiloEntriesAsync(cutoff);

        var left = (await db.MembersAsync(clusterId)).Select(m => m.Silo).ToList();
        Assert.DoesNotContain(longDead, left);
        Assert.Equal(keptRows.OrderBy(s => s.ToParsableString()), left.OrderBy(s => s.ToParsableString()));
        Assert.Equal(version, await db.VersionAsync(clusterId));

        // Without the optional per-row query the provider falls back to the bulk one.
        await db.ExecuteAsync("DELETE FROM OrleansQuery WHERE QueryKey = 'CleanupDefunctSiloEntryKey'");
        var bulkCluster = clusterId + "-bulk";
        var bulk = db.Table(bulkCluster);
        await bulk.InitializeMembershipTableAsync(tryInitTableVersion: true);
        (longDead, keptRows) = await SeedForCleanupAsync(bulk);

        await bulk.CleanupDefunctSiloEntriesAsync(cutoff);

        // The bulk query cannot read votes, so it only promises the rest.
        left = (await db.MembersAsync(bulkCluster)).Select(m => m.Silo).ToList();
        Assert.DoesNotContain(longDead, left);
        Assert.Contains(keptRows[0], left);
        Assert.Contains(keptRows[2], left);
        Assert.Equal(3, (await db.MembersAsync(clusterId)).Count);
    }

    [PostgresFact]
    public async Task The_per_row_cleanup_deletes_a_dead_row_only_while_it_holds_the_values_the_provider_read()
    {
        // The provider picks the rows in C# from a read, then deletes each by its key and the values it read: a row that
        // changed in between (a fresh vote, a heartbeat, a status) is kept for the next round. The other cleanup test
        // cannot tell, since the provider never sends it a row that does not qualify.
        var (db, clusterId, table) = await StartAsync("membership_cleanup_row");
        var dead = Entry(SiloStatus.Dead, startTime: DateTime.UtcNow.AddHours(-2));
        Assert.True(await table.InsertRowAsync(dead, (await table.ReadAllAsync()).Version.Next()));
        var read = await db.CleanupValuesAsync(clusterId, dead.SiloAddress);

        foreach (var change in new[]
        {
            "SuspectTimes = '127.0.0.1:11111@42 , 2026-12-02 12:00:00.000 GMT'",
            "IAmAliveTime = IAmAliveTime + interval '1 second'",
            "StartTime = StartTime + interval '1 second'",
            "Status = 3",
        })
        {
            await db.ChangeRowAsync(clusterId, dead.SiloAddress, change);
            Assert.True(0 == await db.CleanUpRowAsync(clusterId, dead.SiloAddress, read), $"deleted after {change}");
            await db.RestoreDeadRowAsync(clusterId, dead.SiloAddress, read);
        }

        Assert.Equal(1, await db.CleanUpRowAsync(clusterId, dead.SiloAddress, read));
        Assert.Empty(await db.MembersAsync(clusterId));
    }

    [PostgresFact]
    public async Task DeletingTheClusterRemovesMembersAndVersion()
    {
        var (db, clusterId, table) = await StartAsync("membership_delete");
        Assert.True(await table.InsertRowAsync(Entry(SiloStatus.Active), (await table.ReadAllAsync()).Version.Next()));

        await table.DeleteMembershipTableEntriesAsync(clusterId);

        Assert.Empty(await db.MembersAsync(clusterId));
        Assert.Null(await db.VersionAsync(clusterId));
        await table.InitializeMembershipTableAsync(tryInitTableVersion: true);
        Assert.Equal(0, (await table.ReadAllAsync()).Version.Version);
    }

    private async Task<(MembershipDatabase Db, string ClusterId, IMembershipTable Table)> StartAsync(string prefix)
    {
        var db = await MembershipDatabase.CreateAsync(postgres, prefix);
        var clusterId = "cluster-" + Guid.NewGuid().ToString("N");
        var table = db.Table(clusterId);
        await table.InitializeMembershipTableAsync(tryInitTableVersion: true);
        return (db, clusterId, table);
    }

    /// <summary>One silo dead for two hours (removable) and three that must stay: recently dead, voted on recently, old but active.</summary>
    private static async Task<(SiloAddress LongDead, List<SiloAddress> Kept)> SeedForCleanupAsync(IMembershipTable table)
    {
        var old = DateTime.UtcNow.AddHours(-2);
        var longDead = Entry(SiloStatus.Dead, startTime: old);
        var recentlyDead = Entry(SiloStatus.Dead);
        var recentVote = Entry(SiloStatus.Dead, startTime: old);
        var oldActive = Entry(SiloStatus.Active, startTime: old);
        // Orleans binds an empty vote list as '' and reads it back as null: one value to the cleanup.
        var longDeadNoVotes = Entry(SiloStatus.Dead, startTime: old);
        longDeadNoVotes.SuspectTimes = [];
        foreach (var entry in new[] { longDead, recentlyDead, recentVote, oldActive, longDeadNoVotes })
        {
            Assert.True(await table.InsertRowAsync(entry, (await table.ReadAllAsync()).Version.Next()));
        }

        // Votes are only written by updates; an old vote must not keep a row, a fresh one must.
        longDead.AddSuspector(recentlyDead.SiloAddress, old);
        recentVote.AddSuspector(recentlyDead.SiloAddress, DateTime.UtcNow);
        foreach (var entry in new[] { longDead, recentVote, longDeadNoVotes })
        {
            var read = await table.ReadAllAsync();
            Assert.True(await table.UpdateRowAsync(entry, read.Version.VersionEtag, read.Version.Next()));
        }

        return (longDead.SiloAddress, [recentlyDead.SiloAddress, recentVote.SiloAddress, oldActive.SiloAddress]);
    }

    private static MembershipEntry Entry(SiloStatus status, int proxyPort = 0, DateTime? startTime = null)
    {
        var port = Interlocked.Increment(ref _nextPort);
        var start = startTime ?? DateTime.UtcNow;
        return new MembershipEntry
        {
            SiloAddress = SiloAddress.New(IPAddress.Loopback, port, Random.Shared.Next(1, int.MaxValue)),
            SiloName = $"silo-{port}",
            HostName = "membership-test-host",
            Status = status,
            ProxyPort = proxyPort,
            StartTime = start,
            IAmAliveTime = start,
        };
    }

    // PostgreSQL keeps microseconds and the vote format milliseconds; .NET has 100 ns ticks.
    private static void AssertClose(DateTime expected, DateTime actual) =>
        Assert.InRange((actual - expected).Duration(), TimeSpan.Zero, TimeSpan.FromMilliseconds(1));
}
