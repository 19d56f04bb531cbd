using System.Collections.Concurrent;

namespace OrleansTickets.Dispatch;

/// <summary>This silo's <see cref="ShardPurchaseWatch"/> of each ticket type, shared by its dispatcher activations.</summary>
public sealed class ShardPurchaseWatches(TimeProvider clock)
{
    private readonly ConcurrentDictionary<(string EventId, string TicketTypeId), ShardPurchaseWatch> _watches = new();

    /// <summary>The watch of one ticket type of <paramref name="shards"/> shards.</summary>
    /// <remarks>Keyed by the type alone: an event's definition, its shard counts included, never changes once created.</remarks>
    public ShardPurchaseWatch For(string eventId, string ticketTypeId, int shards) =>
        _watches.GetOrAdd((eventId, ticketTypeId), static (_, state) => new ShardPurchaseWatch(state.shards, state.clock), (shards, clock));
}
