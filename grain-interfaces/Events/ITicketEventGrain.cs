using System.Collections.Immutable;
using Orleans.Concurrency;
using OrleansTickets.Sales;

namespace OrleansTickets.Events;

/// <summary>The catalog entry of one event, keyed by the event id. Holds the definition and the shard map.</summary>
public interface ITicketEventGrain : IGrainWithStringKey
{
    /// <summary>Stores a new event and assigns each of its shards to a shard database.</summary>
    Task<CreateEventOutcome> Create(EventDefinition definition);

    /// <summary>The event's definition, or null when no such event exists.</summary>
    [AlwaysInterleave]
    Task<EventDefinition?> GetDefinition();

    /// <summary>
    /// The shard database of every shard, in the event's flattened shard order (see
    /// <see cref="EventDefinition.ShardAt"/>); empty when no such event exists. Fixed for the event's lifetime.
    /// </summary>
    [AlwaysInterleave]
    Task<ImmutableArray<int>> GetShardDatabases();

    /// <summary>Where shard <paramref name="index"/> of <paramref name="ticketTypeId"/> lives, or null if unknown.</summary>
    [AlwaysInterleave]
    Task<ShardPlacement?> GetPlacement(string ticketTypeId, int index);

    /// <summary>Exact live sales, asked of every shard now.</summary>
    /// <remarks>
    /// Throws <see cref="TimeoutException"/> when the shards of a type do not all answer within a few seconds: the
    /// catalog is not reentrant, and a shard slow to answer must not hold the operators' calls behind a read for long.
    /// For a second after such a failure it throws again at once, without asking, so that reads queued behind it do
    /// not each wait it out.
    /// </remarks>
    Task<EventSales?> GetSales();

    /// <summary>
    /// Adds <paramref name="quantity"/> new serials to a ticket type, given to shard <paramref name="shardIndex"/>
    /// (or the next one in rotation when null). The grant is stored before it is delivered, and redelivered until a
    /// shard holds it. With <paramref name="idempotencyKey"/>, a repeat of the same addition returns the grant the
    /// key first issued (its current status) and adds nothing; the key with a different addition is a conflict.
    /// </summary>
    Task<CapacityAddition> AddCapacity(string ticketTypeId, long quantity, int? shardIndex, string? idempotencyKey);

    /// <summary>
    /// Tickets of <paramref name="ticketTypeId"/> granted by operators and not yet taken in by a shard (its shard could
    /// not answer yet), which are unsold tickets of the type, so a "sold out" verdict must count them; and every ticket
    /// ever granted to it, which tells a verdict whether a grant was issued while it counted. Null when this catalog
    /// activation knows no such event (a duplicate that read storage before the event was stored): no verdict may rest
    /// on "nothing granted" then.
    /// </summary>
    [AlwaysInterleave]
    Task<GrantedCapacity?> GetGrantedCapacity(string ticketTypeId);

    /// <summary>
    /// Every ticket ever granted to <paramref name="ticketTypeId"/>, as the catalog's storage holds it now, not as this
    /// activation remembers it; null when storage holds no such event. A "sold out" verdict confirms with it that no
    /// grant was issued while it counted: a duplicate catalog activation during a membership change answers
    /// <see cref="GetGrantedCapacity"/> from what it read when it started, and knows nothing of grants its twin stored since.
    /// </summary>
    [AlwaysInterleave]
    Task<long?> ReadGrantedEver(string ticketTypeId);

    /// <summary>
    /// Sales from a read that ended at most one second ago (one that began longer ago when reads are slow): cheap enough
    /// for every page view, and the views that queue behind a slow read share its answer.
    /// </summary>
    Task<EventSales?> GetRecentSales();
}
