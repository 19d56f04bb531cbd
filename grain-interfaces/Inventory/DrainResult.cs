namespace OrleansTickets.Inventory;

/// <summary>The outcome of draining a shard.</summary>
/// <param name="Available">
/// False when the shard could not reach its database (nothing moved), or its database failed during the walk, or it lost
/// the shard to a newer activation then (what moved before that is in <paramref name="Moved"/>; the counts of what is
/// left are not known).
/// </param>
/// <param name="Moved">Unsold serials that moved to other shards.</param>
/// <param name="Left">
/// Unsold serials still on the shard: no other shard could take them now, or they were held by purchases still
/// committing (or a gathering still asking its collector). Draining again moves what is still unsold.
/// </param>
/// <param name="InTransit">
/// Serials given to a shard that has not confirmed it holds them yet (it stopped answering after it was chosen). They
/// are delivered by the shard's retry timer; if the receiver is drained meanwhile they come back and are handed on.
/// </param>
[GenerateSerializer, Immutable]
public sealed record DrainResult(bool Available, long Moved, long Left, long InTransit = 0);
