namespace OrleansTickets.Inventory;

/// <summary>Holds: tickets kept, in memory, for an order a home is about to forward here.</summary>
/// <remarks>
/// <para>
/// Why: a forward to a shard on another database (or to one that lately left an order unanswered: SilentCandidates)
/// is the key's reservation on its home (a commit) and then the order here. A home used to ask this
/// shard whether it had room and then commit; near the end of a sale the room was often gone by the time the order
/// came, and the buyer paid this shard's refusal (a read and a commit) and a second reservation and order elsewhere.
/// Held from the question on, the tickets wait for the order the answer was about.
/// </para>
/// <para>
/// What keeps it safe: a hold is a reservation like a queued sale's (it counts in <c>_pendingQuantity</c>), taken and
/// released inside single turns, so it never lets two callers have the same tickets, and the never-oversold invariant
/// is unchanged. It is memory only and promises nothing: an activation that ends takes its holds with it, and the
/// order is then sold or refused from whatever is left, as before. Its tickets still count as unsold in the sales
/// reports refreshes read (those count commits, not reservations; <c>reserved</c> says how many of them are held), so no
/// dispatcher calls a type sold out while a hold waits; the counts answers carry as routing hints (what is sellable now,
/// a refusal's remaining) leave them out. A hold whose
/// order never comes (its home's reservation failed, or the home died) ends by itself after <see cref="HoldTime"/>,
/// so the last tickets of a sale are never kept from buyers for longer than that.
/// </para>
/// </remarks>
public sealed partial class InventoryShardGrain
{
    /// <summary>
    /// How long a hold waits for its order. A home forwards right after its reservation commits, milliseconds
    /// later; one that waits longer has usually given up on this shard (it waits <see cref="CrossShardTimeout"/> for
    /// the order's answer), and the tickets go back to every buyer. A property, not a field: static fields of a partial
    /// class initialize in the order of its files, and a copy of <see cref="CrossShardTimeout"/> taken first is zero.
    /// </summary>
    private static TimeSpan HoldTime => CrossShardTimeout;

    private readonly Dictionary<string, ForwardHold> _holds = new(StringComparer.Ordinal);
    private IGrainTimer? _holdTimer;

    // Order ids released while this shard held nothing for them, and until when. A home whose question for room timed out
    // releases the hold it asked for, and on this reentrant grain the release can run before the late question does
    // (one waiting on the shard's first load, or queued behind a busy turn): the question would then hold tickets for an
    // order that never comes, the last of a sale perhaps, until the hold ended by itself. Kept for Orleans' call
    // timeout (30 s): the runtime drops a request that reaches the grain later than that, and a question that started
    // waits at most for the shard's load.
    private readonly Dictionary<string, DateTimeOffset> _releasedUnheld = new(StringComparer.Ordinal);
    private static readonly TimeSpan ReleasedUnheldTime = TimeSpan.FromSeconds(30);

    /// <inheritdoc />
    public async Task<long> HoldForForward(string orderId, int quantity)
    {
        if (!(await EnsurePlacedAsync() && await EnsureLoadedAsync())) return -1;
        var sellable = Math.Max(0, Remaining);
        // One turn from the check to the reservation. A retired shard takes nothing new. The id is one the home has
        // just minted; a second hold for it would count its tickets twice in the reservations.
        if (quantity > 0 && quantity <= sellable && !_retired && !_holds.ContainsKey(orderId) && !_releasedUnheld.ContainsKey(orderId))
        {
            _holds[orderId] = new ForwardHold(quantity, clock.GetUtcNow() + HoldTime);
            _pendingQuantity += quantity;
            EnsureHoldTimer();
        }
        return sellable;
    }

    /// <inheritdoc />
    public Task ReleaseHold(string orderId)
    {
        // A drained shard hands on what comes back (as after a refused pull), or nobody would sell it.
        if (EndHold(orderId))
        {
            HandOnLater();
        }
        else
        {
            _releasedUnheld[orderId] = clock.GetUtcNow() + ReleasedUnheldTime;
            EnsureHoldTimer();
        }
        return Task.CompletedTask;
    }

    private void EnsureHoldTimer() =>
        _holdTimer ??= this.RegisterGrainTimer(EndExpiredHolds, new GrainTimerCreationOptions(HoldTime, HoldTime / 2) { Interleave = true });

    /// <summary>
    /// Gives the hold's tickets back to the shard's reservations count; false when there was no such hold. Called in
    /// the turn that sells the held order, before the sale reserves them again, so nobody else can take them in between.
    /// </summary>
    private bool EndHold(string orderId)
    {
        if (!_holds.Remove(orderId, out var hold)) return false;
        _pendingQuantity -= hold.Quantity;
        return true;
    }

    private Task EndExpiredHolds()
    {
        var now = clock.GetUtcNow();
        var lapsed = false;
        foreach (var (orderId, hold) in _holds.ToList())
        {
            if (hold.ExpiresAt <= now) lapsed |= EndHold(orderId);
        }
        if (lapsed) HandOnLater();
        foreach (var (orderId, until) in _releasedUnheld.ToList())
        {
            if (until <= now) _releasedUnheld.Remove(orderId);
        }
        // Stopped here, not when the last hold ends: at the end of a sale a shard's holds come and go many times a
        // second, and each timer made and disposed costs more than a tick that finds nothing to do.
        if (_holds.Count == 0 && _releasedUnheld.Count == 0)
        {
            _holdTimer?.Dispose();
            _holdTimer = null;
        }
        return Task.CompletedTask;
    }
}
