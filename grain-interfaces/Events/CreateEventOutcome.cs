namespace OrleansTickets.Events;

/// <summary>What happened to a request to create an event.</summary>
public enum CreateEventOutcome
{
    /// <summary>The event is now stored.</summary>
    Created,

    /// <summary>An event with that id already exists; nothing changed.</summary>
    AlreadyExists,
}
