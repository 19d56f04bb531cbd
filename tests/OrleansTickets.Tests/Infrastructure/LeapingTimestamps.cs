namespace OrleansTickets.Tests.Infrastructure;

/// <summary>
/// The system's clock, whose timestamps can leap forward, as a VM's do when it resumes: what the grains measure with
/// timestamps (a view's age, a buyer's patience) jumps, while timers and the date stay the system's.
/// </summary>
public sealed class LeapingTimestamps : TimeProvider
{
    private long _leapt;

    public void Leap(TimeSpan span) => Interlocked.Add(ref _leapt, (long)(span.TotalSeconds * System.TimestampFrequency));

    public override long GetTimestamp() => System.GetTimestamp() + Interlocked.Read(ref _leapt);

    public override long TimestampFrequency => System.TimestampFrequency;
}
