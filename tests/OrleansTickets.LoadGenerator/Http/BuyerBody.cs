namespace OrleansTickets.LoadGenerator.Http;

/// <summary>The buyer part of an order body.</summary>
public sealed record BuyerBody(string Name, string Email);
