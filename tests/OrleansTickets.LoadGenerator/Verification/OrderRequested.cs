namespace OrleansTickets.LoadGenerator.Verification;

/// <summary>
/// The ticket type and quantity a buyer's request asked for, and the buyer it named (null in files written before the
/// buyer was kept).
/// </summary>
/// <param name="TicketTypeId">The type asked for.</param>
/// <param name="Quantity">The tickets asked for.</param>
/// <param name="BuyerName">The buyer's name the request gave.</param>
/// <param name="BuyerEmail">The buyer's address the request gave.</param>
/// <param name="RequestId">
/// The request's own name when its client states one in the buyer (<see cref="StatedRequest"/>): each request is sent
/// once, so no two answers may name the same.
/// </param>
public sealed record OrderRequested(
    string TicketTypeId, int Quantity, string? BuyerName = null, string? BuyerEmail = null, string? RequestId = null);
