using System.Net;
using Orleans.Configuration;
using OrleansTickets.Api;
using OrleansTickets.Api.Hosting;
using OrleansTickets.Hosting;
using OrleansTickets.Silo.Rehearsal;

namespace OrleansTickets.Silo.Hosting;

/// <summary>Configures this process as one Orleans silo that also serves the HTTP API.</summary>
public static class SiloHostingExtensions
{
    public static WebApplicationBuilder AddTicketingSilo(this WebApplicationBuilder builder)
    {
        var cluster = ClusterHostOptions.From(builder.Configuration);
        string? membership = null;
        if (cluster.UsesAdoNetClustering)
        {
            membership = cluster.MembershipConnectionString(builder.Configuration);
            // Before UseOrleans: hosted services start in registration order, and the schema must exist first.
            builder.Services.AddHostedService(_ => new MembershipSchemaInitializer(membership));
        }
        // Before UseOrleans, for the same reason: the real silo starts once the rehearsal is over.
        builder.Services.AddOnSaleRehearsal();
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
                silo.Configure<ClusterOptions>(cluster.ConfigureIds);
                silo.ConfigureEndpoints(IPAddress.Loopback, cluster.SiloPort, cluster.GatewayPort, listenOnAnyHostAddress: false);
                // Failure detection is tunable (Cluster:Liveness:ProbeTimeout, NumMissedProbesLimit, ...): Orleans'
                // defaults take 15-60 s to declare a crashed silo dead, while its shards wait to reactivate.
                silo.Services.AddOptions<ClusterMembershipOptions>().Bind(builder.Configuration.GetSection("Cluster:Liveness"));
                silo.AddShardRebalancing(builder.Configuration);
            }
            silo.AddTicketing(builder.Configuration);
        });
        builder.Services.AddTicketingApi();
        return builder;
    }
}
