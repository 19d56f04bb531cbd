namespace OrleansTickets.Orders;

/// <summary>One physical ticket: its serial within the ticket type and its signed code.</summary>
[GenerateSerializer, Immutable]
public sealed record TicketDetails(string Code, long Serial);
