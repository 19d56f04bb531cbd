using System.Collections.Immutable;
using OrleansTickets.Orders;

namespace OrleansTickets.Api.Export;

/// <summary>
/// A page of an event's committed orders for the back office. <c>Next</c> is the <c>after</c> of the next page; null
/// after the last one. <c>TicketsSold</c>, on the last page only (null on the others): the tickets the event had sold
/// when the walk ended; a walk whose pages hold fewer passed over orders committed during it.
/// </summary>
public sealed record OrderExportResponse(string EventId, ImmutableArray<OrderDetails> Orders, string? Next, long? TicketsSold);
