namespace OrleansTickets.LoadGenerator.Http;

/// <summary>A ticket type as the event resource shows it.</summary>
public sealed record TicketTypeInfo(string Id, string Name, int Capacity, int MaxPerOrder, long Remaining);
