namespace OrleansTickets.LoadGenerator.Verification;

/// <summary>One shard's committed sales.</summary>
public sealed record ShardSalesSnapshot(int Index, long Capacity, long Sold, long Remaining, string Status);
