namespace OrleansTickets.LoadGenerator.Verification;

/// <summary><c>GET /api/events/{id}/sales</c>: the service's own count of what it sold.</summary>
public sealed record SalesSnapshot(string EventId, IReadOnlyList<TicketTypeSalesSnapshot> TicketTypes);
