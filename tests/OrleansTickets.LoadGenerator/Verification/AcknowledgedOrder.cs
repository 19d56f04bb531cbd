namespace OrleansTickets.LoadGenerator.Verification;

/// <summary>An order the service acknowledged (201, or 200 on replay), read straight from its response body.</summary>
public sealed record AcknowledgedOrder(string OrderId, string TicketTypeId, int Quantity, IReadOnlyList<IssuedTicket> Tickets);
