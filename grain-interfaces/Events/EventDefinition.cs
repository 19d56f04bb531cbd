using System.Collections.Immutable;

namespace OrleansTickets.Events;

/// <summary>An event on sale and its ticket types. Immutable once created.</summary>
[GenerateSerializer, Immutable]
public sealed record EventDefinition(string Id, string Name, ImmutableArray<TicketTypeDefinition> TicketTypes)
{
    /// <summary>The ticket type with <paramref name="ticketTypeId"/>, or null.</summary>
    public TicketTypeDefinition? FindTicketType(string ticketTypeId)
    {
        foreach (var type in TicketTypes)
        {
            if (type.Id == ticketTypeId) return type;
        }
        return null;
    }

    /// <summary>
    /// True when <paramref name="other"/> defines the same event field for field (the record's own equality compares
    /// the ticket types' array by reference).
    /// </summary>
    public bool IsSameAs(EventDefinition other) =>
        Id == other.Id && Name == other.Name && TicketTypes.SequenceEqual(other.TicketTypes);

    /// <summary>Total number of shards over all ticket types.</summary>
    public int TotalShards => TicketTypes.Sum(t => t.Shards);

    /// <summary>
    /// Where <paramref name="ticketTypeId"/>'s shards start in the flattened shard list (see <see cref="ShardAt"/>),
    /// or -1 for an unknown type.
    /// </summary>
    public int FirstFlatIndexOf(string ticketTypeId)
    {
        var flat = 0;
        foreach (var type in TicketTypes)
        {
            if (type.Id == ticketTypeId) return flat;
            flat += type.Shards;
        }
        return -1;
    }

    /// <summary>
    /// Maps a position in the event's flattened shard list (types in declaration order) to a shard.
    /// The shard map (which database holds each shard) follows this order.
    /// </summary>
    public ShardAddress ShardAt(int flatIndex)
    {
        var remaining = flatIndex;
        foreach (var type in TicketTypes)
        {
            if (remaining < type.Shards) return new ShardAddress(Id, type.Id, remaining);
            remaining -= type.Shards;
        }
        throw new ArgumentOutOfRangeException(nameof(flatIndex));
    }
}
