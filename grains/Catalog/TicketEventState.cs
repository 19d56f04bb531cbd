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
}
