using Orleans.Configuration;
using Orleans.Runtime.MembershipService;
using OrleansTickets.Api;
using OrleansTickets.Api.Hosting;
using OrleansTickets.Hosting;
using OrleansTickets.Storage;
using OrleansTickets.Tickets;
using OrleansTickets.Silo.Rehearsal;

namespace OrleansTickets.Silo.Hosting;

/// <summary>Configures this process as one Orleans silo that also serves the HTTP API.</summary>
public static class SiloHostingExtensions
{
    // Orleans' ClusterMembershipOptions: read for the silo itself and for the cluster binding's liveness window alike.
    private const string LivenessSection = "Cluster:Liveness";

    public static WebApplicationBuilder AddTicketingSilo(this WebApplicationBuilder builder)
    {
        var cluster = ClusterHostOptions.From(builder.Configuration);
        // Read through the storage's own options, so the provider is judged exactly as the storage will bind it.
        var storage = builder.Configuration.GetSection(TicketStorageOptions.SectionName).Get<TicketStorageOptions>() ?? new();
        var liveness = new ClusterMembershipOptions();
        builder.Configuration.GetSection(LivenessSection).Bind(liveness);
        var otherClusterLiveFor = liveness.IAmAliveTablePublishTimeout * 3;
        string? membership = null;
        Func<ILogger, CancellationToken, Task>? bindingCheck = null;
        if (cluster.UsesAdoNetClustering)
        {
            // A cluster's silos must share their shard databases: a shard that moves to another silo reloads there
            // from what it committed. SQLite files are each silo's own once silos run on several machines, and a shard
            // reloaded from another machine's files would sell its serials again.
            if (storage.Provider == SqlDialect.Sqlite)
            {
                throw new InvalidOperationException("Cluster:Membership=AdoNet needs shard databases every silo shares: set Storage:Provider to PostgreSql (or SqlServer, with Cluster:ConnectionString naming the PostgreSQL membership database).");
            }
            // Without a configured key each silo signs with a key file of its own, and a gate holding one key would turn
            // away the tickets every other silo sold.
            var signingKey = builder.Configuration[$"{TicketCodeOptions.SectionName}:SigningKey"];
            if (string.IsNullOrEmpty(signingKey))
            {
                throw new InvalidOperationException("Cluster:Membership=AdoNet needs Tickets:SigningKey, the same on every silo: each silo would otherwise sign tickets with a key of its own.");
            }
            membership = cluster.MembershipConnectionString(builder.Configuration);
            if (cluster.RemoteMembershipHostWhileLoopback(membership) is { } remoteHost)
            {
                builder.Services.AddHostedService(services => new LoopbackAddressWarning(remoteHost, services.GetRequiredService<ILogger<LoopbackAddressWarning>>()));
            }
            // Before UseOrleans: hosted services start in registration order, and the schema must exist first.
            builder.Services.AddHostedService(services => new MembershipSchemaInitializer(membership,
                services.GetRequiredService<ILogger<MembershipSchemaInitializer>>()));
            // A parseable key: a malformed one stops the start through the options' own validation (AddTicketing).
            var key = TicketCodeSigner.TryParseKey(signingKey, out var parsed) ? parsed : [];
            var deployment = new ClusterBinding.Deployment(cluster.ClusterId, cluster.ServiceId, storage, key, otherClusterLiveFor);
            bindingCheck = (_, token) => ClusterBinding.CheckAsync(membership, deployment, token);
        }
        else if (storage.Provider == SqlDialect.PostgreSql && storage.ConnectionString is not null)
        {
            // A silo in Localhost mode pointed at a running cluster's catalog (to look at it, say) would take its shards.
            var clusters = cluster.MembershipConnectionString(builder.Configuration);
            bindingCheck = (logger, token) => ClusterBinding.RefuseLocalSiloWhileAClusterRunsAsync(clusters, cluster.ConnectionString is not null,
                storage, otherClusterLiveFor, logger, token);
        }
        Func<IServiceProvider, IHostedService>? newBindingCheck = bindingCheck is null ? null
            : services => new ClusterBindingCheck(bindingCheck, services.GetRequiredService<ILogger<ClusterBindingCheck>>());
        if (newBindingCheck is not null) builder.Services.AddSingleton(newBindingCheck);
        // Before UseOrleans, for the same reason: the real silo starts once the rehearsal is over.
        builder.Services.AddOnSaleRehearsal();
        // Again just before the silo starts: the rehearsal takes 15-30 s, time enough for another cluster to start on this
        // catalog meanwhile. Both as plain IHostedService registrations, since AddHostedService keeps one of each type.
        if (newBindingCheck is not null) builder.Services.AddSingleton(newBindingCheck);
        builder.UseOrleans(silo =>
        {
            if (membership is null)
            {
                // One process, one silo: membership lives in this silo.
                silo.UseLocalhostClustering(cluster.SiloPort, cluster.GatewayPort, serviceId: cluster.ServiceId, clusterId: cluster.ClusterId);
            }
            else
            {
                silo.UseAdoNetClustering(o => ClusterHostOptions.UsePostgres(o, membership));
                // The same table, whose one-off initialisation waits out a membership database briefly down.
                silo.Services.AddSingleton<AdoNetClusteringTable>();
                silo.Services.AddSingleton<IMembershipTable>(services => new StartRetryingMembershipTable(
                    services.GetRequiredService<AdoNetClusteringTable>(), services.GetRequiredService<ILogger<StartRetryingMembershipTable>>()));
                silo.Configure<ClusterOptions>(cluster.ConfigureIds);
                silo.ConfigureEndpoints(cluster.SiloAddress(), cluster.SiloPort, cluster.GatewayPort, listenOnAnyHostAddress: false);
                // Failure detection is tunable (Cluster:Liveness:ProbeTimeout, NumMissedProbesLimit, ...): Orleans'
                // defaults take 15-60 s to declare a crashed silo dead, while its shards wait to reactivate.
                silo.Services.AddOptions<ClusterMembershipOptions>().Bind(builder.Configuration.GetSection(LivenessSection));
                silo.AddShardRebalancing(builder.Configuration);
            }
            silo.AddTicketing(builder.Configuration);
        });
        builder.Services.AddTicketingApi();
        // One budget covers the whole stop: first the web server waits for requests in flight (one may wait on a grain
        // call for up to Orleans' 30 s timeout), then the silo hands its grains over. With .NET's default of 30 s a
        // single slow request could spend it all, and Orleans would then stop without deactivating its shards
        // gracefully, losing the answers of purchases other silos sent here.
        // One service after another, in the order registered, whatever the configuration says (.NET reads
        // servicesStartConcurrently from it): the membership schema must exist before Orleans reads its table, and the
        // rehearsal must end before the silo joins its cluster and Kestrel listens.
        builder.Services.Configure<HostOptions>(options =>
        {
            options.ShutdownTimeout = ShutdownTimeout;
            options.ServicesStartConcurrently = false;
        });
        return builder;
    }

    /// <summary>How long a stopping silo may take: the web server's drain and the silo's graceful leave together.</summary>
    public static readonly TimeSpan ShutdownTimeout = TimeSpan.FromSeconds(90);
}
