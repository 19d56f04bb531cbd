using System.Text.Json.Serialization;

namespace OrleansTickets.LoadGenerator.Verification;

/// <summary>One ticket type's sales, shard by shard.</summary>
/// <param name="Id">The ticket type.</param>
/// <param name="Capacity">Its tickets, sold or not.</param>
/// <param name="Sold">Its tickets sold.</param>
/// <param name="Remaining">Its tickets unsold.</param>
/// <param name="Shards">Each shard's own report.</param>
/// <param name="Known">
/// The service's own word on the totals: false when they rest on a shard's guess or stale numbers, which includes a
/// report that leaves out tickets operators added, which no shard's own <c>known</c> says. Required, as the shards' is.
/// </param>
public sealed record TicketTypeSalesSnapshot(
    string Id, long Capacity, long Sold, long Remaining, IReadOnlyList<ShardSalesSnapshot> Shards, [property: JsonRequired] bool Known = true)
{
    /// <summary>Shards and types whose numbers are not their own count: what a reader waits out before it checks.</summary>
    public int Uncounted => Shards.Count(shard => !shard.Counted) + (Known ? 0 : 1);
}
