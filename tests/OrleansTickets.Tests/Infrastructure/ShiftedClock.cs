namespace OrleansTickets.Tests.Infrastructure;

/// <summary>
/// The system's clock with its wall-clock time moved on by <see cref="Shift"/>, for what the grains decide by the date
/// (a key's retention, an idle limit). Timers and timestamps stay the system's, so waits still take real time.
/// </summary>
public sealed class ShiftedClock : TimeProvider
{
    public TimeSpan Shift { get; set; }

    public override DateTimeOffset GetUtcNow() => System.GetUtcNow() + Shift;
}
