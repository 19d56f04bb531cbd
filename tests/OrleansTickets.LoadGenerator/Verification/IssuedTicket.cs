namespace OrleansTickets.LoadGenerator.Verification;

/// <summary>One ticket of an acknowledged order.</summary>
public sealed record IssuedTicket(string Code, long Serial);
