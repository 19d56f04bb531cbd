using System.Diagnostics;
using System.Reflection;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Npgsql;
using Orleans.Configuration;
using Orleans.Messaging;
using Orleans.Runtime.Membership;
using Orleans.Runtime.MembershipService;
using Orleans.TestingHost;
using OrleansTickets.Tests.Infrastructure;

namespace OrleansTickets.Tests.Cluster;

/// <summary>
/// Real silos and a real client that know each other only through Orleans' ADO.NET clustering on our PostgreSQL
/// schema: joining, a crash, a graceful leave and a late join, with grain calls answered after each step.
/// </summary>
[Collection(PostgresMembershipCollection.Name)]
public sealed class MembershipTableClusterTests(PostgresFixture postgres)
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(20);

    [PostgresFact]
    public async Task SilosJoinDieLeaveAndJoinThroughTheTable()
    {
        var db = await MembershipDatabase.CreateAsync(postgres, "membership_cluster");
        // The silo that will crash logs in as its own role, so the test can cut it off from the database
        // first: otherwise the in-process "kill" still lets it write its own Dead row, and nothing would
        // show that the others detect and declare a crash.
        var role = "crashing_" + Guid.NewGuid().ToString("N")[..12];
        await db.ExecuteAsync($"CREATE ROLE {role} LOGIN SUPERUSER");
        var crashingConnection = new NpgsqlConnectionStringBuilder(db.ConnectionString) { Username = role }.ConnectionString;
        string? crashingName = "Silo_2";

        var builder = new InProcessTestClusterBuilder(3);
        UseRealMembership(builder.Options);
        builder.ConfigureSilo((options, silo) => silo
            .UseAdoNetClustering(o =>
            {
                o.Invariant = "Npgsql";
                o.ConnectionString = options.SiloName == crashingName ? crashingConnection : db.ConnectionString;
            })
            .Configure<ClusterMembershipOptions>(Fast));
        builder.ConfigureClient(client => client
            .UseAdoNetClustering(o =>
            {
                o.Invariant = "Npgsql";
                o.ConnectionString = db.ConnectionString;
            })
            .Configure<GatewayOptions>(o => o.GatewayListRefreshPeriod = TimeSpan.FromSeconds(1)));
        var cluster = builder.Build();
        try
        {
            await cluster.DeployAsync();
            var clusterId = cluster.Options.ClusterId;
            var silos = cluster.Silos.ToList();
            Assert.All(silos, s => Assert.IsType<AdoNetClusteringTable>(s.ServiceProvider.GetRequiredService<IMembershipTable>()));
            Assert.IsType<AdoNetGatewayListProvider>(cluster.Client.ServiceProvider.GetRequiredService<IGatewayListProvider>());

            // Three concurrent joins, each an insert and an update to Active, all through the version row.
            await EventuallyAsync(() => ActiveRowsAsync(db, clusterId), n => n == 3, "three Active rows");
            await AllSeeAsync(silos, silos, SiloStatus.Active);
            var joinedVersion = await db.VersionAsync(clusterId);
            Assert.True(joinedVersion >= 2 * silos.Count, $"table version {joinedVersion} after {silos.Count} joins");
            await AssertGrainsAnswerAsync(cluster.Client, silos);

            var crashing = silos.Single(s => s.Name == "Silo_2");
            var survivors = silos.Where(s => s != crashing).ToList();
            // Its own Stopping/Dead writes now fail; one second of retries instead of the default minutes keeps
            // its messaging, and so its answers to probes, from outliving the kill.
            crashing.ServiceProvider.GetRequiredService<IOptions<ClusterMembershipOptions>>().Value.MaxJoinAttemptTime = TimeSpan.FromSeconds(1);
            await db.ExecuteAsync($"ALTER ROLE {role} NOLOGIN; SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{role}';");
            crashingName = null;
            await cluster.KillSiloAsync(crashing);

            var declared = await EventuallyAsync(() => RowAsync(db, clusterId, crashing), m => m?.Status == SiloStatus.Dead, "the crashed silo declared Dead");
            Assert.Contains(survivors, s => declared!.SuspectTimes?.Contains(s.SiloAddress.ToParsableString()) == true);
            await AllSeeAsync(survivors, [crashing], SiloStatus.Dead);
            await AssertGrainsAnswerAsync(cluster.Client, survivors);

            var leaving = survivors.Single(s => s.Name == "Silo_1");
            var remaining = survivors.Where(s => s != leaving).ToList();
            await cluster.StopSiloAsync(leaving);
            await EventuallyAsync(() => RowAsync(db, clusterId, leaving), m => m?.Status == SiloStatus.Dead, "the stopped silo marked Dead");
            await AllSeeAsync(remaining, [leaving], SiloStatus.Dead);
            await AssertGrainsAnswerAsync(cluster.Client, remaining);

            var joiner = await cluster.StartAdditionalSiloAsync();
            var live = remaining.Append(joiner).ToList();
            await EventuallyAsync(() => RowAsync(db, clusterId, joiner), m => m?.Status == SiloStatus.Active, "the new silo Active");
            await AllSeeAsync(live, live, SiloStatus.Active);
            Assert.True(await db.VersionAsync(clusterId) > joinedVersion + 2);
            await AssertGrainsAnswerAsync(cluster.Client, live);
        }
        finally
        {
            await cluster.StopAllSilosAsync();
            await cluster.DisposeAsync();
        }
    }

    // The option is internal in Orleans 10.4.2, and while it is on, the cluster registers its in-memory membership
    // table, gateway list and grain directory after our delegates, so they would win over UseAdoNetClustering.
    private static void UseRealMembership(InProcessTestClusterOptions options)
    {
        var property = typeof(InProcessTestClusterOptions).GetProperty("UseTestClusterMembership", BindingFlags.Instance | BindingFlags.NonPublic)
            ?? throw new InvalidOperationException("Orleans.TestingHost has no UseTestClusterMembership any more; find its new switch for in-memory membership.");
        property.SetValue(options, false);
    }

    private static void Fast(ClusterMembershipOptions options)
    {
        options.ProbeTimeout = TimeSpan.FromSeconds(1);
        // Two missed probes, not one: the silos share one process, and a single stall of a loaded machine past the
        // probe timeout must not declare a live silo dead.
        options.NumMissedProbesLimit = 2;
        options.NumVotesForDeathDeclaration = 1;
        options.TableRefreshTimeout = TimeSpan.FromSeconds(1);
        options.IAmAliveTablePublishTimeout = TimeSpan.FromSeconds(1);
    }

    private static async Task<int> ActiveRowsAsync(MembershipDatabase db, string clusterId) =>
        (await db.MembersAsync(clusterId)).Count(m => m.Status == SiloStatus.Active);

    private static async Task<StoredMember?> RowAsync(MembershipDatabase db, string clusterId, InProcessSiloHandle silo) =>
        (await db.MembersAsync(clusterId)).SingleOrDefault(m => m.Silo.Equals(silo.SiloAddress));

    /// <summary>Waits until every observer's own membership view gives each of <paramref name="subjects"/> that status.</summary>
    private static Task AllSeeAsync(IEnumerable<InProcessSiloHandle> observers, IEnumerable<InProcessSiloHandle> subjects, SiloStatus status) =>
        Task.WhenAll(observers.SelectMany(observer => subjects.Select(subject => EventuallyAsync(
            () => Task.FromResult(observer.ServiceProvider.GetRequiredService<IClusterMembershipService>().CurrentSnapshot.GetSiloStatus(subject.SiloAddress)),
            seen => seen == status,
            $"{observer.Name} to see {subject.Name} {status}"))));

    private static async Task AssertGrainsAnswerAsync(IClusterClient client, IEnumerable<InProcessSiloHandle> live)
    {
        var hosts = live.Select(s => s.SiloAddress.ToString()).ToHashSet();
        var answers = await Task.WhenAll(Enumerable.Range(0, 24).Select(i => client.GetGrain<IMembershipProbeGrain>(i).HostAsync()));
        Assert.All(answers, host => Assert.Contains(host, hosts));
    }

    private static async Task<T> EventuallyAsync<T>(Func<Task<T>> read, Func<T, bool> done, string what)
    {
        var waited = Stopwatch.StartNew();
        while (true)
        {
            var value = await read();
            if (done(value))
            {
                return value;
            }

            if (waited.Elapsed > Bound)
            {
                Assert.Fail($"Still waiting after {Bound.TotalSeconds} s for {what}; last seen: {value?.ToString() ?? "nothing"}.");
            }

            await Task.Delay(100);
        }
    }
}
