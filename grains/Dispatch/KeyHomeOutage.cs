namespace OrleansTickets.Dispatch;

/// <summary>
/// For one event, the key homes (shards, in the event's flat order) that this silo's dispatchers have heard nothing
/// definite from for a while: each answer to a keyed purchase was "unavailable" or none at all. New keyed purchases
/// homed at such a home do not ask it but for one probe a second; the others wait for the probe's first answer, at
/// most a second, and ask only if it was definite: otherwise they are told "unavailable" without holding an admission
/// slot for their whole patience.
/// </summary>
/// <remarks>
/// <para>
/// A key is homed by its hash on one shard database, and only its home may say whether the key made an order, so a
/// buyer whose home's database is down cannot be served anywhere else. Each such buyer used to ask again every 50 ms
/// until its patience (5 s) ran out: with one of four databases down, a quarter of the keyed buyers held a slot for
/// 5 s each, and a crowd arriving at a few hundred a second per front end filled its admission queue, so buyers whose
/// homes were healthy were turned away as "overloaded" too. Told "unavailable" without asking, such a buyer comes back
/// after Retry-After with its key, which is as safe as it was: this request made nothing.
/// </para>
/// <para>
/// Invariant: a home is treated so only after <see cref="DownAfter"/> without a definite answer to any keyed purchase
/// from this silo, and any definite answer (an order, a refusal) ends that at once. A purchase that asks keeps asking
/// until its own patience runs out, as before, the probe included. Buyers who arrive as the home comes back wait for
/// the probe's first answer rather than being turned away beside it. Shared by every dispatcher activation of the
/// event's types on this silo (a stateless worker has several, and a home may be of another type than the buyer's);
/// lock-free, and a race costs at most a second probe or one buyer turned away, never a sale.
/// </para>
/// </remarks>
public sealed class KeyHomeOutage(int shards, TimeProvider clock)
{
    /// <summary>
    /// How long a home may answer nothing definite before new buyers homed there stop asking it, and how long they
    /// then wait for a probe's first answer.
    /// </summary>
    public static readonly TimeSpan DownAfter = TimeSpan.FromSeconds(1);

    private static readonly Task<bool> NoProbe = Task.FromResult(false);

    private readonly long _downAfter = (long)(DownAfter.TotalSeconds * clock.TimestampFrequency);
    // When the home's current run of answers without a definite one began; 0 while its last answer was definite.
    private readonly long[] _silentSince = new long[shards];
    // When the last probe of each home was let through, and the first answer heard after it (true: definite).
    private readonly long[] _probedAt = new long[shards];
    private readonly TaskCompletionSource<bool>?[] _probes = new TaskCompletionSource<bool>?[shards];

    /// <summary>
    /// What a new keyed purchase homed at <paramref name="home"/> is to do: null, ask it (the home answers, or this
    /// purchase is the probe of this second); otherwise, wait for this task, the first answer since the probe was let
    /// through, and ask only if it comes true.
    /// </summary>
    public Task<bool>? ProbeToAwait(int home, long now)
    {
        var since = Volatile.Read(ref _silentSince[home]);
        if (since == 0 || now - since < _downAfter) return null;
        var probed = Volatile.Read(ref _probedAt[home]);
        if (now - probed >= _downAfter && Interlocked.CompareExchange(ref _probedAt[home], now, probed) == probed)
        {
            Volatile.Write(ref _probes[home], new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously));
            return null;
        }
        return Volatile.Read(ref _probes[home])?.Task ?? NoProbe;
    }

    /// <summary>A keyed purchase heard from <paramref name="home"/>: <paramref name="definite"/> unless the answer was "unavailable" or none.</summary>
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
        // The probe's own answer, or any other purchase's: either says whether the home answers now.
        if (Volatile.Read(ref _probes[home]) is { Task.IsCompleted: false } probe) probe.TrySetResult(definite);
    }
}
