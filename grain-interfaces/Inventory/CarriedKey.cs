namespace OrleansTickets.Inventory;

/// <summary>
/// An idempotency key a home hands to a holder on its own shard database, for the holder to record in the same
/// transaction as the order (see InventoryShardGrain.Keys.cs, "a forward on the home's database").
/// </summary>
/// <param name="HomeShardKey">The home shard, which the key's row names as the key's holder.</param>
/// <param name="DatabaseOrdinal">
/// The home's shard database. A holder on another database refuses the key: that database's key table is not the one
/// that keeps the event's keys unique for this key.
/// </param>
/// <param name="PreviousOrderId">
/// Null when the home has no order for the key; otherwise the order the key points at, which the holder's commit
/// moves it from (a compare-and-set, as for the home's own writes).
/// </param>
[GenerateSerializer, Immutable]
public sealed record CarriedKey(string HomeShardKey, int DatabaseOrdinal, string? PreviousOrderId);
