using System.Collections.Concurrent;

namespace OrleansTickets.Dispatch;

/// <summary>This silo's <see cref="KeyHomeOutage"/> of each event, shared by its dispatcher activations.</summary>
public sealed class KeyHomeOutages(TimeProvider clock)
{
    private readonly ConcurrentDictionary<string, KeyHomeOutage> _events = new();

    /// <summary>The record of the homes of one event of <paramref name="shards"/> shards in all.</summary>
    /// <remarks>Keyed by the event alone: an event's definition, its shard counts included, never changes once created.</remarks>
    public KeyHomeOutage For(string eventId, int shards) =>
        _events.GetOrAdd(eventId, static (_, state) => new KeyHomeOutage(state.shards, state.clock), (shards, clock));
}
