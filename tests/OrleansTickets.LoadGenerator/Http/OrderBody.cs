namespace OrleansTickets.LoadGenerator.Http;

/// <summary>The body of <c>POST /api/events/{eventId}/orders</c>.</summary>
public sealed record OrderBody(string TicketTypeId, int Quantity, BuyerBody Buyer);
