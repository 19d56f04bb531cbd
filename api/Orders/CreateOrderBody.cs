namespace OrleansTickets.Api.Orders;

/// <summary>The body of <c>POST /api/events/{eventId}/orders</c>.</summary>
public sealed record CreateOrderBody(string? TicketTypeId, int? Quantity, BuyerBody? Buyer);

/// <summary>The buyer part of <see cref="CreateOrderBody"/>.</summary>
public sealed record BuyerBody(string? Name, string? Email);
