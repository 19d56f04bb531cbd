using System.Collections.Immutable;
using System.Diagnostics;
using OrleansTickets.Dispatch;
using OrleansTickets.Events;
using OrleansTickets.Orders;
using OrleansTickets.Storage;

namespace OrleansTickets.Inventory;

/// <summary>The idempotency side of the shard: being a key's home, and serving orders forwarded by other homes.</summary>
/// <remarks>
/// <para>
/// A key's home shard for a ticket type is fixed by the key and the event's shard map (Dispatch/KeyHomes.cs), so
/// every retry of a request meets the same authority. The homes of one key for different types all live in one
/// database, whose key table is keyed by (event, key): it refuses the key to a second home (a KeyConflict outcome of
/// the commit). The home sells locally when it can, which is the common case, since it is usually a shard of the
/// requested type. Otherwise it asks a candidate J whether it has room (a hint, which nothing relies on), then
/// records, durably, "key → order id X on shard J", and only then asks J to create X; or, for a new key and a J on
/// this home's database, sends J the order straight, without the question, and has J record the key in X's own
/// commit, fenced by this home's epoch (<see cref="ForwardInOneCommitAsync"/>). J creates X at most once (it
/// checks its in-flight forwards for X, and its database when the message is a replay; a delayed first message that
/// arrives after a replay created X finds X in the memory of the activation that created it, or in J's database,
/// read first when X was minted before J's activation claimed the shard and always before a refusal, and otherwise
/// is refused by the orders table's primary key), so however often the request is retried, and from however many
/// front ends, only X can exist.
/// </para>
/// <para>
/// Keys are not loaded when a shard activates (that read grew with the sale), and the database, not memory, says what
/// a key maps to. Memory holds the requests in progress (<see cref="KeyRequest"/>) and a 64-bit hash of each key this
/// activation knows the database holds. A request whose key's hash is there reads the stored key first
/// (<see cref="ReadStoredKeyFirstAsync"/>), so a retry costs a read rather than an insert the database refuses, which on
/// PostgreSQL rolls back the whole group commit it rode in. Any other key is written as new (an insert), and the
/// database refuses it if the event already has it, from an earlier activation or from another type's home. The
/// home then reads that one row (<see cref="FollowStoredKeyAsync"/>): its own key with the same body is replayed,
/// anything else is a conflict. A home about to answer "sold out" without having read or written the key in that
/// request reads it too, since the key may already have an order.
/// </para>
/// <para>
/// The home moves a key from J to another shard only after J answered "sold out" for X. A shard can gain tickets
/// later (escrow transfers, added capacity), so J refuses every id it refused once forever after, and commits each
/// refusal before answering it (see <see cref="SellOrRefuseAsync"/>; a refusal of the one-commit message, which no
/// key points at, is neither committed nor remembered, and answers no other message). Moving on can never create
/// a second order. The move is a compare-and-set on X (<see cref="IdempotencyRecord.PreviousOrderId"/>), so a home
/// that read the key before a newer activation of it moved the key on cannot move it again. Any other failure (J unreachable,
/// outcome unknown) keeps the key pointing at X and answers with a retryable error.
/// </para>
/// </remarks>
public sealed partial class InventoryShardGrain
{
    private async Task<PurchaseResult> PurchaseAsHomeAsync(ShardPurchase purchase, string key)
    {
        while (true)
        {
            if (!await EnsureLoadedAsync()) return PurchaseResult.Unavailable;
            if (_keys.TryGetValue(key, out var running))
            {
                // Wait, then look again: a request in flight proves nothing yet about this one's body. It may be a
                // stranger's reuse of a key whose order the database already holds for this body, and it is the
                // stranger who gets the conflict.
                await running.Done;
                continue;
            }
            var entry = new KeyRequest(purchase.Fingerprint);
            _keys[key] = entry;
            return await RunExclusiveAsync(key, entry, _storedKeyHashes.Contains(KeyHash.Of(key))
                ? () => ReadStoredKeyFirstAsync(key, entry, purchase)
                : () => FirstAttemptAsync(key, entry, purchase));
        }
    }

    /// <summary>Runs <paramref name="work"/> as the only request in progress for the key.</summary>
    private async Task<PurchaseResult> RunExclusiveAsync(string key, KeyRequest entry, Func<Task<PurchaseResult>> work)
    {
        var conflict = false;
        try
        {
            var result = await work();
            conflict = result.Status == PurchaseStatus.KeyConflict;
            return result;
        }
        finally
        {
            if (_keys.TryGetValue(key, out var current) && current == entry) _keys.Remove(key);
            // The database holds the key when this request wrote it or read it (an order id is known only from a
            // commit or a read), or answered it with a conflict (the event holds it). Whatever the answer (a holder
            // that timed out after the key's reservation committed leaves the key on its order, and the buyer
            // retries), only the key's hash is kept: about 20–40 bytes (an entry, its bucket and spare room) against
            // the key, its fingerprint, its order id and an object, which the GC carried from collection to collection
            // all sale. The next request with the key reads it first instead of writing it as new. When the request
            // learned nothing durable, nothing is kept, and the next one writes the key as new, which the database
            // refuses if it exists. The shard itself is not reloaded: a write of its own with an unknown outcome
            // already made the commit cycle reload it, and the other failures happened elsewhere (a holder that did
            // not answer) or mean that a newer activation owns the shard, which a new claim would take back from it.
            if (entry.OrderId is not null || conflict) _storedKeyHashes.Add(KeyHash.Of(key));
            entry.End();
        }
    }

    private async Task<PurchaseResult> FirstAttemptAsync(string key, KeyRequest entry, ShardPurchase purchase) =>
        await SellHereAsync(key, entry, purchase) ?? await ForwardAsync(key, entry, purchase);

    /// <summary>
    /// Sells the keyed order on this home itself when it is of this home's type and the home has room, or is named the
    /// receiver of a pull; null when it cannot (nothing was written), so the caller forwards it.
    /// </summary>
    /// <remarks>
    /// On a first attempt the key is new and the sale's commit inserts it. On a retry the key points at an order X that
    /// its holder refused for good (see <see cref="ReplayAsync"/>), and the commit moves it from X to this sale's order,
    /// a compare-and-set on X as for a forward: the sale and the move are one transaction, so the key is never left
    /// on an order that does not exist. Without this, a retry could only forward, never to the home itself, and a
    /// buyer whose home had since taken tickets in (or was the only shard able to receive a pull) got 503 until their
    /// patience ran out, every time.
    /// </remarks>
    private async Task<PurchaseResult?> SellHereAsync(string key, KeyRequest entry, ShardPurchase purchase)
    {
        var request = purchase.Request;
        // The dispatcher names this home as the pull's receiver when no other shard of the type can take tickets in
        // (the others are drained): it pulls from the donors, and sells with the key, as below.
        var receives = !purchase.Donors.IsDefaultOrEmpty && purchase.Candidates.Contains(_address.Index);
        if (request.TicketTypeId != _address.TicketTypeId || (request.Quantity > Remaining && !receives)) return null;
        var orderId = OrderId.New(_address, clock.GetUtcNow());
        var record = new IdempotencyRecord(key, entry.Fingerprint, orderId, PreviousOrderId: entry.OrderId);
        var result = receives ? await SellAsync(request, orderId, record, purchase.Donors) : await TrySell(request, orderId, record);
        if (result.Status == PurchaseStatus.Created) entry.OrderId = orderId;
        // Refused: the event has the key already, or it no longer points at the refused order. Nothing of this sale
        // was written.
        if (result.Status == PurchaseStatus.KeyConflict) return await FollowStoredKeyAsync(key, entry, purchase, PurchaseResult.Failed);
        return result.Status == PurchaseStatus.SoldOut ? null : result;
    }

    private async Task<PurchaseResult> ReplayAsync(string key, KeyRequest entry, ShardPurchase purchase)
    {
        var orderId = entry.OrderId!;
        if (!OrderId.TryGetShard(orderId, out var holder)) return PurchaseResult.Failed;
        if (holder == _address)
        {
            var (read, order) = await TryReadOrderAsync(orderId);
            return !read ? PurchaseResult.Unavailable
                : order is null ? PurchaseResult.Failed
                : new PurchaseResult(PurchaseStatus.Replayed, order);
        }
        var result = await AskHolderAsync(holder, orderId, purchase, freshOrderId: false);
        // The holder refused X, and refuses it forever after: the key may move on, to this home first.
        return result.Status == PurchaseStatus.SoldOut ? await SellHereAsync(key, entry, purchase) ?? await ForwardAsync(key, entry, purchase) : result;
    }

    /// <summary>
    /// Tries the candidates in turn (<see cref="ForwardToCandidatesAsync"/>), and answers with the counts heard on the
    /// way, the home's own first.
    /// </summary>
    /// <remarks>
    /// The counts go back to the dispatcher whatever the answer is. Without them it learned only the seller's count,
    /// and kept naming candidates that had just said they had no room to the next buyers, each of whom asked them
    /// again: most of the questions at the end of a sale.
    /// </remarks>
    private async Task<PurchaseResult> ForwardAsync(string key, KeyRequest entry, ShardPurchase purchase)
    {
        var sightings = new SightingList(purchase.Candidates.Length + 1);
        if (purchase.Request.TicketTypeId == _address.TicketTypeId) sightings.Add(_address.Index, Remaining);
        return sightings.On(await ForwardToCandidatesAsync(key, entry, purchase, sightings));
    }

    /// <summary>
    /// Asks the candidates in turn whether they have room, reserves the key for a new order on one that does, and
    /// asks it to sell that order (a candidate on this home's database is sent a new key's order straight, and records
    /// the key itself); stops at the first that sells it. Each count heard goes into <paramref name="sightings"/>.
    /// </summary>
    private async Task<PurchaseResult> ForwardToCandidatesAsync(string key, KeyRequest entry, ShardPurchase purchase, SightingList sightings)
    {
        var request = purchase.Request;
        // One budget for all the questions of a forward: candidates on a silo that is leaving answer none, and
        // waiting out CrossShardTimeout for each of them in turn would hold the buyer that many times over.
        var askingSince = Stopwatch.GetTimestamp();
        var reservedHere = false;
        // Whether an order for this key may have been made already by a holder this request asked to record the key,
        // whose answer did not come: then nothing this request fails at afterwards proves that nothing was made.
        var outcomeUnknown = false;
        for (var position = 0; position < purchase.Candidates.Length; position++)
        {
            var index = purchase.Candidates[position];
            var target = new ShardAddress(_address.EventId, request.TicketTypeId, index);
            if (target == _address) continue;
            // Each reservation is a durable write here (the first inserts the key, later ones move it off a candidate
            // that refused). Near the end of a sale most candidates the dispatcher knows of are dry, so ask first: a
            // question is one call. A candidate named with donors may pull what it lacks, so it is not asked.
            var orderId = OrderId.New(target, clock.GetUtcNow());
            var held = false;
            if (purchase.Donors.IsDefaultOrEmpty)
            {
                // A new key and a candidate on this home's database: the candidate records the key with the order, and
                // is sent the order straight. Nothing is written here first, and a refusal there writes nothing either
                // (SellOrRefuseAsync), so a question would cost every forward a round trip and save nothing. A
                // candidate that lately left such an order unanswered is asked first again (SilentCandidates): the
                // question's time-out passes it over, the order's leaves the outcome unknown.
                var oneCommit = entry.OrderId is null && position < purchase.LocalCandidates;
                if (!oneCommit || silentCandidates.WasSilentLately(target))
                {
                    // The question also holds the tickets for this order id (InventoryShardGrain.Holds.cs), so the room
                    // it reports is still there when the order arrives after the reservation's commit.
                    var sellable = await AskForRoomAsync(target, orderId, request.Quantity, CrossShardTimeout - Stopwatch.GetElapsedTime(askingSince));
                    if (sellable is not { } count || count < request.Quantity)
                    {
                        if (sellable is { } heard) sightings.Add(index, heard);
                        continue;
                    }
                    held = true;
                    sightings.Add(index, count - request.Quantity);
                }
                if (oneCommit)
                {
                    var (answered, unknown) = await ForwardInOneCommitAsync(key, entry, purchase, target, orderId, asked: held);
                    if (ReferenceEquals(answered, PassedOver)) continue;
                    if (answered is not null)
                    {
                        if (answered.Status != PurchaseStatus.SoldOut) return answered;
                        sightings.Add(index, answered.Remaining);
                        continue;
                    }
                    outcomeUnknown = unknown;
                }
            }
            var reserved = await Enqueue(new PendingSale(null, orderId, new IdempotencyRecord(key, entry.Fingerprint, orderId, entry.OrderId)));
            if (reserved.Status != PurchaseStatus.Created && held) _ = ReleaseHoldOnAsync(target, orderId);
            if (reserved.Status == PurchaseStatus.KeyConflict)
            {
                return UnlessMade(await FollowStoredKeyAsync(key, entry, purchase, PurchaseResult.Failed), outcomeUnknown);
            }
            if (reserved.Status != PurchaseStatus.Created) return UnlessMade(reserved, outcomeUnknown);
            reservedHere = true;
            entry.OrderId = orderId;
            metrics.Forwarded(oneCommit: false);
            var result = await AskHolderAsync(target, orderId, purchase, freshOrderId: true);
            if (result.Status == PurchaseStatus.SoldOut)
            {
                // The holder's refusal carries what it had left, which the question before it had overstated.
                sightings.Add(index, result.Remaining);
                continue;
            }
            // A holder that could not find its placement did nothing, but remembers no refusal either: moving on would
            // leave X creatable by a stale replay (a duplicate activation of this home). The key stays on X; a retry
            // replays it once the holder can place itself.
            if (result.Status == PurchaseStatus.NotFound) return PurchaseResult.Unavailable;
            return result;
        }
        var soldOut = new PurchaseResult(PurchaseStatus.SoldOut, Remaining: 0);
        // A reservation this request committed (a compare-and-set on the key) proves that the request's order is the
        // stored one, and its holder refused it. So does the stored key this request read and replayed. With neither,
        // the key may have an order this request does not know (from an earlier activation, or moved on by a newer
        // activation of this home during a membership change) that sold, whose buyer must get it, not "sold out". A
        // stored key found is followed once per request (Followed); a read that found none is read again here.
        if (!reservedHere && !entry.Followed)
        {
            // The key and then the epoch (below), on one connection: the common keyed "sold out" at a sale's end.
            var (read, stored, epochRead, epoch) = await ReadKeyThenEpochAsync(key);
            if (!read) return PurchaseResult.Unavailable;
            if (stored is null) return HoldsClaim(epochRead, epoch, beforeKeyedRefusal: true) ? soldOut : PurchaseResult.Unavailable;
            entry.Followed = true;
            return await ReplayStoredAsync(key, entry, purchase, stored);
        }
        // What this activation last saw of the key holds only while no newer activation of this home holds the shard:
        // one that has claimed may since have moved the key on, or be making its order, for another request with the
        // key (the buyer's retry from another front end while this one's connection is gone). It claims before it reads
        // or writes any key, so the row's epoch, read now, after this request's last look at the key, says whether one
        // had by then: if so, this one stops, and the buyer hears "unavailable". (One that claims only later, to serve
        // an earlier ask of this same request whose answer was lost, is not caught: a gap docs/architecture.md names.)
        return await StillHoldsClaimAsync() ? soldOut : PurchaseResult.Unavailable;
    }

    /// <summary>
    /// "Unavailable" says that nothing was made, which is not known after a holder's answer that did not come
    /// (<see cref="ForwardInOneCommitAsync"/>): the holder's commit may still land, with the key. The buyer is told the
    /// outcome is unknown instead, and a retry replays the order if it was made.
    /// </summary>
    private static PurchaseResult UnlessMade(PurchaseResult result, bool outcomeUnknown) =>
        outcomeUnknown && result.Status == PurchaseStatus.Unavailable ? PurchaseResult.Failed : result;

    /// <summary>
    /// Asks <paramref name="holder"/>, a candidate on this home's database, to sell order <paramref name="orderId"/> and
    /// record the key for this home in the same commit, fenced by this activation's epoch. <c>Answer</c> is null when
    /// the home must commit the key itself first, as for any other candidate (<see cref="ForwardToCandidatesAsync"/>),
    /// with the same order id; <c>OutcomeUnknown</c> then says whether the holder may have made the order after all.
    /// </summary>
    /// <remarks>
    /// <para>
    /// A forward otherwise takes two group commits one after the other, the key's here and then the order's there, and
    /// near the end of a sale, when homes run dry one by one, forwards were the slowest answers the buyers got
    /// (docs/benchmarks.md). Both rows can go in one transaction only when they are on one database, and the key row
    /// must be this home's: its epoch is the fence. A newer activation of this home claims a newer epoch before it
    /// reads any key, and the holder's commit writes the key only while the home's row keeps this one (locked to the
    /// commit on PostgreSQL and SQL Server; SQLite runs one write at a time), so the newer activation never reads the
    /// key as absent, answers "sold out", and then sees the order made. This activation still runs one request per
    /// key at a time (<see cref="KeyRequest"/>), and nothing points at the id until the holder's commit, so a refusal
    /// lets the next candidate have a new id, as before.
    /// </para>
    /// <para>
    /// The answers: sold or refused as usual. A key conflict means the event has the key already (another type's
    /// home, or an earlier activation of this one), and the stored key answers; or the key is still absent, because
    /// this home's row has a newer epoch or another writer held it, and the home commits the key itself (a fenced
    /// home then learns it is fenced). Any other failure may hide an order made with the key, so the home commits the
    /// key itself too: its insert finds the key if the order was made, and the stored key replays it.
    /// </para>
    /// </remarks>
    private async Task<(PurchaseResult? Answer, bool OutcomeUnknown)> ForwardInOneCommitAsync(
        string key, KeyRequest entry, ShardPurchase purchase, ShardAddress holder, string orderId, bool asked)
    {
        var result = await AskHolderAsync(holder, orderId, purchase, freshOrderId: true, new ForwardingHome(_address.Key, _ledger!.Epoch));
        switch (result.Status)
        {
            case PurchaseStatus.Created or PurchaseStatus.Replayed:
                entry.OrderId = orderId;
                metrics.Forwarded(oneCommit: true);
                return (result, false);
            case PurchaseStatus.SoldOut:
                return (result, false);
            case PurchaseStatus.NotFound:
                // As after a reservation: the holder did nothing and remembers nothing. Sent straight, it is passed
                // over, as a question it could not answer would have been.
                return (asked ? PurchaseResult.Unavailable : PassedOver, false);
            case PurchaseStatus.KeyConflict:
                // The holder's batch was refused whole: it made nothing.
                var followed = await FollowStoredKeyAsync(key, entry, purchase, KeyAbsent);
                return (ReferenceEquals(followed, KeyAbsent) ? null : followed, false);
            case PurchaseStatus.Unavailable:
                return (asked ? null : PassedOver, false);
            default:
                // No answer in time, or one that does not know its own commit's outcome: either way the next homes ask
                // this holder first for a while rather than send it orders straight.
                silentCandidates.MarkSilent(holder);
                return (null, true);
        }
    }

    /// <summary>
    /// What <see cref="ForwardInOneCommitAsync"/> answers for a holder sent the order without a question that could
    /// not take it and made nothing: the home moves on to the next candidate. Told apart by reference.
    /// </summary>
    private static readonly PurchaseResult PassedOver = new(PurchaseStatus.Unavailable);

    /// <summary>What <see cref="FollowStoredKeyAsync"/> gives <see cref="ForwardInOneCommitAsync"/> for a key not stored: told apart by reference.</summary>
    private static readonly PurchaseResult KeyAbsent = new(PurchaseStatus.Failed);

    /// <summary>
    /// Answers from the stored key, when the database refused the key or when the home would otherwise answer
    /// without having written it: this shard's own key with the same body is replayed; a key another home holds, or
    /// one first used with another body, is a conflict; no key at all gets <paramref name="whenAbsent"/>.
    /// </summary>
    /// <remarks>
    /// A key found is followed once per request. A second refusal would mean the key changed again since it was read,
    /// which only a newer activation of this shard could do (and then this one is fenced); the request fails as
    /// "outcome unknown", and this activation's next commit finds it fenced. A read that found no key does not count:
    /// after a one-commit holder's refusal the home reads, finds nothing, and inserts the key itself, and that insert
    /// may meet the key stored since by another type's home for another body. Counted, that read left the buyer with
    /// "outcome unknown", a 503 to retry, where the stored key already says 422.
    /// </remarks>
    private async Task<PurchaseResult> FollowStoredKeyAsync(
        string key, KeyRequest entry, ShardPurchase purchase, PurchaseResult whenAbsent)
    {
        if (entry.Followed) return PurchaseResult.Failed;
        var (read, stored) = await TryReadKeyAsync(key);
        if (!read) return PurchaseResult.Unavailable;
        if (stored is null) return whenAbsent;
        entry.Followed = true;
        return await ReplayStoredAsync(key, entry, purchase, stored);
    }

    /// <summary>
    /// A request whose key this activation knows the database holds: the stored key answers, as after a refused insert
    /// (<see cref="FollowStoredKeyAsync"/>), without the insert. No key stored means that another key with the same
    /// hash is the one known, and this request is a first attempt.
    /// </summary>
    private async Task<PurchaseResult> ReadStoredKeyFirstAsync(string key, KeyRequest entry, ShardPurchase purchase)
    {
        var (read, stored) = await TryReadKeyAsync(key);
        if (!read) return PurchaseResult.Unavailable;
        if (stored is null) return await FirstAttemptAsync(key, entry, purchase);
        entry.Followed = true;
        return await ReplayStoredAsync(key, entry, purchase, stored);
    }

    /// <summary>This shard's own key with the same body is replayed; a key another home holds, or one first used with another body, is a conflict.</summary>
    private Task<PurchaseResult> ReplayStoredAsync(string key, KeyRequest entry, ShardPurchase purchase, StoredKey stored)
    {
        if (stored.ShardKey != _address.Key || stored.Fingerprint != entry.Fingerprint) return Task.FromResult(PurchaseResult.KeyConflict);
        entry.OrderId = stored.OrderId;
        return ReplayAsync(key, entry, purchase);
    }

    /// <summary>
    /// How many tickets <paramref name="candidate"/> says, within <paramref name="wait"/>, it could sell now, holding
    /// <paramref name="quantity"/> of them for <paramref name="orderId"/> when it can; null when it does not answer in
    /// time or cannot say. Nothing is written yet when this is asked, so such a candidate is simply passed over, and
    /// told to release the hold, which it also remembers should the question run there later; the dispatcher's next
    /// refresh finds it unavailable.
    /// </summary>
    private async Task<long?> AskForRoomAsync(ShardAddress candidate, string orderId, int quantity, TimeSpan wait)
    {
        if (wait <= TimeSpan.Zero) return null;
        metrics.AskedForRoom();
        try
        {
            var sellable = await Holder(candidate).HoldForForward(orderId, quantity).WaitAsync(wait);
            return sellable >= 0 ? sellable : null;
        }
        catch (Exception exception)
        {
            // Still silent: homes go on asking it first, rather than send it orders whose answers would not come. Not
            // a candidate whose question the forward's shared budget cut short (earlier candidates took most of it): a
            // few milliseconds unanswered say nothing of it, and marked, it would be asked first by every home on the
            // silo for the next 10 s, a round trip more for each of their forwards to it.
            if (exception is not TimeoutException || wait >= CrossShardTimeout / 2) silentCandidates.MarkSilent(candidate);
            LogProbeFailed(_logger, exception, _address.Key, candidate.Key);
            // The question may still run there (a slow candidate rather than a dead one) and hold tickets for an order
            // that will not come: released now, or remembered as released should the question run later.
            _ = ReleaseHoldOnAsync(candidate, orderId);
            return null;
        }
    }

    /// <summary>
    /// Tells a candidate that held tickets for <paramref name="orderId"/> that the order will not come: the home's
    /// reservation was refused or failed, or its question for room timed out (the candidate then remembers the id, in
    /// case the question runs there later). Not awaited by the buyer; should it be lost, the hold ends by itself.
    /// </summary>
    private async Task ReleaseHoldOnAsync(ShardAddress candidate, string orderId)
    {
        try
        {
            await Holder(candidate).ReleaseHold(orderId).WaitAsync(CrossShardTimeout);
        }
        catch (Exception exception)
        {
            LogReleaseFailed(_logger, exception, _address.Key, candidate.Key);
        }
    }

    private async Task<PurchaseResult> AskHolderAsync(
        ShardAddress holder, string orderId, ShardPurchase purchase, bool freshOrderId, ForwardingHome? home = null)
    {
        try
        {
            var forwarded = purchase with { ForwardedOrderId = orderId, Candidates = [], FreshOrderId = freshOrderId, LocalCandidates = 0, Home = home };
            var result = await (home is null ? Holder(holder).Purchase(forwarded) : Holder(holder).PurchaseForHome(forwarded))
                .WaitAsync(CrossShardTimeout);
            // Only a holder recording the key can meet a key conflict. Without the home named, this is an earlier call
            // for the same id that did name it, still running when the home gave up on it and committed the key itself:
            // the key points at the id, so the buyer's retry replays it.
            return result.Status == PurchaseStatus.KeyConflict && home is null ? PurchaseResult.Failed : result;
        }
        catch (Exception exception)
        {
            // The holder may or may not have created the order; the key still points at it, so a retry is safe.
            LogForwardFailed(_logger, exception, _address.Key, holder.Key);
            return PurchaseResult.Failed;
        }
    }

    /// <summary>
    /// Creates order <paramref name="orderId"/> for a home shard, or for the dispatcher of a keyless order, at most once;
    /// with the home's key in the same commit when the home names itself (<see cref="ShardPurchase.Home"/>).
    /// </summary>
    private async Task<PurchaseResult> SellForwardedAsync(ShardPurchase purchase, string orderId)
    {
        var (request, freshOrderId, donors) = (purchase.Request, purchase.FreshOrderId, purchase.Donors);
        // Read in place: every keyless order comes this way.
        if (request.TicketTypeId != _address.TicketTypeId || !OrderId.IsHeldBy(orderId, _address))
        {
            return PurchaseResult.NotFound;
        }
        // Only a fresh id has its key recorded here: a replay's key is stored already, pointing at it.
        IdempotencyRecord? key = null;
        if (purchase.Home is { } home)
        {
            if (!freshOrderId || request.IdempotencyKey is not { } idempotencyKey) return PurchaseResult.NotFound;
            key = new IdempotencyRecord(idempotencyKey, purchase.Fingerprint, orderId, Home: home);
        }
        PurchaseResult? answer = null;
        try
        {
            answer = await SellForwardedUnlessKnownAsync(request, orderId, freshOrderId, donors, key);
            return answer;
        }
        finally
        {
            // Not sold, for good (a replay, a refusal): what was held for the order comes back, as when the home releases
            // it (ReleaseHold). A sale ended the hold already. After an unclear answer (a read that failed), or none (the
            // call threw), the home may send the id again (its fallback), so the hold stays for it, until the home
            // releases it or it ends by itself, about 2 s on.
            if (answer is { Status: not (PurchaseStatus.Unavailable or PurchaseStatus.Failed) } && EndHold(orderId)) HandOnLater();
        }
    }

    private async Task<PurchaseResult> SellForwardedUnlessKnownAsync(
        PurchaseRequest request, string orderId, bool freshOrderId, ImmutableArray<int> donors, IdempotencyRecord? key)
    {
        if (_forwards.TryGetRunning(orderId, out var running))
        {
            // A plain forward answers "sold out" only once its refusal is committed, so its answer can be passed on. A
            // home's one-commit message's refusal is not recorded (see SellOrRefuseAsync), so it answers no message
            // without the home named (the home's fallback, after which the home may move the key on): that one goes on
            // below, to a committed refusal of its own or to one being committed (RepeatRefusalAsync waits for it).
            var earlier = await running;
            if (earlier.Status != PurchaseStatus.SoldOut || key is not null)
            {
                return earlier.Status == PurchaseStatus.Created ? earlier with { Status = PurchaseStatus.Replayed } : earlier;
            }
        }
        if (_refused.Contains(orderId)) return await RepeatRefusalAsync(orderId);
        if (_createdForwards.Contains(orderId))
        {
            var (read, order) = await TryReadOrderAsync(orderId);
            return !read || order is null ? PurchaseResult.Unavailable : new PurchaseResult(PurchaseStatus.Replayed, order);
        }
        var result = await _forwards.RunAsync(orderId, () => SellOrRefuseAsync(request, orderId, freshOrderId, donors, key));
        // Not a keyless order's first message: those are most orders of a sale without keys, and remembering each would
        // grow with the sale. Only the dispatcher's ask again names such an id later, and it is read for first.
        if (result.Status == PurchaseStatus.Created && !IsKeylessFirst(request, freshOrderId)) _createdForwards.Add(orderId);
        return result;
    }

    /// <summary>Sells a forwarded order, or refuses it for good: a refused id stays refused even if tickets arrive later.</summary>
    /// <remarks>
    /// <para>
    /// Every refusal of an order the key points at is committed (<c>refused_orders</c>) before it is answered (the
    /// home's one-commit message is the exception: see below in the method), since the home moves the key on after
    /// it, and another message for the id may still come, possibly to a later activation of this shard, and must find
    /// the refusal. For a replay, that is an earlier, delayed message for the id (a forward the home gave up waiting
    /// for). For a fresh id, which the home sends once and then waits on, it is a replay from a stale duplicate of the
    /// home during a membership change: one that read the key while it still pointed at this id. Remembered only in
    /// memory, the refusal would be gone if this shard moved meanwhile, and such a replay would create the order
    /// beside the one the key moved to: two orders for one key.
    /// </para>
    /// <para>
    /// The reverse order happens too: the home gave up on the fresh message, a replay created the order here, and the
    /// fresh message arrives last. The activation that created it answers with the order (<c>_createdForwards</c>); a
    /// later one reads it first when the id was minted before its claim (<see cref="MintedBeforeClaim"/>), and
    /// otherwise, with tickets left, meets the orders table's primary key, which refuses its second creation. With
    /// none left it would be refused as sold out, and remembered: a committed order marked refused, whose next replay
    /// would let the home move the key to a second order. So before a fresh id is refused, the orders table says
    /// whether it exists. This read comes only with such a refusal, which is rare: the home asks a candidate elsewhere
    /// for room first.
    /// </para>
    /// </remarks>
    private async Task<PurchaseResult> SellOrRefuseAsync(
        PurchaseRequest request, string orderId, bool freshOrderId, ImmutableArray<int> donors, IdempotencyRecord? key)
    {
        // A replay, or a fresh id that may be older than this activation's claim, is read for before it is sold. Not a
        // keyless order's first message: every keyless order is one, and in the seconds after a claim each would pay a
        // read (and a read that fails answers "unavailable" without the failed commit that tells the shard its database
        // is gone: DatabaseFailureTests). Orleans does not send it twice. A silo that stops may still forward it to a
        // newer activation after the dispatcher, told only that the silo is gone, asked again and had the order made;
        // one that made it knows (_createdForwards), and on any later one the orders table's primary key refuses the
        // second copy, failing that one group commit (its keyless buyers are asked for again, its keyed ones retried).
        var keylessFirst = IsKeylessFirst(request, freshOrderId);
        var readFirst = !freshOrderId || (!keylessFirst && MintedBeforeClaim(orderId));
        var result = readFirst
            ? await SellUnlessStoredAsync(request, orderId, key, donors)
            : await SellHeldAsync(request, orderId, key, donors);
        if (result.Status != PurchaseStatus.SoldOut) return result;
        // The home's one-commit message (it names the home, and records the key): its refusal is neither recorded nor
        // read for. The home sends it once and, told "sold out", moves on to a new id without ever pointing the key at
        // this one. The only message that can name this id later is the home's fallback after an answer it did not
        // get (it reserved the key for this id first); that one names no home, never takes this refusal as its answer
        // (SellForwardedAsync), and has its own refusal committed before it is answered. A late home-named message
        // finds X if it was made (read first, or in _createdForwards), and can otherwise only insert the key as new,
        // which the database refuses once the key exists. So at the end of a sale, when homes send their orders straight
        // to candidates on their database, most of these messages are refused.
        // A keyless order's first message is refused as any keyless sale is, unrecorded: its dispatcher names the id
        // again only after an answer it did not get, and that message (not fresh) has its own refusal committed before
        // it is answered, or finds this message's order.
        if (key?.Home is not null || keylessFirst) return result;
        if (!readFirst)
        {
            // In the single flight for the id: no other message for it runs here between this read and the refusal (a
            // read before the sale, in the same flight, said the same already).
            var (read, existing) = await TryReadOrderAsync(orderId);
            if (!read) return PurchaseResult.Unavailable;
            if (existing is not null) return new PurchaseResult(PurchaseStatus.Replayed, existing);
        }
        _refused.Add(orderId);
        if (await Enqueue(PendingChange.Refusal(orderId))) return result;
        // Not committed, so not a refusal: the key keeps pointing at this id, and a retry may still sell it here.
        if (!_durableRefusals.Contains(orderId)) _refused.Remove(orderId);
        return PurchaseResult.Unavailable;
    }

    /// <summary>
    /// Whether a message is a keyless order's first, under the id its dispatcher minted (see <see cref="ShardPurchase.ForwardedOrderId"/>).
    /// </summary>
    private static bool IsKeylessFirst(PurchaseRequest request, bool freshOrderId) => freshOrderId && request.IdempotencyKey is null;

    /// <summary>
    /// Refuses an id refused before. Its refusal may still be on its way to the database (or have failed to get there),
    /// and the home moves on after this answer, so it waits for a committed refusal (see <see cref="SellOrRefuseAsync"/>).
    /// </summary>
    private async Task<PurchaseResult> RepeatRefusalAsync(string orderId)
    {
        var refused = new PurchaseResult(PurchaseStatus.SoldOut, Remaining: Math.Max(0, Remaining));
        if (_durableRefusals.Contains(orderId)) return refused;
        return await Enqueue(PendingChange.Refusal(orderId)) ? refused : PurchaseResult.Unavailable;
    }

    /// <summary>Answers with order <paramref name="orderId"/> when the database holds it already; sells it otherwise.</summary>
    private async Task<PurchaseResult> SellUnlessStoredAsync(
        PurchaseRequest request, string orderId, IdempotencyRecord? key, ImmutableArray<int> donors)
    {
        var (read, existing) = await TryReadOrderAsync(orderId);
        if (!read) return PurchaseResult.Unavailable;
        if (existing is not null) return new PurchaseResult(PurchaseStatus.Replayed, existing);
        return await SellHeldAsync(request, orderId, key, donors);
    }

    /// <summary>
    /// Sells a forwarded order with the tickets held for it, if the home asked for room here first: the hold ends in the
    /// turn whose sale reserves them again (SellAsync reaches TrySell before any await when they suffice), so no other
    /// buyer can take them between. Ended any earlier, before a read or behind another message for the id, the hold's
    /// tickets would be anyone's while the forward waited.
    /// </summary>
    private Task<PurchaseResult> SellHeldAsync(PurchaseRequest request, string orderId, IdempotencyRecord? key, ImmutableArray<int> donors)
    {
        EndHold(orderId);
        return SellAsync(request, orderId, key, donors);
    }

    /// <summary>
    /// Whether a fresh id may be one that an earlier activation of this shard created, or this one in a commit whose
    /// outcome it did not learn: minted before this activation's latest claim, give or take
    /// <see cref="MintClockAllowance"/> for the home's clock against this silo's.
    /// </summary>
    /// <remarks>
    /// A fresh message overtaken by the replay its home sent when it gave up waiting, with this shard moved between the
    /// two (a membership change, or a deactivation), reaches an activation that does not know the replay's order
    /// (<c>_createdForwards</c>). Sold, it met the orders table's key, which refused the whole group commit: every sale
    /// in it answered 503, and the shard sat out a second. The same happens within one activation to an order whose
    /// commit's outcome it did not learn (it landed, but is not in <c>_createdForwards</c>), met after the reload by the
    /// home's fallback message for the id. Such an id is read for first. Any other fresh id is minted after the latest
    /// claim, which no earlier activation can commit past and which runs only once this one's commits have ended, so it
    /// is sold without a read: fresh ids are most of the forwards at the end of a sale, and only those in the first
    /// seconds after a claim pay the read. A home's clock further ahead than the allowance leaves the primary key as
    /// the last line, as before.
    /// </remarks>
    private bool MintedBeforeClaim(string orderId) =>
        _claimedAt is not { } claimedAt || OrderId.MintedAt(orderId) < claimedAt + MintClockAllowance;

    private Task<(bool Read, StoredKey? Key)> TryReadKeyAsync(string key) => TryReadAsync(ledger => ledger.ReadKeyAsync(key));

    private Task<(bool Read, OrderDetails? Order)> TryReadOrderAsync(string orderId) => TryReadAsync(ledger => ledger.ReadOrderAsync(orderId));

    /// <summary>Reads from the shard's database; <c>Read</c> is false when the database could not be asked.</summary>
    private async Task<(bool Read, T? Value)> TryReadAsync<T>(Func<ShardLedger, Task<T>> read)
    {
        try
        {
            return (true, await read(_ledger!));
        }
        catch (Exception exception)
        {
            LogUnavailable(_logger, exception, _address.Key);
            return (false, default);
        }
    }

    [Microsoft.Extensions.Logging.LoggerMessage(Level = Microsoft.Extensions.Logging.LogLevel.Warning,
        Message = "Shard {Shard}: candidate {Candidate} did not say whether it can sell; passed over")]
    private static partial void LogProbeFailed(Microsoft.Extensions.Logging.ILogger logger, Exception exception, string shard, string candidate);

    [Microsoft.Extensions.Logging.LoggerMessage(Level = Microsoft.Extensions.Logging.LogLevel.Debug,
        Message = "Shard {Shard}: releasing the hold on {Candidate} failed; the hold ends by itself")]
    private static partial void LogReleaseFailed(Microsoft.Extensions.Logging.ILogger logger, Exception exception, string shard, string candidate);

    [Microsoft.Extensions.Logging.LoggerMessage(Level = Microsoft.Extensions.Logging.LogLevel.Warning,
        Message = "Shard {Shard}: forwarding to {Holder} failed; the key keeps its order id")]
    private static partial void LogForwardFailed(Microsoft.Extensions.Logging.ILogger logger, Exception exception, string shard, string holder);
}
