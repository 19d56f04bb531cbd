namespace OrleansTickets.Orders;

/// <summary>Who bought the tickets. Processed by the back office after the sale.</summary>
[GenerateSerializer, Immutable]
public sealed record Buyer(string Name, string Email);
