namespace OrleansTickets.Sales;

/// <summary>One shard's committed sales.</summary>
/// <param name="Index">Shard index within its ticket type.</param>
/// <param name="Capacity">Size of its serial block.</param>
/// <param name="Sold">Tickets in committed orders.</param>
/// <param name="Remaining">Capacity minus sold. An unavailable shard keeps its unsold tickets, so they still count.</param>
/// <param name="Status">One of <see cref="ShardStatus"/>'s values.</param>
[GenerateSerializer, Immutable]
public sealed record ShardSales(int Index, long Capacity, long Sold, long Remaining, string Status);
