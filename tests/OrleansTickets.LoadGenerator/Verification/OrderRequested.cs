namespace OrleansTickets.LoadGenerator.Verification;

/// <summary>
/// The ticket type and quantity a buyer's request asked for, and the buyer it named (null in files written before the
/// buyer was kept).
/// </summary>
public sealed record OrderRequested(string TicketTypeId, int Quantity, string? BuyerName = null, string? BuyerEmail = null);
