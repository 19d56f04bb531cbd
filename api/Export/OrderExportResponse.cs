using System.Collections.Immutable;
using OrleansTickets.Orders;

namespace OrleansTickets.Api.Export;

/// <summary>
/// A page of an event's committed orders for the back office. <c>Next</c> is the <c>after</c> of the next page; null
/// after the last one.
/// </summary>
public sealed record OrderExportResponse(string EventId, ImmutableArray<OrderDetails> Orders, string? Next);
