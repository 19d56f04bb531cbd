namespace OrleansTickets.Silo.Rehearsal;

/// <summary>How this silo's rehearsal went, for the log line's readers that are not people: tests and tools.</summary>
public sealed class RehearsalReport
{
    /// <summary>How it ended.</summary>
    public RehearsalStatus Status { get; internal set; }

    /// <summary>What the rehearsal sold, when it sold out (<see cref="RehearsalStatus.Rehearsed"/> or <see cref="RehearsalStatus.Inexact"/>).</summary>
    public RehearsalOutcome? Outcome { get; internal set; }

    /// <summary>Where a rehearsal stopped by its time limit was (<see cref="RehearsalStatus.TimedOut"/>): its private silo's start, or a sale and what its buyers were doing.</summary>
    public string? Stage { get; internal set; }

    /// <summary>How long the rehearsal delayed opening, scratch storage set-up, clean-up and JIT settling included.</summary>
    public TimeSpan Elapsed { get; internal set; }
}
