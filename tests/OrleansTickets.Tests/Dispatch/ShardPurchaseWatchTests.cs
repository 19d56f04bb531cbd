using OrleansTickets.Dispatch;
using OrleansTickets.Tests.Infrastructure;

namespace OrleansTickets.Tests.Dispatch;

/// <summary>When the purchase watch takes a shard out of keyless routing, and when it lets buyers back.</summary>
public sealed class ShardPurchaseWatchTests
{
    [Fact]
    public void A_shard_whose_waiting_purchases_all_gave_up_stays_silent_for_the_next_one_until_it_answers()
    {
        var clock = new SteppedClock();
        var watch = new ShardPurchaseWatch(shards: 2, clock);

        watch.Sent(0);
        clock.Advance(ShardPurchaseWatch.SilentAfter + TimeSpan.FromSeconds(1));
        Assert.True(watch.IsSilent(0, clock.GetTimestamp()));

        // The purchase gives up unanswered. With nothing in flight no buyer is held there; the next one sent is a probe,
        // and the shard is still silent for the buyers after it.
        clock.Advance(TimeSpan.FromSeconds(8));
        watch.Ended(0, answered: false);
        Assert.False(watch.IsSilent(0, clock.GetTimestamp()));
        watch.Sent(0);
        Assert.True(watch.IsSilent(0, clock.GetTimestamp()));

        // The probe is answered: the shard is routed to again, and its next purchase starts a fresh count.
        watch.Ended(0, answered: true);
        watch.Sent(0);
        Assert.False(watch.IsSilent(0, clock.GetTimestamp()));
        clock.Advance(ShardPurchaseWatch.SilentAfter - TimeSpan.FromMilliseconds(100));
        Assert.False(watch.IsSilent(0, clock.GetTimestamp()));

        // The other shard was never touched.
        Assert.False(watch.IsSilent(1, clock.GetTimestamp()));
    }

    [Fact]
    public void A_shard_that_answered_its_last_purchase_long_ago_counts_its_silence_from_the_next_one()
    {
        var clock = new SteppedClock();
        var watch = new ShardPurchaseWatch(shards: 1, clock);
        watch.Sent(0);
        watch.Ended(0, answered: true);

        clock.Advance(TimeSpan.FromMinutes(5));
        watch.Sent(0);
        Assert.False(watch.IsSilent(0, clock.GetTimestamp()));
        clock.Advance(ShardPurchaseWatch.SilentAfter + TimeSpan.FromMilliseconds(100));
        Assert.True(watch.IsSilent(0, clock.GetTimestamp()));
    }
}
