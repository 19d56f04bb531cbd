namespace OrleansTickets.Inventory;

/// <summary>
/// The key's home shard and the epoch it held when it forwarded a keyed order, for a holder on the home's own database
/// that records the key in the same commit as the order (InventoryShardGrain.Keys.cs).
/// </summary>
/// <param name="ShardKey">The home's shard key: the key row names it as the key's holder.</param>
/// <param name="Epoch">
/// The home's epoch: the holder's commit writes the key only while the home's row still has it, so a newer activation
/// of the home, which claims a newer epoch before it reads any key, never reads the key as absent and then sees it
/// appear.
/// </param>
[GenerateSerializer, Immutable]
public sealed record ForwardingHome(string ShardKey, long Epoch);
