using System.Text.Json.Serialization;

namespace OrleansTickets.LoadGenerator.Verification;

/// <summary>One shard's committed sales; <c>Known</c> is false when the numbers are a guess, not the shard's own count.</summary>
/// <remarks>
/// <c>known</c> must be in the report: read as true when missing, a report that left it out would have guessed
/// numbers pass as counted.
/// </remarks>
public sealed record ShardSalesSnapshot(int Index, long Capacity, long Sold, long Remaining, string Status, [property: JsonRequired] bool Known = true)
{
    /// <summary>The status of a shard that cannot sell or report now (the service's <c>ShardStatus.Unavailable</c>).</summary>
    public const string Unavailable = "unavailable";

    /// <summary>Whether these are the shard's own committed numbers, read from its database.</summary>
    public bool Counted => Known && Status != Unavailable;
}
