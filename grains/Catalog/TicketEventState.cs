using System.Collections.Immutable;
using OrleansTickets.Events;

namespace OrleansTickets.Catalog;

/// <summary>What the catalog stores per event: its definition and the shard map.</summary>
[GenerateSerializer]
public sealed class TicketEventState
{
    /// <summary>The event, or null before creation.</summary>
    [Id(0)] public EventDefinition? Definition { get; set; }

    /// <summary>The shard database of each shard, in the event's flattened shard order.</summary>
    [Id(1)] public int[] DatabaseOrdinals { get; set; } = [];

    /// <summary>Per ticket type, serials added by operators so far (new serials start after the original capacity).</summary>
    [Id(2)] public Dictionary<string, long> AddedCapacity { get; set; } = [];

    /// <summary>Grants not yet taken in by a shard.</summary>
    [Id(3)] public List<CapacityGrant> PendingGrants { get; set; } = [];

    /// <summary>Grants ever issued: numbers them, and rotates which shard is offered the next one.</summary>
    [Id(4)] public long GrantsIssued { get; set; }

    /// <summary>Grants issued under an Idempotency-Key, by key; stored in the same write as the grant itself.</summary>
    [Id(5)] public Dictionary<string, KeyedGrant> GrantsByKey { get; set; } = [];

    /// <summary>
    /// Whether each type's blocks share its tickets evenly between its databases (<see cref="TicketTypeDefinition.BlockOf(int, IReadOnlyList{int})"/>),
    /// as for every event created since the seventy-third session; false for one stored before, whose shards hold the
    /// even split between shards they were created with. A block never changes once a shard has sold from it.
    /// </summary>
    [Id(6)] public bool BlocksByDatabase { get; set; }

    /// <summary>
    /// Types whose every shard refused a grant, so every shard is drained; drains are final, so a later addition to
    /// such a type is refused before anything is stored (<see cref="TicketEventGrain"/>'s <c>AddCapacity</c>).
    /// </summary>
    [Id(7)] public HashSet<string> DrainedTypes { get; set; } = [];

    /// <summary>
    /// Per type, by shard index, tickets of the grants each shard answered it had taken in, written with the grant's
    /// removal from <see cref="PendingGrants"/>. Held against the shards' reports (<see cref="OrleansTickets.Sales.ShardSales.GrantedIn"/>),
    /// so a report from before a take-in, which a replaced activation can give, is not taken for the type's count.
    /// Grants an older build delivered are not here: the counts are then too low, which only makes the comparison pass
    /// more readily, as before.
    /// </summary>
    [Id(8)] public Dictionary<string, long[]> DeliveredByShard { get; set; } = [];

    /// <summary>Records that shard <see cref="CapacityGrant.ShardIndex"/> of the grant's type took <paramref name="grant"/> in.</summary>
    public void RecordDelivery(CapacityGrant grant, int shards)
    {
        if (!DeliveredByShard.TryGetValue(grant.TicketTypeId, out var delivered) || delivered.Length < shards)
        {
            Array.Resize(ref delivered, shards);
            DeliveredByShard[grant.TicketTypeId] = delivered;
        }
        delivered[grant.ShardIndex] += grant.Quantity;
    }

    /// <summary>What <see cref="RecordDelivery"/> recorded for <paramref name="ticketTypeId"/>, by shard index; empty when nothing.</summary>
    public ImmutableArray<long> DeliveredTo(string ticketTypeId) =>
        DeliveredByShard.TryGetValue(ticketTypeId, out var delivered) ? [.. delivered] : [];

    /// <summary>The block of <paramref name="type"/>'s shard <paramref name="index"/>, under this event's layout.</summary>
    public SerialBlock BlockOf(TicketTypeDefinition type, int index)
    {
        if (!BlocksByDatabase) return type.BlockOf(index);
        var first = Definition!.FirstFlatIndexOf(type.Id);
        return type.BlockOf(index, DatabaseOrdinals.AsSpan(first, type.Shards).ToArray());
    }

    /// <summary>
    /// How long a key is remembered after its grant was issued or, if it waited for a shard, after it stopped waiting.
    /// The state is written whole at every grant and delivery, so keys kept for ever would make each write bigger: a
    /// front end makes up a key for every addition sent without one (against Orleans sending a message twice), and
    /// scripts may add tickets in many small steps. An operator's retry comes within minutes; a day is the usual promise.
    /// </summary>
    public static readonly TimeSpan KeyRetention = TimeSpan.FromHours(24);

    /// <summary>The grant <paramref name="key"/> issued, while the key is remembered at <paramref name="now"/>.</summary>
    public KeyedGrant? RememberedGrant(string key, DateTimeOffset now) =>
        GrantsByKey.TryGetValue(key, out var keyed) && IsRemembered(keyed, now) ? keyed : null;

    /// <summary>Forgets the keys no longer remembered at <paramref name="now"/>.</summary>
    public void ForgetExpiredKeys(DateTimeOffset now)
    {
        foreach (var (key, keyed) in GrantsByKey)
        {
            // Removing the entry being enumerated is allowed for a Dictionary since .NET Core 3.0.
            if (!IsRemembered(keyed, now)) GrantsByKey.Remove(key);
        }
    }

    private bool IsRemembered(KeyedGrant keyed, DateTimeOffset now) =>
        now - keyed.RememberedFrom < KeyRetention || PendingGrants.Exists(g => g.TransferId == keyed.TransferId);
}
