namespace OrleansTickets.Api.Orders;

/// <summary>How many order pages one client may load, per second and in a burst, from one API process.</summary>
/// <remarks>
/// Bound from the <c>Api:OrderPages</c> configuration section; checked when the host starts. A client is its address,
/// or its IPv6 /64 (<see cref="Http.ClientNetwork"/>). Behind a proxy or load balancer every request comes from the
/// proxy unless forwarded headers are enabled (README, "Storage and settings").
/// </remarks>
public sealed class OrderPageLimitOptions
{
    /// <summary>The configuration section name.</summary>
    public const string SectionName = "Api:OrderPages";

    /// <summary>The most <see cref="PerClientPerSecond"/> or <see cref="PerClientBurst"/> the host starts with.</summary>
    public const int MaxSetting = 1_000_000;

    /// <summary>
    /// Order pages a client gets back per second, once its burst is spent; 0 turns the limit off. A buyer loads a few,
    /// but a carrier's NAT puts thousands of buyers behind one address, so the default is generous: it stops one
    /// source from filling the shard databases' lookup places with made-up ids, not a crowd.
    /// </summary>
    public int PerClientPerSecond { get; set; } = 100;

    /// <summary>Order pages a client may load at once before the per-second rate applies; at least the rate.</summary>
    public int PerClientBurst { get; set; } = 200;

    /// <summary>Whether the limit applies at all.</summary>
    public bool Enabled => PerClientPerSecond > 0;
}
