using System.Collections.Concurrent;

namespace OrleansTickets.Dispatch;

/// <summary>This silo's <see cref="ShardPurchaseWatch"/> of each ticket type, shared by its dispatcher activations.</summary>
public sealed class ShardPurchaseWatches(TimeProvider clock)
{
    private readonly ConcurrentDictionary<(string EventId, string TicketTypeId), ShardPurchaseWatch> _watches = new();

    /// <summary>The watch of one ticket type of <paramref name="shards"/> shards.</summary>
    public ShardPurchaseWatch For(string eventId, string ticketTypeId, int shards)
    {
        var watch = _watches.GetOrAdd((eventId, ticketTypeId), _ => new ShardPurchaseWatch(shards, clock));
        // A type's shard count is fixed when its event is created; a watch of another size is a stale one for an id
        // used again (a test's, say) and is replaced rather than indexed out of range.
        if (watch.Shards == shards) return watch;
        var fresh = new ShardPurchaseWatch(shards, clock);
        _watches[(eventId, ticketTypeId)] = fresh;
        return fresh;
    }
}
