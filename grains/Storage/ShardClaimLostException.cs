namespace OrleansTickets.Storage;

/// <summary>
/// An activation that held the shard asked to claim it again (a reload after a commit it could not be sure of), and
/// the row no longer carries its epoch: a newer activation claimed the shard since, or the row is gone (then a fresh
/// one would sell the block again, so none is made). Nothing was written. Also thrown by a claim, first or again, that
/// finds after reading its transfers that a newer activation claimed the shard while it read them.
/// </summary>
/// <remarks>
/// An <see cref="InvalidOperationException"/>, like the other claims the database refuses, so the SQLite writer refuses
/// it alone inside its savepoint instead of failing the rest of its group.
/// </remarks>
public sealed class ShardClaimLostException(string shardKey, long heldEpoch)
    : InvalidOperationException($"Shard {shardKey} is no longer held at epoch {heldEpoch}: a newer activation claimed it, or its row is gone.");
