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
            // A mistyped setting fails the start like any other configuration error; only failures while rehearsing
            // let the silo open anyway.
            .Validate(o => !o.Enabled || (o.Tickets >= RehearsalOptions.MinTickets && o.Buyers is >= 1 and <= 10_000
                    && o.EndPasses is >= 0 and <= 10 && o.TimeLimitSeconds is > 0 and <= RehearsalOptions.MaxSeconds
                    && o.SettleSeconds is >= 0 and <= RehearsalOptions.MaxSeconds),
                $"Rehearsal needs Tickets of at least {RehearsalOptions.MinTickets}, Buyers from 1 to 10000, EndPasses from 0 to 10, TimeLimitSeconds above 0 "
                + $"and SettleSeconds from 0, both at most {RehearsalOptions.MaxSeconds}.")
            .ValidateOnStart();
        services.AddSingleton<RehearsalReport>();
        services.AddHostedService<OnSaleRehearsal>();
        return services;
    }
}
