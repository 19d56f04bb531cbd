namespace OrleansTickets.Events;

/// <summary>What happened to a request to create an event.</summary>
public enum CreateEventOutcome
{
    /// <summary>The event is now stored.</summary>
    Created,

    /// <summary>An event with that id and another definition already exists; nothing changed.</summary>
    AlreadyExists,

    /// <summary>
    /// An event with that id and the same definition already exists (a retry of a create whose answer was lost); nothing
    /// changed. Told by the activation that knows the stored event, not by a later read that could reach another.
    /// </summary>
    Repeated,
}
