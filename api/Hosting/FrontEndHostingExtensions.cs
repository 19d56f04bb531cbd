using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
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
            client.UseConnectionRetryFilter<GatewayConnectionRetry>();
        });
        builder.Services.AddSingleton(new GatewayHop(MayResend: true));
        builder.Services.AddSingleton<ClusterConnection>();
        builder.Services.AddSingleton<IClusterConnectionStatusObserver>(services => services.GetRequiredService<ClusterConnection>());
        builder.Services.AddTicketingApi();
        // A stop waits for requests in flight, and a purchase may wait on its grain call for up to Orleans' 30 s response
        // timeout (checked about once a second): with .NET's default 30 s budget, Kestrel could cut such a buyer off with
        // no answer at all instead of 503 outcome-unknown.
        builder.Services.Configure<HostOptions>(options => options.ShutdownTimeout = ShutdownTimeout);
        return builder;
    }

    /// <summary>How long a stopping front end may take: a purchase's grain call at Orleans' 30 s timeout, with room to answer.</summary>
    public static readonly TimeSpan ShutdownTimeout = TimeSpan.FromSeconds(40);
}
