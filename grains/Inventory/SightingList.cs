using System.Collections.Immutable;
using OrleansTickets.Orders;

namespace OrleansTickets.Inventory;

/// <summary>The counts a home hears from shards of the ordered type while it forwards one keyed order.</summary>
/// <param name="capacity">How many it will likely hear: a question per candidate, and the home's own count.</param>
internal sealed class SightingList(int capacity)
{
    private readonly ImmutableArray<ShardSighting>.Builder _heard = ImmutableArray.CreateBuilder<ShardSighting>(capacity);

    /// <summary>Records that shard <paramref name="index"/> of the type said it could sell <paramref name="sellable"/>.</summary>
    public void Add(int index, long sellable) => _heard.Add(new ShardSighting(index, Math.Max(0, sellable)));

    /// <summary>
    /// <paramref name="result"/> carrying what was heard, in the order it was heard: after any sightings the result
    /// already holds from a later pass of the same request (a replay that forwarded again), which are newer.
    /// </summary>
    public PurchaseResult On(PurchaseResult result)
    {
        if (_heard.Count == 0) return result;
        var heard = result.Sightings.IsDefaultOrEmpty ? _heard.ToImmutable() : _heard.ToImmutable().AddRange(result.Sightings);
        return result with { Sightings = heard };
    }
}
