namespace OrleansTickets.Api.Events;

/// <summary>An event as the API shows it.</summary>
public sealed record EventResponse(string Id, string Name, IReadOnlyList<TicketTypeResponse> TicketTypes);

/// <summary>A ticket type with its remaining count (from a count that ended at most a second before).</summary>
public sealed record TicketTypeResponse(
    string Id, string Name, decimal Price, string Currency, long Capacity, int Shards, int MaxPerOrder, long Remaining);
