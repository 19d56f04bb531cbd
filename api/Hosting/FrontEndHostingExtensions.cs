using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using Orleans.Configuration;

namespace OrleansTickets.Api.Hosting;

/// <summary>Configures a process as an API front end: an Orleans client of a PostgreSQL-membership cluster.</summary>
public static class FrontEndHostingExtensions
{
    public static WebApplicationBuilder AddTicketingFrontEnd(this WebApplicationBuilder builder)
    {
        var cluster = builder.Configuration.GetSection(ClusterHostOptions.SectionName).Get<ClusterHostOptions>() ?? new();
        var membership = cluster.ConnectionString ?? builder.Configuration["Storage:ConnectionString"]
            ?? throw new InvalidOperationException("A front end needs Cluster:ConnectionString: the silos' PostgreSQL membership database.");
        builder.UseOrleansClient(client =>
        {
            // The silos create the membership schema; start at least one silo before the first front end.
            client.UseAdoNetClustering(o =>
            {
                o.Invariant = "Npgsql";
                o.ConnectionString = membership;
            });
            client.Configure<ClusterOptions>(o =>
            {
                o.ClusterId = cluster.ClusterId;
                o.ServiceId = cluster.ServiceId;
            });
        });
        builder.Services.AddTicketingApi();
        return builder;
    }
}
