using System.Collections.Frozen;
using OrleansTickets.Events;
using OrleansTickets.Orders;

namespace OrleansTickets.Api.Events;

/// <summary>
/// An event this front end has found in the catalog: its ticket types, their shard counts and their dispatchers.
/// True for as long as the process runs, because an event's definition never changes once stored.
/// </summary>
public sealed class KnownEvent
{
    private readonly FrozenDictionary<string, KnownTicketType> _types;

    public KnownEvent(EventDefinition definition, IGrainFactory grains)
    {
        Definition = definition;
        // A dispatcher reference is made once per type here: building one resolves the grain interface by
        // reflection, too slow for every purchase.
        _types = definition.TicketTypes.ToFrozenDictionary(
            t => t.Id, t => new KnownTicketType(t.Shards, t.MaxPerOrder, grains.GetGrain<IPurchaseDispatcherGrain>($"{definition.Id}/{t.Id}")),
            StringComparer.Ordinal);
    }

    /// <summary>The event as the catalog stored it.</summary>
    public EventDefinition Definition { get; }

    /// <summary>
    /// The dispatcher of <paramref name="ticketTypeId"/> and the most tickets one order of it may take, or null when the
    /// event has no such type.
    /// </summary>
    public (IPurchaseDispatcherGrain Dispatcher, int MaxPerOrder)? SaleOf(string ticketTypeId) =>
        _types.TryGetValue(ticketTypeId, out var type) ? (type.Dispatcher, type.MaxPerOrder) : null;

    /// <summary>Whether shard <paramref name="index"/> of <paramref name="ticketTypeId"/> exists.</summary>
    public bool HasShard(string ticketTypeId, int index) =>
        _types.TryGetValue(ticketTypeId, out var type) && index >= 0 && index < type.Shards;

    private sealed record KnownTicketType(int Shards, int MaxPerOrder, IPurchaseDispatcherGrain Dispatcher);
}
