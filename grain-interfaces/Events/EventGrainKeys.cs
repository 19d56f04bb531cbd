namespace OrleansTickets.Events;

/// <summary>How an event id becomes its catalog grain's key.</summary>
/// <remarks>
/// Orleans' ADO.NET storage reads a string key made only of hex digits as a number, so "20235" and "020235" would
/// share a stored row. The "event/" prefix keeps every event key textual and distinct.
/// </remarks>
public static class EventGrainKeys
{
    /// <summary>The catalog grain of <paramref name="eventId"/>.</summary>
    public static ITicketEventGrain GetEventGrain(this IGrainFactory grains, string eventId) =>
        grains.GetGrain<ITicketEventGrain>(KeyOf(eventId));

    /// <summary>The key of <paramref name="eventId"/>'s catalog grain.</summary>
    public static string KeyOf(string eventId) => "event/" + eventId;
}
