using System.Collections.Immutable;
using OrleansTickets.Orders;

namespace OrleansTickets.Api.Export;

/// <summary>
/// A page of an event's committed orders for the back office. <c>Next</c> is the <c>after</c> of the next page; null
/// after the last one. On the last page only (null on the others): <c>TicketsSold</c>, the tickets the event had sold
/// when the walk ended (a walk whose pages hold fewer resumes), and <c>Resume</c>, the <c>after</c> that later gives
/// the orders saved since the walk, and only those.
/// </summary>
public sealed record OrderExportResponse(string EventId, ImmutableArray<OrderDetails> Orders, string? Next, long? TicketsSold, string? Resume);
