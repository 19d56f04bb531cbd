using OrleansTickets.Api;
using OrleansTickets.Hosting;

namespace OrleansTickets.Silo.Hosting;

/// <summary>Configures this process as one Orleans silo that also serves the HTTP API.</summary>
public static class SiloHostingExtensions
{
    public static WebApplicationBuilder AddTicketingSilo(this WebApplicationBuilder builder)
    {
        var orleans = builder.Configuration.GetSection("Orleans");
        builder.UseOrleans(silo =>
        {
            // One process, one silo: membership lives in this silo. Multi-silo clustering is configured separately.
            silo.UseLocalhostClustering(
                siloPort: orleans.GetValue("SiloPort", 11111),
                gatewayPort: orleans.GetValue("GatewayPort", 30000));
            silo.AddTicketing(builder.Configuration);
        });
        builder.Services.AddTicketingApi();
        return builder;
    }
}
