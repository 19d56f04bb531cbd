namespace OrleansTickets.Dispatch;

/// <summary>
/// For one event, the key homes (shards, in the event's flat order) that this silo's dispatchers have heard nothing
/// definite from for a while: every answer to a keyed purchase was "unavailable", "outcome unknown" or none at all. A
/// new keyed purchase homed at such a home still asks it, but with a patience of <see cref="DownAfter"/> instead of the
/// whole patience, until the home gives it a definite answer.
/// </summary>
/// <remarks>
/// <para>
/// A key is homed by its hash on one shard database, and only its home may say whether the key made an order, so a
/// buyer whose home's database is down cannot be served anywhere else. Each such buyer used to ask again every 50 ms
/// until its patience (5 s) ran out: with one of four databases down, a quarter of the keyed buyers held an admission
/// slot for 5 s each, and a crowd arriving at a few hundred a second per front end filled its queue, so buyers whose
/// homes were healthy were turned away as "overloaded" too. With a second's patience each holds a slot a fifth as long,
/// and is answered as a buyer whose patience ran out is (503 `unavailable`, or `outcome-unknown` after an ask that may
/// have made the order): its key's retry is as safe as ever.
/// </para>
/// <para>
/// Invariant: a home is taken for down only after <see cref="DownAfter"/> without a definite answer to any keyed
/// purchase from this silo, and any definite answer (an order, a refusal) ends that at once; a purchase that hears one
/// gets its whole patience back. Every buyer asks for itself, so none is told "unavailable" beside a home that has come
/// back. A home may also answer "unavailable" for another shard's trouble (a forward's candidate on a dead database):
/// its buyers' patience is shortened then, never their answer made up. Shared by every dispatcher activation of the
/// event's types on this silo (a stateless worker has several, and a home may be of another type than the buyer's);
/// lock-free: a race between an answer and another moves the mark by one answer, never a sale.
/// </para>
/// </remarks>
public sealed class KeyHomeOutage(int shards, TimeProvider clock)
{
    /// <summary>
    /// How long a home may answer nothing definite before new buyers homed there ask it with this much patience instead
    /// of the whole.
    /// </summary>
    public static readonly TimeSpan DownAfter = TimeSpan.FromSeconds(1);

    private readonly long _downAfter = (long)(DownAfter.TotalSeconds * clock.TimestampFrequency);
    // When the home's current run of answers without a definite one began; 0 while its last answer was definite.
    private readonly long[] _silentSince = new long[shards];

    /// <summary>Whether <paramref name="home"/> has answered nothing definite for <see cref="DownAfter"/> or longer.</summary>
    public bool IsDown(int home, long now) => Volatile.Read(ref _silentSince[home]) is var since && since != 0 && now - since >= _downAfter;

    /// <summary>A keyed purchase heard from <paramref name="home"/>: <paramref name="definite"/> unless the answer was "unavailable", "outcome unknown" or none.</summary>
    public void Heard(int home, bool definite, long now)
    {
        // Read first: nearly every answer is definite, and a write each time would bounce the line between cores.
        if (definite)
        {
            if (Volatile.Read(ref _silentSince[home]) != 0) Volatile.Write(ref _silentSince[home], 0);
        }
        else
        {
            Interlocked.CompareExchange(ref _silentSince[home], Math.Max(now, 1), 0);
        }
    }
}
