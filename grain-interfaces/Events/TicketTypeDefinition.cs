namespace OrleansTickets.Events;

/// <summary>One kind of ticket in an event, with its whole inventory.</summary>
/// <param name="Id">Slug, unique within the event.</param>
/// <param name="Name">Display name.</param>
/// <param name="Price">Unit price, at most two decimal places.</param>
/// <param name="Currency">ISO 4217 code.</param>
/// <param name="Capacity">Number of physical tickets (serials 1..Capacity).</param>
/// <param name="Shards">How many inventory shards split the serial range.</param>
/// <param name="MaxPerOrder">Largest quantity one order may take.</param>
[GenerateSerializer, Immutable]
public sealed record TicketTypeDefinition(
    string Id, string Name, decimal Price, string Currency, int Capacity, int Shards, int MaxPerOrder)
{
    /// <summary>The block of consecutive serials owned by shard <paramref name="index"/>.</summary>
    /// <remarks>Blocks are disjoint and cover 1..Capacity, so a serial belongs to exactly one shard.</remarks>
    public SerialBlock BlockOf(int index)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, Shards);
        var baseSize = Capacity / Shards;
        var larger = Capacity % Shards;
        var size = baseSize + (index < larger ? 1 : 0);
        var first = 1L + (long)index * baseSize + Math.Min(index, larger);
        return new SerialBlock(first, size);
    }
}
