using OrleansTickets.Dispatch;
using OrleansTickets.Tests.Infrastructure;

namespace OrleansTickets.Tests.Dispatch;

/// <summary>When new keyed buyers are turned away from a home that answers nothing definite, and when they are let back.</summary>
public sealed class KeyHomeOutageTests
{
    [Fact]
    public void A_home_is_turned_away_from_only_after_a_second_without_a_definite_answer_and_then_but_for_one_probe_a_second()
    {
        var clock = new SteppedClock();
        var outage = new KeyHomeOutage(shards: 3, clock);
        Assert.False(outage.TurnsAway(1, clock.GetTimestamp()));

        outage.Heard(1, definite: false, clock.GetTimestamp());
        clock.Advance(KeyHomeOutage.DownAfter - TimeSpan.FromMilliseconds(100));
        // Not yet: a home reactivating elsewhere, or a database blinking, is ridden out by the buyers' own retries.
        outage.Heard(1, definite: false, clock.GetTimestamp());
        Assert.False(outage.TurnsAway(1, clock.GetTimestamp()));

        clock.Advance(TimeSpan.FromMilliseconds(200));
        Assert.False(outage.TurnsAway(1, clock.GetTimestamp()));
        Assert.True(outage.TurnsAway(1, clock.GetTimestamp()));
        Assert.True(outage.TurnsAway(1, clock.GetTimestamp()));
        // The other homes are not touched.
        Assert.False(outage.TurnsAway(0, clock.GetTimestamp()));
        Assert.False(outage.TurnsAway(2, clock.GetTimestamp()));

        // A second later, one more probe.
        clock.Advance(KeyHomeOutage.DownAfter);
        Assert.False(outage.TurnsAway(1, clock.GetTimestamp()));
        Assert.True(outage.TurnsAway(1, clock.GetTimestamp()));

        // A definite answer (an order or a refusal) lets every buyer back at once.
        outage.Heard(1, definite: true, clock.GetTimestamp());
        Assert.False(outage.TurnsAway(1, clock.GetTimestamp()));
        Assert.False(outage.TurnsAway(1, clock.GetTimestamp()));
    }

    [Fact]
    public void A_definite_answer_between_others_starts_the_second_again()
    {
        var clock = new SteppedClock();
        var outage = new KeyHomeOutage(shards: 1, clock);
        outage.Heard(0, definite: false, clock.GetTimestamp());
        clock.Advance(TimeSpan.FromMilliseconds(900));
        outage.Heard(0, definite: true, clock.GetTimestamp());
        outage.Heard(0, definite: false, clock.GetTimestamp());
        clock.Advance(TimeSpan.FromMilliseconds(900));
        Assert.False(outage.TurnsAway(0, clock.GetTimestamp()));
        Assert.False(outage.TurnsAway(0, clock.GetTimestamp()));
    }
}
