namespace OrleansTickets.Silo.Rehearsal;

/// <summary>How a silo's rehearsal ended.</summary>
public enum RehearsalStatus
{
    /// <summary>Not run: turned off, not finished yet, or not supported on the storage engine.</summary>
    NotRun,

    /// <summary>Sold out, and the sales read back match what buyers were told.</summary>
    Rehearsed,

    /// <summary>Sold out, but the sales read back differ from what buyers were told.</summary>
    Inexact,

    /// <summary>Stopped by <see cref="RehearsalOptions.TimeLimitSeconds"/>.</summary>
    TimedOut,

    /// <summary>Failed on the way (storage, start-up, an unexpected answer); the silo opened cold.</summary>
    Failed,
}
