using OrleansTickets.Dispatch;
using OrleansTickets.Tests.Infrastructure;

namespace OrleansTickets.Tests.Dispatch;

/// <summary>When a key home is taken for down (its new buyers ask it with a second's patience), and when no longer.</summary>
public sealed class KeyHomeOutageTests
{
    [Fact]
    public void A_home_is_down_only_after_a_second_without_a_definite_answer_and_up_again_at_the_first()
    {
        var clock = new SteppedClock();
        var outage = new KeyHomeOutage(shards: 3, clock);
        Assert.False(outage.IsDown(1, clock.GetTimestamp()));

        outage.Heard(1, definite: false, clock.GetTimestamp());
        clock.Advance(KeyHomeOutage.DownAfter - TimeSpan.FromMilliseconds(100));
        // Not yet: a home reactivating elsewhere, or a database blinking, is ridden out by the buyers' own retries.
        outage.Heard(1, definite: false, clock.GetTimestamp());
        Assert.False(outage.IsDown(1, clock.GetTimestamp()));

        // The run counts from its first answer, not its last.
        clock.Advance(TimeSpan.FromMilliseconds(200));
        Assert.True(outage.IsDown(1, clock.GetTimestamp()));
        // The other homes are not touched.
        Assert.False(outage.IsDown(0, clock.GetTimestamp()));
        Assert.False(outage.IsDown(2, clock.GetTimestamp()));

        // A definite answer (an order or a refusal) ends it at once.
        outage.Heard(1, definite: true, clock.GetTimestamp());
        Assert.False(outage.IsDown(1, clock.GetTimestamp()));
        clock.Advance(TimeSpan.FromMinutes(1));
        Assert.False(outage.IsDown(1, clock.GetTimestamp()));
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
        Assert.False(outage.IsDown(0, clock.GetTimestamp()));
        clock.Advance(TimeSpan.FromMilliseconds(100));
        Assert.True(outage.IsDown(0, clock.GetTimestamp()));
    }
}
