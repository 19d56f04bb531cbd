using System.Collections.Immutable;
using OrleansTickets.Orders;

namespace OrleansTickets.Export;

/// <summary>
/// A page of an event's committed orders, and where the next page starts (null after the last).
/// <paramref name="CursorRefused"/> when the page was asked for after a cursor that no page of this event gives.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record OrderPage(ImmutableArray<OrderDetails> Orders, ExportCursor? Next, bool CursorRefused = false)
{
    /// <summary>The answer to a cursor that no page of the event gives: no orders, and no next page.</summary>
    public static OrderPage RefusedCursor { get; } = new([], null, CursorRefused: true);
}
