using System.Collections.Concurrent;
using OrleansTickets.Events;

namespace OrleansTickets.Api.Events;

/// <summary>
/// The events this process has found in the catalog. Purchases and order reads look here before they name a
/// dispatcher or a shard, so an id that names no event, type or shard (a made-up URL, a typo, a scan) activates
/// neither: a made-up event costs one catalog activation, which leaves once idle (<c>TicketEventGrain</c>), and a
/// made-up type or shard of a real event costs nothing. Before, each such id held a dispatcher or a shard activation
/// for Orleans' 15 idle minutes.
/// </summary>
/// <remarks>
/// Only events found are remembered. Events are never deleted and their definitions never change, so an entry never
/// goes stale. An id not found is asked of the catalog every time, since the event may be created the next moment
/// (and a duplicate catalog activation may briefly not know an event that exists; it reads storage again itself).
/// </remarks>
public sealed class EventDirectory(IGrainFactory grains)
{
    // Far above any real number of events; past it, further events are asked of the catalog on every request rather
    // than the directory growing without limit.
    private const int MaxEvents = 10_000;
    private readonly ConcurrentDictionary<string, KnownEvent> _events = new(StringComparer.Ordinal);

    /// <summary>The event <paramref name="eventId"/>, or null when the catalog has no such event.</summary>
    public ValueTask<KnownEvent?> FindAsync(string eventId) =>
        _events.TryGetValue(eventId, out var known) ? ValueTask.FromResult<KnownEvent?>(known) : AskCatalogAsync(eventId);

    private async ValueTask<KnownEvent?> AskCatalogAsync(string eventId)
    {
        var definition = await grains.GetEventGrain(eventId).GetDefinition();
        if (definition is null) return null;
        var known = new KnownEvent(definition, grains);
        return _events.Count < MaxEvents ? _events.GetOrAdd(eventId, known) : known;
    }
}
