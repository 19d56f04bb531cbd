using System.Collections.Immutable;
using OrleansTickets.Orders;

namespace OrleansTickets.Export;

/// <summary>
/// A page of an event's committed orders, and where the next page starts (null after the last).
/// <paramref name="CursorRefused"/> when the page was asked for after a cursor that no page of this event gives.
/// <paramref name="TicketsSold"/>, on the last page only: the tickets the event's shards had sold, read after the
/// page's orders. Fewer tickets in a walk's pages means orders committed during the walk were passed over.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record OrderPage(ImmutableArray<OrderDetails> Orders, ExportCursor? Next, bool CursorRefused = false, long? TicketsSold = null)
{
    /// <summary>The answer to a cursor that no page of the event gives: no orders, and no next page.</summary>
    public static OrderPage RefusedCursor { get; } = new([], null, CursorRefused: true);
}
