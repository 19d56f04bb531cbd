using System.Collections.Concurrent;

namespace OrleansTickets.Dispatch;

/// <summary>
/// This silo's records of how shards answer its dispatchers' purchases, shared by its dispatcher activations: a
/// <see cref="ShardPurchaseWatch"/> per ticket type (keyless routing) and a <see cref="KeyHomeOutage"/> per event (key
/// homes, which may be of any of the event's types).
/// </summary>
/// <remarks>Keyed by ids alone: an event's definition, its shard counts included, never changes once created.</remarks>
public sealed class ShardPurchaseWatches(TimeProvider clock)
{
    private readonly ConcurrentDictionary<(string EventId, string TicketTypeId), ShardPurchaseWatch> _watches = new();
    private readonly ConcurrentDictionary<string, KeyHomeOutage> _homes = new();

    /// <summary>The watch of one ticket type of <paramref name="shards"/> shards.</summary>
    public ShardPurchaseWatch For(string eventId, string ticketTypeId, int shards) =>
        _watches.GetOrAdd((eventId, ticketTypeId), static (_, state) => new ShardPurchaseWatch(state.shards, state.clock), (shards, clock));

    /// <summary>The record of the key homes of one event of <paramref name="shards"/> shards in all.</summary>
    public KeyHomeOutage HomesOf(string eventId, int shards) =>
        _homes.GetOrAdd(eventId, static (_, state) => new KeyHomeOutage(state.shards, state.clock), (shards, clock));
}
