namespace OrleansTickets.Sales;

/// <summary>One shard's committed sales.</summary>
/// <param name="Index">Shard index within its ticket type.</param>
/// <param name="Capacity">Serials it may sell: its block, less what it gave away, plus what it took in.</param>
/// <param name="Sold">Tickets in committed orders.</param>
/// <param name="Remaining">Capacity minus sold. An unavailable shard keeps its unsold tickets, so they still count.</param>
/// <param name="Status">One of <see cref="ShardStatus"/>'s values.</param>
/// <param name="InTransit">
/// Serials this shard gave away that the receiver has not yet confirmed. They are unsold and counted in the
/// type's remaining until delivered.
/// </param>
[GenerateSerializer, Immutable]
public sealed record ShardSales(int Index, long Capacity, long Sold, long Remaining, string Status, long InTransit = 0);
