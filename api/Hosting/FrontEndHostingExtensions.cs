using Microsoft.Extensions.Configuration.Memory;
using Orleans.Configuration;
using OrleansTickets.Api.Orders;

namespace OrleansTickets.Api.Hosting;

/// <summary>Configures a process as an API front end: an Orleans client of a PostgreSQL-membership cluster.</summary>
public static class FrontEndHostingExtensions
{
    public static WebApplicationBuilder AddTicketingFrontEnd(this WebApplicationBuilder builder)
    {
        // The front end has no settings file of its own (the silo references this project, and a second
        // appsettings.json would collide with the silo's in its output), so it takes the silo's logging defaults here,
        // beneath every other source: the environment and the command line still override them.
        builder.Configuration.Sources.Insert(0, new MemoryConfigurationSource { InitialData = LoggingDefaults });
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

    /// <summary>
    /// The logging levels silo/appsettings.json sets: Orleans, Polly and ASP.NET Core at warnings, and no per-request logs,
    /// whose scope and <c>Activity</c> cost every request allocations that nothing here reads.
    /// </summary>
    public static readonly IReadOnlyDictionary<string, string?> LoggingDefaults = new Dictionary<string, string?>
    {
        ["Logging:LogLevel:Orleans"] = "Warning",
        // Orleans' placement runs through a Polly pipeline whose telemetry logs two lines at Information for every
        // activation it places: 1,100 lines as a 550-shard sale opens.
        ["Logging:LogLevel:Polly"] = "Warning",
        // A category rule matches by prefix, so the one above would take this project's own categories too.
        ["Logging:LogLevel:OrleansTickets"] = "Information",
        ["Logging:LogLevel:Microsoft.AspNetCore"] = "Warning",
        ["Logging:LogLevel:Microsoft.AspNetCore.Hosting.Diagnostics"] = "None",
    };

    /// <summary>How long a stopping front end may take: a purchase's grain call at Orleans' 30 s timeout, with room to answer.</summary>
    public static readonly TimeSpan ShutdownTimeout = TimeSpan.FromSeconds(40);
}
