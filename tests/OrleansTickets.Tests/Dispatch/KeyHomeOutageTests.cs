using OrleansTickets.Dispatch;
using OrleansTickets.Tests.Infrastructure;

namespace OrleansTickets.Tests.Dispatch;

/// <summary>When new keyed buyers stop asking a home that answers nothing definite, and when they ask again.</summary>
public sealed class KeyHomeOutageTests
{
    [Fact]
    public async Task A_home_stops_being_asked_only_after_a_second_without_a_definite_answer_and_then_but_by_one_probe_a_second()
    {
        var clock = new SteppedClock();
        var outage = new KeyHomeOutage(shards: 3, clock);
        Assert.Null(outage.ProbeToAwait(1, clock.GetTimestamp()));

        outage.Heard(1, definite: false, clock.GetTimestamp());
        clock.Advance(KeyHomeOutage.DownAfter - TimeSpan.FromMilliseconds(100));
        // Not yet: a home reactivating elsewhere, or a database blinking, is ridden out by the buyers' own retries.
        outage.Heard(1, definite: false, clock.GetTimestamp());
        Assert.Null(outage.ProbeToAwait(1, clock.GetTimestamp()));

        // The next buyer is the probe; those after it wait for its first answer, and hear "no" when it is "unavailable".
        clock.Advance(TimeSpan.FromMilliseconds(200));
        Assert.Null(outage.ProbeToAwait(1, clock.GetTimestamp()));
        var waiting = outage.ProbeToAwait(1, clock.GetTimestamp());
        Assert.NotNull(waiting);
        Assert.False(waiting.IsCompleted);
        outage.Heard(1, definite: false, clock.GetTimestamp());
        Assert.True(waiting.IsCompleted);
        Assert.False(await waiting);
        Assert.False(await outage.ProbeToAwait(1, clock.GetTimestamp())!);
        // The other homes are not touched.
        Assert.Null(outage.ProbeToAwait(0, clock.GetTimestamp()));
        Assert.Null(outage.ProbeToAwait(2, clock.GetTimestamp()));

        // A second later, one more probe; this time the home answers, and the buyers waiting on it ask too.
        clock.Advance(KeyHomeOutage.DownAfter);
        Assert.Null(outage.ProbeToAwait(1, clock.GetTimestamp()));
        var back = outage.ProbeToAwait(1, clock.GetTimestamp())!;
        outage.Heard(1, definite: true, clock.GetTimestamp());
        Assert.True(back.IsCompleted);
        Assert.True(await back);

        // A definite answer lets every buyer ask at once.
        Assert.Null(outage.ProbeToAwait(1, clock.GetTimestamp()));
        Assert.Null(outage.ProbeToAwait(1, clock.GetTimestamp()));
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
        Assert.Null(outage.ProbeToAwait(0, clock.GetTimestamp()));
        Assert.Null(outage.ProbeToAwait(0, clock.GetTimestamp()));
    }
}
