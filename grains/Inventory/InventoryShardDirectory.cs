using System.Collections.Concurrent;
using OrleansTickets.Events;

namespace OrleansTickets.Inventory;

/// <summary>
/// Shard grain references shared by every grain on the silo. Building a reference resolves the grain interface by
/// reflection, and a key's home forwards to any shard of the order's type: with 550 shards a cache per activation
/// was still cold deep into a sale (2% of the service's CPU went to building references), while one per silo
/// warms up once.
/// </summary>
public sealed class InventoryShardDirectory(IGrainFactory grains)
{
    // Shard addresses come from event definitions, not from buyers, but the cache is bounded all the same.
    private const int MaxEntries = 1_000_000;
    private readonly ConcurrentDictionary<ShardAddress, IInventoryShardGrain> _references = new();

    /// <summary>The grain of the shard at <paramref name="address"/>.</summary>
    public IInventoryShardGrain For(ShardAddress address)
    {
        if (_references.TryGetValue(address, out var shard)) return shard;
        shard = grains.GetGrain<IInventoryShardGrain>(address.Key);
        if (_references.Count < MaxEntries) _references.TryAdd(address, shard);
        return shard;
    }
}
