using System.Collections.Immutable;

namespace OrleansTickets.Sales;

/// <summary>Sales of a whole event.</summary>
[GenerateSerializer, Immutable]
public sealed record EventSales(string EventId, ImmutableArray<TicketTypeSales> TicketTypes);
