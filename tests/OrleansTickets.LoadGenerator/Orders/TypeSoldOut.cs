namespace OrleansTickets.LoadGenerator.Orders;

/// <summary>When the buyers first heard that a ticket type was sold out, in seconds from the run's first request.</summary>
public sealed record TypeSoldOut(string TicketTypeId, double Seconds);
