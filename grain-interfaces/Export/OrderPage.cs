using System.Collections.Immutable;
using OrleansTickets.Orders;

namespace OrleansTickets.Export;

/// <summary>A page of an event's committed orders, and where the next page starts (null after the last).</summary>
[GenerateSerializer, Immutable]
public sealed record OrderPage(ImmutableArray<OrderDetails> Orders, ExportCursor? Next);
