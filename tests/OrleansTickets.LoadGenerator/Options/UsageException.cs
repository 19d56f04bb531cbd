namespace OrleansTickets.LoadGenerator.Options;

/// <summary>The command line, or an option checked against the event, cannot be used; the message says why.</summary>
public sealed class UsageException(string message) : Exception(message);
