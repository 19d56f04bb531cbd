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
}
