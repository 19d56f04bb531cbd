using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using Orleans.Configuration;
using OrleansTickets.Api.Orders;

namespace OrleansTickets.Api.Hosting;

/// <summary>Configures a process as an API front end: an Orleans client of a PostgreSQL-membership cluster.</summary>
public static class FrontEndHostingExtensions
{
    public static WebApplicationBuilder AddTicketingFrontEnd(this WebApplicationBuilder builder)
    {
        var cluster = ClusterHostOptions.From(builder.Configuration);
        var membership = cluster.MembershipConnectionString(builder.Configuration);
        builder.UseOrleansClient(client =>
        {
            // The silos create the membership schema; start at least one silo before the first front end.
            client.UseAdoNetClustering(o => ClusterHostOptions.UsePostgres(o, membership));
            client.Configure<ClusterOptions>(cluster.ConfigureIds);
            client.UseConnectionRetryFilter(new GatewayConnectionRetry(TimeProvider.System));
        });
        builder.Services.AddSingleton(new GatewayHop(MayResend: true));
        builder.Services.AddTicketingApi();
        return builder;
    }
}
