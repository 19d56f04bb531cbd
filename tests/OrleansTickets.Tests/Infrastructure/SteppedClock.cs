namespace OrleansTickets.Tests.Infrastructure;

/// <summary>Monotonic timestamps that move only when the test says so, for the dispatchers' routing records.</summary>
public sealed class SteppedClock : TimeProvider
{
    private long _ticks = 1_000_000;

    public override long TimestampFrequency => TimeSpan.TicksPerSecond;

    public override long GetTimestamp() => _ticks;

    public void Advance(TimeSpan by) => _ticks += by.Ticks;
}
