using OrleansTickets.Events;
using OrleansTickets.Inventory;

namespace OrleansTickets.Tests.Grains;

/// <summary>A shard that left an order or a question unanswered is asked first for <see cref="SilentCandidates.AskFirstFor"/>, and no longer.</summary>
public sealed class SilentCandidatesTests
{
    [Fact]
    public void A_silence_is_remembered_for_its_time_and_renewed_by_the_next()
    {
        var clock = new SteppedClock();
        var silent = new SilentCandidates(clock);
        var shard = new ShardAddress("quiet", "ga", 4);
        Assert.False(silent.WasSilentLately(shard));

        silent.MarkSilent(shard);
        clock.Advance(SilentCandidates.AskFirstFor - TimeSpan.FromMilliseconds(1));
        Assert.True(silent.WasSilentLately(shard));
        Assert.False(silent.WasSilentLately(shard with { Index = 5 }));

        // Renewed: the next silence counts from when it was heard.
        silent.MarkSilent(shard);
        clock.Advance(SilentCandidates.AskFirstFor - TimeSpan.FromMilliseconds(1));
        Assert.True(silent.WasSilentLately(shard));
        clock.Advance(TimeSpan.FromMilliseconds(1));
        Assert.False(silent.WasSilentLately(shard));
        Assert.False(silent.WasSilentLately(shard));
    }

    /// <summary>A monotonic clock that moves only when told.</summary>
    private sealed class SteppedClock : TimeProvider
    {
        private long _ticks = TimeSpan.TicksPerDay;

        public override long TimestampFrequency => TimeSpan.TicksPerSecond;

        public override long GetTimestamp() => _ticks;

        public void Advance(TimeSpan by) => _ticks += by.Ticks;
    }
}
