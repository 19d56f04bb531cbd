namespace OrleansTickets.Api.Health;

/// <summary>How a stopping server hands its buyers to the others behind a load balancer.</summary>
public sealed class ShutdownDrainOptions
{
    /// <summary>The configuration section name.</summary>
    public const string SectionName = "Api:Shutdown";

    /// <summary>The longest drain allowed: the stop's own budget grows by the drain, and a stop should not take minutes.</summary>
    public static readonly TimeSpan MaxDrain = TimeSpan.FromSeconds(60);

    /// <summary>
    /// How long a stopping server keeps listening before it closes its doors: its readiness answers 503 and every
    /// answer closes its connection, so the balancer takes it out of rotation and buyers reconnect to another server.
    /// 0 (the default) stops listening at once, as a server with no balancer in front should.
    /// </summary>
    public TimeSpan Drain { get; set; } = TimeSpan.Zero;
}
