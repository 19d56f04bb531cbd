namespace OrleansTickets.Diagnostics;

/// <summary>
/// How far a dispatcher had to go to answer a purchase, as <see cref="SaleMetrics"/> reports it: the furthest step it
/// took, in the order below. Lets the end of a sale's slow answers be told apart by what made them slow.
/// </summary>
public enum PurchaseRoute
{
    /// <summary>Answered by the first shard asked (for a keyed order, its home selling it itself), or refused early.</summary>
    Direct,

    /// <summary>A keyed order's home sold out and had another shard on its own database sell it (usually in one commit).</summary>
    Forwarded,

    /// <summary>
    /// A keyed order's home sold out and had a shard on another database sell it: the key's reservation on the home's
    /// database, then the order on the other, two commits one after the other.
    /// </summary>
    ForwardedAcross,

    /// <summary>The shard asked was told to pull tickets from donors first.</summary>
    Pulled,

    /// <summary>The dispatcher refreshed its view (asked every shard of the type) on the way.</summary>
    Refreshed,

    /// <summary>The dispatcher paused on the way: for tickets in flight, or after its shard failed.</summary>
    Paused,
}
