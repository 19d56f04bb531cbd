namespace OrleansTickets.Tests.Infrastructure;

/// <summary>
/// The system's clock, except that once <see cref="Stretching"/> is set, a one-shot timer of a pause for tickets'
/// length (10 ms doubled up to five times), or of the 2 s a dispatcher waits for shards' answers, fires after a minute.
/// </summary>
public sealed class StretchedPauses : TimeProvider
{
    private static readonly TimeSpan[] PauseLengths =
        [.. Enumerable.Range(0, 6).Select(d => TimeSpan.FromMilliseconds(10 << d)), TimeSpan.FromSeconds(2)];

    public volatile bool Stretching;

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var stretched = Stretching && period == Timeout.InfiniteTimeSpan && PauseLengths.Contains(dueTime);
        return System.CreateTimer(callback, state, stretched ? TimeSpan.FromMinutes(1) : dueTime, period);
    }
}
