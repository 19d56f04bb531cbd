namespace OrleansTickets.Inventory;

/// <summary>The outcome of draining a shard.</summary>
/// <param name="Available">False when the shard could not reach its database; nothing moved.</param>
/// <param name="Moved">Unsold serials that moved to other shards.</param>
/// <param name="Left">Unsold serials still on the shard (no other shard could take them).</param>
[GenerateSerializer, Immutable]
public sealed record DrainResult(bool Available, long Moved, long Left);
