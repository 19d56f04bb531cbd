namespace OrleansTickets.Sales;

/// <summary>The status words reported per shard.</summary>
public static class ShardStatus
{
    /// <summary>Selling.</summary>
    public const string Open = "open";

    /// <summary>Every serial in the block is sold.</summary>
    public const string SoldOut = "sold-out";

    /// <summary>Its database cannot be reached right now; its unsold tickets wait for it.</summary>
    public const string Unavailable = "unavailable";
}
