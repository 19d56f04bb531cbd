using System.Collections.Immutable;
using OrleansTickets.Orders;

namespace OrleansTickets.Export;

/// <summary>
/// A page of an event's committed orders, and the cursor of the next page (null after the last).
/// <paramref name="CursorRefused"/> when the page was asked for after a cursor that no page of this event gives, or
/// (<paramref name="DatabaseWentBack"/>) one a page gave before a shard database's orders went back (a backup put back).
/// On the last page only: <paramref name="TicketsSold"/>, the tickets the event's shards had sold, read after the
/// page's orders (fewer tickets in a walk's pages means orders committed behind a transaction still running were not
/// readable yet), and <paramref name="Resume"/>, the cursor that later gives the orders saved since, and only those.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record OrderPage(
    ImmutableArray<OrderDetails> Orders, string? Next, bool CursorRefused = false, long? TicketsSold = null, string? Resume = null,
    bool DatabaseWentBack = false)
{
    /// <summary>The answer to a cursor that no page of the event gives: no orders, and no next page.</summary>
    public static OrderPage RefusedCursor { get; } = new([], null, CursorRefused: true);

    /// <summary>The answer to a cursor that lies past what a shard database now holds: the walk must start again.</summary>
    public static OrderPage CursorPastDatabase { get; } = new([], null, CursorRefused: true, DatabaseWentBack: true);
}
