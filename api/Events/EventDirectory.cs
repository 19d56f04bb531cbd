using System.Collections.Concurrent;
using System.Diagnostics;
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
/// goes stale (a catalog restored from a backup or edited by hand needs the front ends restarted). An id not found is
/// asked of the catalog again, since the event may be created the next moment.
/// </remarks>
public sealed class EventDirectory(IGrainFactory grains)
{
    // Far above any real number of events; past it, further events are asked of the catalog on every request rather
    // than the directory growing without limit.
    private const int MaxEvents = 100_000;

    // As long as a dispatcher waits for the catalog: a catalog whose silo froze must not hold requests for Orleans'
    // 30 s call timeout. Then 503 unavailable (a TimeoutException), and nothing was sold.
    private static readonly TimeSpan CatalogPatience = TimeSpan.FromSeconds(5);

    private readonly ConcurrentDictionary<string, KnownEvent> _events = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Lookup> _lookups = new(StringComparer.Ordinal);

    /// <summary>The event <paramref name="eventId"/>, or null when the catalog has no such event.</summary>
    public ValueTask<KnownEvent?> FindAsync(string eventId, CancellationToken cancellation = default) =>
        _events.TryGetValue(eventId, out var known) ? ValueTask.FromResult<KnownEvent?>(known) : LookUpAsync(eventId, cancellation);

    /// <remarks>
    /// Requests that miss together share one question to the catalog: when a front end starts during a sale, hundreds
    /// arrive for an event it has not looked up yet, and each asking would make the one catalog grain a hot spot. An
    /// answer "no such event" from a question asked before this request arrived is not taken, though: the event may
    /// have been created, and its creator told so, in between.
    /// </remarks>
    private async ValueTask<KnownEvent?> LookUpAsync(string eventId, CancellationToken cancellation)
    {
        var arrived = Stopwatch.GetTimestamp();
        var lookup = _lookups.GetOrAdd(eventId, static (id, directory) => new Lookup(directory, id), this);
        // The shared question keeps its own patience (Lookup.RunAsync), so this wait is bounded without one.
        var found = await lookup.Answer.WaitAsync(cancellation);
        if (found is null && lookup.StartedAt < arrived)
        {
            // Asked again within what is left of this request's patience, not a second patience of its own.
            var left = CatalogPatience - Stopwatch.GetElapsedTime(arrived);
            if (left <= TimeSpan.Zero) throw new TimeoutException($"The catalog did not confirm event '{eventId}' within {CatalogPatience.TotalSeconds} s.");
            found = await AskCatalogAsync(eventId).WaitAsync(left, cancellation);
        }
        return found;
    }

    private async Task<KnownEvent?> AskCatalogAsync(string eventId)
    {
        var definition = await grains.GetEventGrain(eventId).GetDefinition();
        if (definition is null) return null;
        var known = new KnownEvent(definition, grains);
        return _events.Count < MaxEvents ? _events.GetOrAdd(eventId, known) : known;
    }

    /// <summary>One question to the catalog, started by the first request that needs it (several may be made in a race; one is kept).</summary>
    private sealed class Lookup
    {
        private readonly Lazy<Task<KnownEvent?>> _answer;

        public Lookup(EventDirectory directory, string eventId) =>
            _answer = new Lazy<Task<KnownEvent?>>(() => RunAsync(directory, eventId));

        public Task<KnownEvent?> Answer => _answer.Value;

        /// <summary>When the question was asked (a <see cref="Stopwatch"/> timestamp).</summary>
        public long StartedAt { get; private set; } = long.MaxValue;

        private async Task<KnownEvent?> RunAsync(EventDirectory directory, string eventId)
        {
            StartedAt = Stopwatch.GetTimestamp();
            try
            {
                // Gives up at the patience rather than at Orleans' 30 s call timeout: a hung question stays shared until
                // it ends, so requests arriving after the catalog recovered would otherwise join it and time out too.
                return await directory.AskCatalogAsync(eventId).WaitAsync(CatalogPatience);
            }
            finally
            {
                // Requests arriving from now on ask afresh; those that joined already share this answer (or its timeout).
                directory._lookups.TryRemove(new KeyValuePair<string, Lookup>(eventId, this));
            }
        }
    }
}
