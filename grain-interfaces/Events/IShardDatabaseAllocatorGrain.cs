namespace OrleansTickets.Events;

/// <summary>
/// Hands out shard database ordinals round-robin, so new shards spread over the configured number of databases.
/// A single grain (key 0); it is called once per event creation, never on the purchase path.
/// </summary>
public interface IShardDatabaseAllocatorGrain : IGrainWithIntegerKey
{
    /// <summary>Reserves <paramref name="count"/> consecutive placements and returns their database ordinals.</summary>
    Task<int[]> Allocate(int count);
}
