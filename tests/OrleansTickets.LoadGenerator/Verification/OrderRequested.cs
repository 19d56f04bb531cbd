namespace OrleansTickets.LoadGenerator.Verification;

/// <summary>The ticket type and quantity a buyer's request asked for.</summary>
public sealed record OrderRequested(string TicketTypeId, int Quantity);
