namespace OrleansTickets.Silo.Rehearsal;

/// <summary>Registers the on-sale rehearsal.</summary>
public static class RehearsalHostingExtensions
{
    /// <summary>
    /// Adds the rehearsal as a hosted service. Register it before Orleans: hosted services start in registration
    /// order (the web server last), so the real silo joins its cluster, and the API listens, only once it is done.
    /// </summary>
    public static IServiceCollection AddOnSaleRehearsal(this IServiceCollection services)
    {
        services.AddOptions<RehearsalOptions>().BindConfiguration(RehearsalOptions.SectionName)
            .Validate(o => !o.Enabled || (o.Tickets >= RehearsalOptions.MinTickets && o.Buyers >= 1 && o.TimeLimitSeconds > 0 && o.SettleSeconds >= 0),
                $"Rehearsal needs Tickets of at least {RehearsalOptions.MinTickets}, Buyers of at least 1, a positive TimeLimitSeconds and a SettleSeconds of at least 0.")
            .ValidateOnStart();
        services.AddSingleton<RehearsalReport>();
        services.AddHostedService<OnSaleRehearsal>();
        return services;
    }
}
