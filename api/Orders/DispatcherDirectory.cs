using System.Collections.Concurrent;
using OrleansTickets.Orders;

namespace OrleansTickets.Api.Orders;

/// <summary>
/// Caches dispatcher grain references per <c>event/type</c>: building a reference resolves the grain interface by
/// reflection, too slow for every request. Bounded, so made-up ids cannot grow it without limit.
/// </summary>
public sealed class DispatcherDirectory(IGrainFactory grains)
{
    private const int MaxEntries = 100_000;
    private readonly ConcurrentDictionary<(string EventId, string TicketTypeId), IPurchaseDispatcherGrain> _cache = new();

    /// <summary>The dispatcher of one ticket type.</summary>
    public IPurchaseDispatcherGrain For(string eventId, string ticketTypeId)
    {
        if (_cache.TryGetValue((eventId, ticketTypeId), out var dispatcher)) return dispatcher;
        dispatcher = grains.GetGrain<IPurchaseDispatcherGrain>($"{eventId}/{ticketTypeId}");
        if (_cache.Count < MaxEntries) _cache.TryAdd((eventId, ticketTypeId), dispatcher);
        return dispatcher;
    }
}
