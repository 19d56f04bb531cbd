namespace OrleansTickets.Api.Orders;

/// <summary>How many order pages one client may load from one API process: at once, per second, and in a burst.</summary>
/// <remarks>
/// Bound from the <c>Api:OrderPages</c> configuration section; checked when the host starts. A client is its IPv4 address
/// or its IPv6 /64 (<see cref="Http.ClientNetwork"/>). Behind a proxy or load balancer every request comes from the
/// proxy unless forwarded headers are enabled (README, "Order pages per client").
/// </remarks>
public sealed class OrderPageLimitOptions
{
    /// <summary>The configuration section name.</summary>
    public const string SectionName = "Api:OrderPages";

    /// <summary>The most any of these settings may be.</summary>
    public const int MaxSetting = 1_000_000;

    /// <summary>
    /// Order pages a client gets per second once its burst is spent; 0 turns every part of the limit off. A buyer loads
    /// a few, but a carrier's NAT puts thousands of buyers behind one address, so the default is generous: it stops
    /// one source from keeping the shard databases' lookup connections busy with made-up ids, not a crowd.
    /// </summary>
    public int PerClientPerSecond { get; set; } = 50;

    /// <summary>Order pages a client may load in quick succession before the per-second rate applies; at least the rate.</summary>
    public int PerClientBurst { get; set; } = 100;

    /// <summary>
    /// Order pages of one client being answered at the same time. The rate alone would let one source start its whole
    /// burst at once, enough to take every lookup place of a database (four per lookup connection) while they last.
    /// </summary>
    public int PerClientInFlight { get; set; } = 4;

    /// <summary>Whether the limit applies at all.</summary>
    public bool Enabled => PerClientPerSecond > 0;
}
