using System.Collections.Immutable;
using OrleansTickets.Diagnostics;
using OrleansTickets.Inventory;
using OrleansTickets.Orders;

namespace OrleansTickets.Dispatch;

/// <summary>
/// Keyed orders: a request with an Idempotency-Key goes to its key's home shard for the type, which alone may say
/// whether the key made an order, and a refusal is passed on only once the home has looked at the key after the
/// refresh it rests on.
/// </summary>
public sealed partial class PurchaseDispatcherGrain
{
    private async Task<PurchaseResult> PurchaseAtHomeAsync(PurchaseRequest request, string key, long arrival, long giveUpAt)
    {
        var flatIndex = _keyHomes!.HomeOf(key);
        // A home that has answered nothing definite for a while is asked with a second's patience (see KeyHomeOutage),
        // and the whole patience is given back at its first definite answer.
        var fullPatience = giveUpAt;
        var hurried = _outage!.IsDown(flatIndex, Now);
        if (hurried) giveUpAt = Math.Min(giveUpAt, After(KeyHomeOutage.DownAfter));
        var arrived = arrival;
        var route = PurchaseRoute.Direct;
        var started = Now;
        try
        {
            var quantity = request.Quantity;
            var home = _event!.ShardAt(flatIndex);
            var homeIndex = home.TicketTypeId == _type!.Id ? home.Index : -1;
            var homeGrain = _homes[flatIndex] ??= GrainFactory.GetGrain<IInventoryShardGrain>(home.Key);
            var fingerprint = request.Fingerprint();
            var homeDatabase = _databases[flatIndex];
            var candidates = PickCandidates(quantity, homeIndex, homeDatabase);
            var donors = ImmutableArray<int>.Empty;
            // Whether an ask since the home last gave a definite answer may have made the order. "Unavailable" only says
            // the home cannot answer now, so ending on it after such an ask would tell the buyer nothing was made.
            var uncertain = false;
            // Whether a refresh that serves this request has ended, so that Verdict may rest on it.
            var refreshed = false;
            var viewPulls = 0;
            while (true)
            {
                if (!donors.IsEmpty) route = Further(route, PurchaseRoute.Pulled);
                var local = donors.IsEmpty ? LocalCount(candidates, homeDatabase) : 0;
                var endedBeforeAsk = _refreshesEnded;
                var result = await AskHomeAsync(
                    homeGrain, homeIndex, new ShardPurchase(request, fingerprint, candidates, Donors: donors, LocalCandidates: local), giveUpAt);
                ObserveSightings(result);
                // As in the keyless path, a home that cannot find its placement is transient, not an unknown ticket type.
                if (result.Status == PurchaseStatus.NotFound) result = PurchaseResult.Unavailable;
                var definite = result.Status is not (PurchaseStatus.Failed or PurchaseStatus.Unavailable);
                _outage.Heard(flatIndex, definite, Now);
                if (hurried && definite) (giveUpAt, hurried) = (fullPatience, false);
                // A definite answer ends the doubt, a refusal included: the home looked at the key, and at its row's epoch,
                // after the ask in doubt, and an order that ask made would be there. Not one that ask is still making: on a
                // silo being declared dead, or waiting on a newer activation's first claim. Keeping the doubt through a
                // refusal closed that gap but turned a graceful scale-down's refusals near a sale's end into 503s
                // (SiloFailureTests.A_silo_leaving_gracefully…, in the ninety-second session): the gap is left, and named in
                // docs/architecture.md.
                if (result.Status == PurchaseStatus.Failed) uncertain = true;
                else if (result.Status != PurchaseStatus.Unavailable) uncertain = false;
                var patient = Now < giveUpAt;
                if (result.Status == PurchaseStatus.Unavailable && uncertain && !patient) result = PurchaseResult.Failed;
                if (result.Status is PurchaseStatus.Failed or PurchaseStatus.Unavailable && patient)
                {
                    // With a key, asking again is always safe: the home returns the order if one was made. So a transient
                    // failure (the home's silo leaving, its database blinking) is retried here rather than shown to the buyer.
                    metrics.Paused(retry: true);
                    route = Further(route, PurchaseRoute.Paused);
                    await Task.Delay(RetryPause * 5);
                    // Named afresh from the view, which the answer's sightings (if it carried any) have just lowered; a pull's
                    // receiver stays.
                    if (donors.IsEmpty) candidates = PickCandidates(quantity, homeIndex, homeDatabase);
                    continue;
                }
                if (result is { Status: PurchaseStatus.Created, Order: { } order })
                {
                    // Sold by another shard than the home: the home forwarded it (or a pull's receiver sold it).
                    var seller = ObserveSeller(order, result.Remaining);
                    if (seller != homeIndex)
                    {
                        var across = seller >= 0 && seller < _typeDatabases.Length && _typeDatabases[seller] != homeDatabase;
                        route = Further(route, across ? PurchaseRoute.ForwardedAcross : PurchaseRoute.Forwarded);
                    }
                    _pauseDoublings = 0;
                }
                // The counts heard were for this view; the buyer's answer does not carry them on to the front end.
                if (result.Status != PurchaseStatus.SoldOut) return result.Sightings.IsDefaultOrEmpty ? result : result with { Sightings = default };
                // The home's refusal was definite (nothing made for the key), and the buyer has waited long enough. A verdict
                // from a refresh that ended during the ask may rest on counts read after the home looked at the key, when
                // another request with the key (see RefusalSeenByHomeAsync) may have taken the last tickets for it: the
                // home looks once more then. Otherwise the refresh came before the home's look, which the refusal holds at;
                // and without a refresh of its own the buyer is told only that nothing was sold (OutOfPatience).
                if (!patient)
                {
                    var late = OutOfPatience(quantity, giveUpAt, refreshed);
                    return !refreshed || _refreshesEnded == endedBeforeAsk ? late : await RefusalSeenByHomeAsync(homeGrain, homeIndex, request, fingerprint, late, giveUpAt);
                }

                if (donors.IsEmpty)
                {
                    // The home refused locally and every candidate refused or said it had no room: each has fewer than
                    // Quantity left. (One that did not answer is lowered too; the refresh below reports it unavailable.)
                    if (homeIndex >= 0) Lower(homeIndex, quantity - 1);
                    foreach (var index in candidates) Lower(index, quantity - 1);
                }
                donors = [];
                if (ViewHasRoom(quantity, homeIndex, homeDatabase, out candidates)) continue;
                if (viewPulls < MaxViewPulls && ViewIsFresh && TryPlanPull(quantity, avoid: homeIndex, out var viewReceiver, out donors))
                {
                    // As in the keyless path: a few pulls planned from the view before any refresh.
                    viewPulls++;
                    candidates = [viewReceiver];
                    continue;
                }
                // The home is asked again only once the view shows somewhere to sell, or a pull to plan. After a pause it is
                // not asked blindly: nothing says it has room, and each refusal costs it a read of the stored key and one of
                // its row's epoch (a home reads both before it answers "sold out"), on a database busy with the sale's last
                // commits, for every buyer waiting, at every pause.
                while (true)
                {
                    route = Further(route, PurchaseRoute.Refreshed);
                    var wait = await RefreshAsync(arrival, giveUpAt);
                    // The home's last answer was a definite refusal, as when the patience ends without a refresh (OutOfPatience):
                    // the buyer hears that nothing was sold, and the key's retry returns any order made for it since.
                    if (!wait.Served) return PurchaseResult.Unavailable;
                    arrived = Joined(arrived, wait.Joined);
                    arrival = _refreshesStarted;
                    refreshed = true;
                    if (ViewHasRoom(quantity, homeIndex, homeDatabase, out candidates)) break;
                    if (Verdict(quantity, giveUpAt) is { } verdict) return await RefusalSeenByHomeAsync(homeGrain, homeIndex, request, fingerprint, verdict, giveUpAt);
                    // The home itself receives only when no other shard can (the others drained): it forwards otherwise.
                    if (TryPlanPull(quantity, avoid: homeIndex, out var receiver, out donors))
                    {
                        candidates = [receiver];
                        break;
                    }
                    route = Further(route, PurchaseRoute.Paused);
                    await PauseForTicketsAsync(giveUpAt);
                    if (SettledVerdict(quantity, arrived) is { } settled) return await RefusalSeenByHomeAsync(homeGrain, homeIndex, request, fingerprint, settled, giveUpAt);
                    // A pause that reached the patience ends the wait, as in the keyless path: the verdict rests on the refresh
                    // before it. Going round again cost one more refresh of every shard only to find the time up; the home
                    // is asked once more only to look at the key, as before any refusal here.
                    if (Now >= giveUpAt) return await RefusalSeenByHomeAsync(homeGrain, homeIndex, request, fingerprint, OutOfPatience(quantity, giveUpAt, refreshed), giveUpAt);
                    // Other buyers' answers during the pause may have shown room somewhere: no refresh is needed to go there.
                    if (ViewHasRoom(quantity, homeIndex, homeDatabase, out candidates)) break;
                }
            }
        }
        finally
        {
            metrics.Answered(route, clock.GetElapsedTime(started));
        }
    }

    /// <summary>
    /// Gives a keyed order's <paramref name="refusal"/> (sold out, scattered, or nothing sold) only once the home has
    /// looked at the key after the refresh or wait the refusal rests on: the home's own answer instead when the key has an
    /// order (a replay) or the home can sell after all; "outcome unknown" when the home cannot look.
    /// </summary>
    /// <remarks>
    /// The home's "sold out" that sent this request to refresh said that the key had no order then. Between that answer
    /// and the refresh, another request with the same key (the buyer's retry from another front end, while this one's
    /// connection is gone; or, during a membership change, an earlier ask of this request that a newer activation of the
    /// home forwarded) may have made the key's order from tickets that came free meanwhile, and taken the last of them.
    /// A refusal from the refresh alone then told the buyer "sold out" while the key had an order, and the buyer never
    /// learned of it. The home's look comes after the refresh, and orders are never unmade, so a key without an order
    /// then had none at the refresh either: the refusal holds at that moment, which lies within this request. It costs
    /// one more call (a read of the stored key, or a sale) for each keyed refusal given after a refresh, a few hundred at
    /// the end of a sale.
    /// </remarks>
    private async Task<PurchaseResult> RefusalSeenByHomeAsync(
        IInventoryShardGrain home, int homeIndex, PurchaseRequest request, string fingerprint, PurchaseResult refusal, long giveUpAt)
    {
        // No candidates: the home sells only from its own tickets, and otherwise reads the key before it answers "sold out".
        var answer = await AskHomeAsync(home, homeIndex, new ShardPurchase(request, fingerprint, []), giveUpAt);
        ObserveSightings(answer);
        return answer.Status switch
        {
            PurchaseStatus.SoldOut => refusal,
            PurchaseStatus.Failed or PurchaseStatus.Unavailable or PurchaseStatus.NotFound => PurchaseResult.Failed,
            _ => answer.Sightings.IsDefaultOrEmpty ? answer : answer with { Sightings = default },
        };
    }

    private async Task<PurchaseResult> AskHomeAsync(IInventoryShardGrain home, int homeIndex, ShardPurchase purchase, long giveUpAt)
    {
        metrics.ShardCalled();
        try
        {
            return await CallShardAsync(home, homeIndex, purchase, giveUpAt);
        }
        catch (Exception exception)
        {
            // The home may or may not have acted; the key makes a second ask safe either way. Any exception, not only the
            // cluster's own: an earlier ask may have sold before its answer was lost, and an exception let through here
            // would drop that doubt and reach the buyer as "nothing was sold" (a storage error of a catalog that is
            // reactivating too, say, which the home meets while it looks up its placement).
            if (exception is not (SiloUnavailableException or OrleansMessageRejectionException or TimeoutException))
            {
                LogHomeFailed(_logger, exception, _type!.Id);
            }
            return PurchaseResult.Failed;
        }
    }
}
