namespace OrleansTickets.LoadGenerator.Http;

/// <summary>
/// A ticket type as the event resource shows it; <c>Capacity</c> and <c>Remaining</c> are null while one of its shards
/// cannot say what it holds.
/// </summary>
public sealed record TicketTypeInfo(string Id, string Name, long? Capacity, int MaxPerOrder, long? Remaining)
{
    /// <summary>Whether the service could say what the type holds.</summary>
    public bool Counted => Capacity is not null && Remaining is not null;
}
