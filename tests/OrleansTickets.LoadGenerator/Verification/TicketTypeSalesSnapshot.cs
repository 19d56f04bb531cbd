namespace OrleansTickets.LoadGenerator.Verification;

/// <summary>One ticket type's sales, shard by shard.</summary>
public sealed record TicketTypeSalesSnapshot(
    string Id, long Capacity, long Sold, long Remaining, IReadOnlyList<ShardSalesSnapshot> Shards);
