namespace OrleansTickets.LoadGenerator.Http;

/// <summary>The part of <c>GET /api/events/{id}</c> the generator needs.</summary>
public sealed record EventInfo(string Id, string Name, IReadOnlyList<TicketTypeInfo> TicketTypes);
