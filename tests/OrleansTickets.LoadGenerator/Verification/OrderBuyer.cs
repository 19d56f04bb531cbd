namespace OrleansTickets.LoadGenerator.Verification;

/// <summary>The buyer an order's answer (or the back office's export) names.</summary>
public sealed record OrderBuyer(string Name, string Email);
