namespace OrleansTickets.Inventory;

/// <summary>Tickets a shard keeps for an order a home is about to forward to it, until <paramref name="ExpiresAt"/>.</summary>
internal readonly record struct ForwardHold(int Quantity, DateTimeOffset ExpiresAt);
