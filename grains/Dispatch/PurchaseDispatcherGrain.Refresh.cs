using System.Collections.Immutable;
using OrleansTickets.Orders;

namespace OrleansTickets.Dispatch;

/// <summary>
/// Refreshes, shared by the requests they serve: every shard of the type asked for its exact count, and the catalog
/// for its grants, so that "sold out" and "scattered" rest on counts read after the request arrived.
/// </summary>
public sealed partial class PurchaseDispatcherGrain
{
    // A refresh asks every shard; one that cannot answer in this time (its silo gone, say) is reported unavailable
    // instead of holding or failing every request that waits on the refresh.
    private static readonly TimeSpan RefreshTimeout = TimeSpan.FromSeconds(2);

    // How long past its patience a buyer waits for a refresh to serve it. A refresh's steps each wait at most
    // RefreshTimeout (the catalog's storage while a sold-out verdict rests, the catalog's grants, the shards, the storage
    // again), so one can run 8 s. A buyer whose patience ran out behind a refresh it had to let end, and then its own,
    // was held up to 16 s past its patience (21 s of its 5), plus 5 s for a keyed buyer's last look at its home, all
    // the while holding an admission slot: when a catalog or a silo froze. A healthy refresh ends well within this
    // grace; past it the buyer is told that nothing was sold (503), which is still true, or a keyless buyer the verdict
    // of an earlier refresh that served it (OutOfPatience).
    private static readonly TimeSpan RefreshGrace = RefreshTimeout;

    // How long a refresh that found the type sold out lets later refreshes rest on it (see RefreshAllAsync).
    private static readonly TimeSpan SoldOutRest = TimeSpan.FromSeconds(1);

    // Refreshes are shared by the requests that arrived before they started: refresh n serves any request that
    // saw _refreshesStarted < n on arrival, and the running one also serves those that meet it while
    // _refreshTakesNewcomers holds.
    private long _refreshesStarted;
    private Task? _refresh;

    // True while the running refresh has not yet begun to read the catalog's storage (it may still be asking the
    // catalog or the shards). Its verdict of "sold out" rests on that read, which then comes after any request that
    // arrives now; so it serves such a request as well as one that started after it, and the request need not wait for
    // it to end and then for another. (A verdict of "scattered" needs no read: a drained shard's largest count only
    // falls from its answer on, whenever the request arrived.)
    // Why that holds: counts only fall once a shard has answered (gifts corrected for by ShardCounts), and only a grant
    // adds a ticket, which either the catalog's answer, asked before the shards, counts as pending or the storage read
    // shows as new. So the answers' sum bounds the type's unsold tickets at that read, a moment within the request's
    // own lifetime. A request finding this false waits for the next refresh. The wait on reserved tickets that follows
    // a refresh that took a request in this way serves that request too (Joined).
    private bool _refreshTakesNewcomers;

    // The type's unsold tickets by the last refresh's own answers (ShardCounts.Unsold); null when a shard did not
    // answer. Kept apart from _remaining, which requests lower and raise between refreshes from single answers.
    private long? _refreshedUnsold;

    // How many refreshes have ended (set _refreshedUnsold): a keyed request compares it across its ask of the home, to
    // know whether the verdict it would give rests on counts read after the home looked at its key.
    private long _refreshesEnded;

    // The last refresh's counts when it heard every shard of the type say it was drained; null otherwise.
    private DrainedType? _refreshedDrained;

    // The catalog's storage's count of tickets ever granted to the type, as read when the last refresh that asked the
    // shards found it sold out (_refreshedUnsold 0), and when that was; null otherwise. See RefreshAllAsync.
    private long? _soldOutAtGrantedEver;
    private long _soldOutAt;

    /// <summary>
    /// Decides, right after a refresh in which no single shard can take the order, whether to stop: sold out when
    /// that refresh proved the type holds fewer than <paramref name="quantity"/> unsold tickets anywhere; scattered when
    /// it proved enough exist but can never come together on one shard (every shard drained); unavailable when enough
    /// exist (or a shard could not say) but could not be had before <paramref name="giveUpAt"/>; null to keep trying
    /// (by pulling, or by waiting for tickets in transit).
    /// </summary>
    /// <remarks>
    /// The count is the refresh's own, not the view's sum: between the refresh and this turn, other requests of this
    /// reentrant grain may lower a shard in the view from a refusal older than the refresh (a shard that since took
    /// a gift in), and a view lowered that way would say "sold out" while tickets remain.
    /// </remarks>
    private PurchaseResult? Verdict(int quantity, long giveUpAt)
    {
        if (_refreshedUnsold is { } unsold && unsold < quantity)
        {
            _pauseDoublings = 0;
            return new PurchaseResult(PurchaseStatus.SoldOut, Remaining: Math.Max(0, unsold));
        }
        if (_refreshedDrained is { } drained && drained.Free >= quantity && drained.Largest < quantity)
        {
            // Waiting would not help: no pull can gather the tickets (every shard refuses gifts), and nothing else adds
            // any. Before this answer the buyer paused and refreshed to the end of its patience, then heard "try again".
            _pauseDoublings = 0;
            return new PurchaseResult(PurchaseStatus.Scattered, Remaining: drained.Largest);
        }
        return Now >= giveUpAt ? PurchaseResult.Unavailable : null;
    }

    /// <summary>
    /// The answer for an order past its patience whose every answer so far was a definite refusal: the verdict of a
    /// refresh that served it (<paramref name="refreshed"/>), when there is one, or else 503 (nothing
    /// was sold). Verdict cannot answer null once the patience has passed (its clock is monotonic); 503 stays the fallback.
    /// </summary>
    private PurchaseResult OutOfPatience(int quantity, long giveUpAt, bool refreshed) =>
        (refreshed ? Verdict(quantity, giveUpAt) : null) ?? PurchaseResult.Unavailable;

    /// <summary>
    /// Waits for a refresh that serves the caller: one that started after it arrived, or the one running now if that has
    /// not yet read the catalog's storage (<c>_refreshTakesNewcomers</c>); starts one if needed. Waits at most until
    /// <see cref="RefreshGrace"/> past <paramref name="giveUpAt"/>.
    /// </summary>
    /// <returns>
    /// Served: false when the caller stopped waiting at that deadline (the refresh runs on for the others). Joined: the
    /// number of the refresh that served the caller when it was the one running as the caller came, numbered
    /// <paramref name="arrival"/>, and took the caller as a newcomer (before it stopped taking them, just ahead of its
    /// storage read); null when it started after the caller arrived. A wait that follows it serves the caller too (see
    /// <see cref="Joined"/>).
    /// </returns>
    private async Task<(bool Served, long? Joined)> RefreshAsync(long arrival, long giveUpAt)
    {
        var deadline = giveUpAt + Ticks(RefreshGrace);
        // A shard's answer may come this late (it gets the patience left plus HomeAnswerGrace): a refresh of every shard
        // started now would be left at once.
        if (Now >= deadline) return (false, null);
        while (true)
        {
            if (_refresh is { } running)
            {
                var started = _refreshesStarted;
                var servesNewcomers = _refreshTakesNewcomers;
                if (!await EndsByAsync(running, deadline)) return (false, null);
                if (started > arrival) return (true, null);
                if (servesNewcomers) return (true, started);
                // ForgetWhenEndedAsync has cleared it by now when continuations run inline, as they do here. Were one
                // queued instead, a finished refresh left in place would send this loop round again without yielding.
                Forget(running);
                continue;
            }
            _refreshesStarted++;
            _refreshTakesNewcomers = true;
            var refresh = RefreshAllAsync();
            _refresh = refresh;
            // Not the starter's to clear once its own wait ends: it may stop waiting at its deadline while the refresh
            // runs on, and a second refresh started beside it would break "refreshes never overlap". Awaited first, so it
            // clears the refresh before any waiter's continuation runs.
            _ = ForgetWhenEndedAsync(refresh);
            return (await EndsByAsync(refresh, deadline), null);
        }
    }

    /// <summary>Waits for <paramref name="refresh"/> until <paramref name="deadline"/>; false when it was still running then.</summary>
    private async Task<bool> EndsByAsync(Task refresh, long deadline)
    {
        try
        {
            await refresh.WaitAsync(LeftOrNone(deadline), clock);
            return true;
        }
        catch (TimeoutException)
        {
            // The timer fails the wait on a thread-pool thread, and the refresh's last turn may run before this
            // continuation does: ended by then, it serves the caller (and a fault of its own is the caller's, as before).
            if (!refresh.IsCompleted) return false;
            await refresh;
            return true;
        }
    }

    /// <summary>Clears <paramref name="refresh"/> as the running refresh once it has ended, however it ended.</summary>
    private async Task ForgetWhenEndedAsync(Task refresh)
    {
        try
        {
            await refresh;
        }
        catch (Exception)
        {
            // Its waiters see the failure; here it only ends the refresh.
        }
        Forget(refresh);
    }

    /// <summary>Clears <paramref name="refresh"/> as the running refresh, if it still is (it takes no newcomers once ended).</summary>
    private void Forget(Task refresh)
    {
        if (ReferenceEquals(_refresh, refresh)) (_refresh, _refreshTakesNewcomers) = (null, false);
    }

    /// <summary>
    /// Replaces the view with every shard's exact count, and counts the type's unsold tickets from them; or, for a
    /// second after such a refresh found the type sold out, confirms that from the catalog's storage alone.
    /// </summary>
    private async Task RefreshAllAsync()
    {
        // Once a refresh found the type sold out, only a grant can bring a ticket back: sales, gifts and take-backs
        // move or remove tickets, and a withdrawn grant keeps its serials from ever selling. So while the catalog's
        // storage says no ticket was granted since (read now, after every request this refresh serves arrived), the
        // type is still sold out, and the hundreds of shards need not be asked again for each wave of buyers.
        //
        // For a second only, as a last guard: should a verdict have rested on a report that was wrong low, asking the shards
        // again is what corrects it. (A report from before a grant's take-in is caught below, by the delivered grants.)
        // Not counted as a refresh: the meter's refreshes are the ones that ask every shard.
        if (_soldOutAtGrantedEver is { } grantedEver && clock.GetElapsedTime(_soldOutAt) < SoldOutRest)
        {
            _refreshTakesNewcomers = false;
            if (await StillGrantedAsync(grantedEver)) return;
        }
        _soldOutAtGrantedEver = null;
        var calls = new Task<Sales.ShardSales>[_remaining.Length];
        metrics.Refreshed(calls.Length);
        // Tickets an operator granted that no shard has taken in yet are unsold too. The catalog is asked before the
        // shards, not beside them: it drops a grant from its pending list only once a shard has taken the grant in, so
        // a grant gone from this answer is in that shard's answer below, and one still in it is counted here (perhaps
        // by its shard as well, which only puts a verdict off to the next refresh). Asked at the same time, the shard
        // could answer just before its take-in and the catalog just after, and the grant would be counted by neither:
        // a buyer told "sold out" beside tickets on sale.
        var granted = Catalog.GetGrantedCapacity(_type!.Id);
        try
        {
            await granted.WaitAsync(RefreshTimeout);
        }
        catch (Exception)
        {
            // Judged below with the shards: without this answer the refresh gives no verdict of "sold out".
        }
        // Taken now: an answer that comes in while the shards are asked is as late as asking them side by side. A catalog
        // activation that knows no event (null) cannot say what was granted either.
        var grantedBeforeShards = granted.IsCompletedSuccessfully && granted.Result is not null;
        // Marks of "unavailable" made up to now are older than every answer below.
        var askedAt = Now;
        for (var index = 0; index < calls.Length; index++) calls[index] = Shard(index).GetSales();
        try
        {
            // One deadline for the shards (not a timer per shard: a refresh asks hundreds of them).
            await Task.WhenAll(calls).WaitAsync(RefreshTimeout);
        }
        catch (Exception)
        {
            // A call failed or the time ran out: each shard is judged below by its own call.
        }
        _viewRefreshedAt = Now;
        var answered = new List<Sales.ShardSales>(calls.Length);
        var reserved = ImmutableArray.CreateBuilder<Sales.ShardSales>();
        Task? firstUnanswered = null;
        for (var index = 0; index < calls.Length; index++)
        {
            if (!calls[index].IsCompletedSuccessfully)
            {
                firstUnanswered ??= calls[index];
                _unavailableUntil[index] = After(UnavailableFor);
                continue;
            }
            var report = calls[index].Result;
            if (report.Status == Sales.ShardStatus.Unavailable) _unavailableUntil[index] = After(UnavailableFor);
            // A shard that refused as unavailable (its activation moving, a commit that failed before writing) and now
            // answers with a count it read is back: left marked, it was skipped for the rest of the second, and buyers of
            // a type with no other shard to go to paused, refreshed and paused again beside its tickets. A mark made
            // after the question went out may be newer than this answer, and stays.
            else if (report.Known && MarkedBefore(index, askedAt)) _unavailableUntil[index] = 0;
            _retired[index] |= report.Retired;
            // The view holds what a shard can sell now, as its other answers do. Tickets reserved by purchases still
            // committing count as unsold below, but routing an order to them would only be refused: with them in the
            // view, a purchase at the very end spun through home calls and refreshes until those commits landed,
            // instead of pausing (hundreds of refreshes a second on PostgreSQL, whose commits take longer).
            Observe(index, report.Remaining - report.Reserved);
            if (report.Reserved > 0) reserved.Add(report);
            // A shard that could not read its row reports its first block, which leaves out tickets operators granted
            // it: counted, they could add up to "sold out" beside tickets it holds. It counts as not having answered.
            if (report.Known) answered.Add(report);
            else firstUnanswered ??= calls[index];
        }
        // A shard (or the catalog) that did not answer may hold tickets: no verdict of "sold out" can rest on this refresh.
        if (!grantedBeforeShards) firstUnanswered ??= granted;
        // Invariant: no verdict rests on a report from before a grant's take-in. A shard's report is a true count of one
        // moment, and ShardCounts makes the moments agree for everything but operators' grants: an activation replaced
        // by a newer one during a membership change (a second activation, claiming the shard in the database) answers
        // from its last commit until its next one is fenced, and leaves out a grant the newer one took in since. The
        // catalog, asked before the shards, counts the grants it saw each shard take in; each was taken in before the
        // shard was asked, so a report that counts fewer is such a one: no verdict, as for a shard that did not answer,
        // and the activation is told, so that it stops and the next refresh hears one that read the database.
        var behind = grantedBeforeShards ? Sales.ShardCounts.BehindGrants(answered, granted.Result!.DeliveredByShard) : [];
        foreach (var report in behind) Shard(report.Index).StepDownIfBehind(granted.Result!.DeliveredTo(report.Index)).Ignore();
        var missesGrants = behind.Count > 0;
        var countable = firstUnanswered is null && !missesGrants;
        _lastRefreshHeardAll = countable && answered.TrueForAll(report => report.Status != Sales.ShardStatus.Unavailable);
        var drained = countable ? DrainedType.Of(answered) : null;
        // Once every shard is drained, a pending grant can never land (DrainedType), so it is not unsold.
        var unsold = countable ? Sales.ShardCounts.Unsold(answered) + (drained is null ? granted.Result!.Pending : 0) : (long?)null;
        // Without new grants a shard's count only falls once it has answered (gifts move tickets between counts, which
        // ShardCounts corrects for), so the sum holds from the last answer on, and at the storage read below, which comes
        // after every request this refresh serves arrived (_refreshTakesNewcomers). A grant issued while the shards
        // answered breaks that: the catalog's answer came before it, and a shard that took it in after its
        // own answer counts it nowhere. So when the sum could support a verdict (below the most one order may ask for),
        // the catalog's storage is read, and a grant issued in between leaves this refresh without one. Storage, not the
        // catalog's memory: a duplicate catalog activation during a membership change would answer both questions from
        // what it read when it started, and miss a grant its twin stored since.
        _refreshTakesNewcomers = false;
        if (unsold < _type.MaxPerOrder && !await StillGrantedAsync(granted.Result!.AddedEver)) unsold = null;
        _refreshedUnsold = unsold;
        _refreshesEnded++;
        _refreshedDrained = drained;
        // Refreshes never overlap, so this is the number of the one ending.
        _reservations = new RefreshReservations(_refreshesStarted, reserved.ToImmutable(), unsold,
            grantedBeforeShards ? granted.Result!.AddedEver : null);
        // A wait's verdict rests on the refresh it followed; this one replaces it (see SettleAsync).
        _settledRefresh = -1;
        if (unsold == 0) (_soldOutAtGrantedEver, _soldOutAt) = (granted.Result!.AddedEver, clock.GetTimestamp());
        // One line per refresh, not per shard: a silo that went away can take hundreds of shards with it.
        if (firstUnanswered is not null)
        {
            LogRefreshUnanswered(_logger, firstUnanswered.Exception?.InnerException, _type!.Id, calls.Length - answered.Count, calls.Length);
        }
        else if (missesGrants)
        {
            LogRefreshMissedGrants(_logger, _type!.Id, behind.Count, behind[0].Index);
        }
    }

    /// <summary>Whether the catalog's storage still counts <paramref name="grantedEver"/> tickets ever granted to the type.</summary>
    private async Task<bool> StillGrantedAsync(long grantedEver)
    {
        try
        {
            return await Catalog.ReadGrantedEver(_type!.Id).WaitAsync(RefreshTimeout) == grantedEver;
        }
        catch (Exception)
        {
            return false;
        }
    }
}
