namespace OrleansTickets.Silo.Rehearsal;

/// <summary>How this silo's rehearsal went, for the log line's readers that are not people: tests and tools.</summary>
public sealed class RehearsalReport
{
    /// <summary>What the rehearsal sold; null until one has finished, and when it failed or was not run.</summary>
    public RehearsalOutcome? Outcome { get; internal set; }

    /// <summary>How long the rehearsal delayed opening, scratch storage set-up and clean-up included.</summary>
    public TimeSpan Elapsed { get; internal set; }
}
