namespace OrleansTickets.Dispatch;

/// <summary>
/// For one ticket type, the purchases this silo's dispatchers have in flight at each shard, and when each shard last
/// answered one: a shard that holds purchases and has answered none for <see cref="SilentAfter"/> is taken out of
/// routing until it answers again.
/// </summary>
/// <remarks>
/// <para>
/// A silo that froze (a long pause, a network cut-off) or a database that stalled mid-commit leaves its shards'
/// purchases hanging while their connections stay up: nothing fails, so nothing marked them unavailable, and every
/// dispatcher kept sending them its share of the buyers without a key, each holding an admission slot until its call
/// gave up. A healthy shard answers within milliseconds (a benchmark sale's slowest order took under half a second,
/// docs/benchmarks.md), so two seconds of silence with purchases waiting is a stall, not load.
/// </para>
/// <para>
/// Shared by every dispatcher activation of the type on this silo (a stateless worker has several, and the one whose
/// purchase hangs is busy, so new buyers go to the others). A routing hint only, like the rest of a dispatcher's view:
/// a shard wrongly taken out of routing for a moment costs a buyer a detour, never a sale, and every sale is still the
/// shard's own decision. Read and written from the dispatchers' threads without a lock: a reader that sees a count
/// raised before its time was written may skip the shard once.
/// </para>
/// <para>
/// Invariant: a shard whose last ended purchase ended without its answer (the buyer's patience ran out, or its silo
/// was lost) stays silent until it answers one: its silence is counted from its last answer (or from the first purchase
/// sent to it after one), and does not restart when the purchases waiting on it have all given up. The next one sent is
/// a probe, and the buyers after it go around the shard until the probe is answered. Before, each time the last
/// waiting purchase gave up (every ten seconds or so), the shard was taken as fresh again and got two more seconds of
/// buyers, each held until its own patience ran out. An old purchase that ends unanswered after newer ones were
/// answered marks the shard so too: the next purchase after an idle spell is then its probe, a detour for the buyers
/// behind it until its answer, never a sale.
/// </para>
/// </remarks>
public sealed class ShardPurchaseWatch(int shards, TimeProvider clock)
{
    /// <summary>How long a shard holding purchases may go without answering one before it is taken out of routing.</summary>
    public static readonly TimeSpan SilentAfter = TimeSpan.FromSeconds(2);

    private readonly int[] _inFlight = new int[shards];
    private readonly long[] _heardAt = new long[shards];
    // 1 while the shard's last ended purchase ended without its answer.
    private readonly int[] _unanswered = new int[shards];
    private readonly long _silentAfter = (long)(SilentAfter.TotalSeconds * clock.TimestampFrequency);

    /// <summary>
    /// A purchase was sent to shard <paramref name="index"/>; its silence is counted from now if none was waiting,
    /// unless the last one ended unanswered: then it goes on from when that one was sent.
    /// </summary>
    public void Sent(int index)
    {
        if (Interlocked.Increment(ref _inFlight[index]) == 1 && Volatile.Read(ref _unanswered[index]) == 0)
        {
            Volatile.Write(ref _heardAt[index], clock.GetTimestamp());
        }
    }

    /// <summary>A purchase sent to shard <paramref name="index"/> ended: answered, failed or given up on.</summary>
    /// <param name="index">The shard.</param>
    /// <param name="answered">Whether the shard itself answered (a result, not a timeout or a lost silo).</param>
    public void Ended(int index, bool answered)
    {
        if (answered) Volatile.Write(ref _heardAt[index], clock.GetTimestamp());
        Volatile.Write(ref _unanswered[index], answered ? 0 : 1);
        Interlocked.Decrement(ref _inFlight[index]);
    }

    /// <summary>Whether shard <paramref name="index"/> holds purchases and has answered none for <see cref="SilentAfter"/>.</summary>
    public bool IsSilent(int index, long now) =>
        Volatile.Read(ref _inFlight[index]) > 0 && now - Volatile.Read(ref _heardAt[index]) > _silentAfter;
}
