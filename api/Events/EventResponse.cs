namespace OrleansTickets.Api.Events;

/// <summary>An event as the API shows it.</summary>
public sealed record EventResponse(string Id, string Name, IReadOnlyList<TicketTypeResponse> TicketTypes);

/// <summary>
/// A ticket type with its capacity and remaining count (from a count that ended at most a second before); both null while
/// a shard cannot say what it holds (its database down since it started, say), rather than a total resting on a guess.
/// </summary>
public sealed record TicketTypeResponse(
    string Id, string Name, decimal Price, string Currency, long? Capacity, int Shards, int MaxPerOrder, long? Remaining);
