using System.Collections.Immutable;
using Microsoft.Extensions.Logging;
using OrleansTickets.Diagnostics;
using OrleansTickets.Events;
using OrleansTickets.Orders;
using OrleansTickets.Sales;
using OrleansTickets.Storage;

namespace OrleansTickets.Inventory;

/// <summary>Escrow: moving unsold serials between shards, so that no ticket is stranded on a shard nobody can use.</summary>
/// <remarks>
/// <para>
/// A transfer has two durable steps on two (possibly different) databases, with no distributed transaction:
/// </para>
/// <list type="number">
/// <item>The donor cuts serials from the unsold end of its inventory and records the gift (<c>transfers_out</c>),
/// in one fenced commit. From then on it will never sell them.</item>
/// <item>The receiver appends them and records the transfer (<c>transfers_in</c>, primary key on the id), in one
/// commit. A second delivery of the same transfer finds the id and changes nothing.</item>
/// </list>
/// <para>
/// The donor keeps delivering a recorded gift (after a crash: from its next activation, on a timer) until the
/// receiver answers that it holds it, and only then marks it delivered. A receiver that can never take it (drained)
/// answers Refused, and the donor takes the serials back, in one commit with the "delivered" mark. So a gift is
/// always completed or undone, and until then its serials are reported as in transit, still unsold.
/// </para>
/// <para>
/// Pulling: a shard asked to sell more than it holds (and given donors) first reserves what it has, then asks
/// donors to give it the rest. A transfer taken in for a pull is reserved for that pull in the same turn as it
/// lands, so the buyer who caused the pull gets the serials.
/// </para>
/// </remarks>
public sealed partial class InventoryShardGrain
{
    private static readonly TimeSpan DeliveryRetry = TimeSpan.FromSeconds(1);

    /// <summary>
    /// How long a shard waits on another shard (a forward, a pull, a delivery). Shards call each other, and Orleans
    /// queues calls to an activation that is deactivating (a graceful leave, a rebalancing move) until the calls it
    /// is running finish. Two shards deactivating while each waits on the other would hold until the 30 s call
    /// timeout; giving up sooner lets both finish moving. A caller that asked a shard to act treats the timeout as
    /// "outcome unknown", which the keys, transfer ids and forwarded order ids make safe to retry; a home asking a
    /// candidate for room (which writes nothing) passes the candidate over.
    /// </summary>
    private static readonly TimeSpan CrossShardTimeout = TimeSpan.FromSeconds(2);

    /// <summary>
    /// How long a draining shard waits for a receiver to say it can take tickets in. Longer than
    /// <see cref="CrossShardTimeout"/>: the drain is an operator's call, off any buyer's path, and a receiver asked for
    /// the first time may have to create its database first (on PostgreSQL, seconds on a loaded machine). Passing over
    /// a healthy receiver would leave tickets on a drained shard; waiting only delays the drain's answer.
    /// </summary>
    private static readonly TimeSpan DrainQuestionTimeout = TimeSpan.FromSeconds(10);

    // A drain stops asking new receivers this long after it was called, so that even a last question that waits its
    // full 10 s, and the gift after it, usually end before Orleans' 30 s call timeout: otherwise the operator hears
    // "unavailable" about a shard already retired, whose walk goes on unseen.
    private static readonly TimeSpan DrainWalkBudget = TimeSpan.FromSeconds(15);

    private readonly Dictionary<string, OutgoingTransfer> _undelivered = new(StringComparer.Ordinal);
    private readonly HashSet<string> _takenIn = new(StringComparer.Ordinal);
    private readonly SingleFlight<TransferOutcome> _takeIns = new();
    private readonly HashSet<string> _refused = new(StringComparer.Ordinal);

    // Refusals that are in the database; the others live only in this activation (see SellOrRefuseAsync).
    private readonly HashSet<string> _durableRefusals = new(StringComparer.Ordinal);
    private readonly SingleFlight<bool> _deliveries = new();

    // Pulls waiting for their transfer: the quantity taken in and reserved for the pull, by transfer id.
    private readonly Dictionary<string, long> _pullReservations = new(StringComparer.Ordinal);

    // Since the sale began: serials taken in from shards (own gifts taken back included), and serials of this shard's
    // gifts that stopped being in transit. Each changes in the same turn as the count it moves tickets in or out of,
    // which is what lets ShardCounts.Unsold correct reports taken at different moments.
    private long _takenInTotal;
    private long _settledTotal;

    // Serials taken in from operators' grants, ever: what the dispatchers and the catalog's sales read hold against
    // the grants the catalog saw taken in, to tell a report from before a take-in (a replaced activation that does not
    // know so yet). It only grows, and it changes in the same turn as the capacity the grant adds to.
    private long _grantedInTotal;
    private IGrainTimer? _deliveryTimer;
    private bool _everLoaded;

    // How many walks over the other shards, giving this shard's tickets away, are running (a drain, or handing on what
    // a drained shard took back or found). A gift refused during a walk comes back and the walk goes on to the next
    // shard; only a gift that bounces back outside a walk starts one.
    private int _walking;

    // Tickets came back to this drained shard while a walk ran (a take-back, a gathering that ended): the walk may have
    // passed its last receiver already, so another walk follows it.
    private bool _handOnAfterWalk;

    // A load found tickets on this drained shard while a walk ran. The walk goes on with them, and what it leaves goes on
    // in a walk the delivery timer starts once no walk runs: not at once, since a walk whose commits keep failing reloads
    // the shard on every step, and would otherwise walk again without pause.
    private bool _handOnDue;

    /// <inheritdoc />
    public async Task<long> GiveTickets(string transferId, string receiverKey, long maxQuantity)
    {
        if (receiverKey == _address.Key || maxQuantity <= 0 || !await EnsurePlacedAsync() || !await EnsureLoadedAsync()) return 0;
        var quantity = Math.Min(maxQuantity, Remaining);
        return quantity <= 0 ? 0 : await GiveAsync(transferId, receiverKey, quantity);
    }

    /// <summary>
    /// Gives <paramref name="quantity"/> unreserved tickets (the caller checked that they are): reserves them before
    /// anything is awaited, so no sale of this turn or a later one can take them, then records and delivers the gift.
    /// Returns how many the receiver holds.
    /// </summary>
    private async Task<long> GiveAsync(string transferId, string receiverKey, long quantity) =>
        await RecordGiftAsync(transferId, receiverKey, quantity) is { } outgoing && await DeliverAsync(outgoing) ? outgoing.Transfer.Quantity : 0;

    /// <summary>
    /// The first half of <see cref="GiveAsync"/>: reserves the tickets before anything is awaited and records the gift.
    /// Null when nothing was recorded (the commit failed or was refused, or found nothing left to cut), and the tickets
    /// are still this shard's, or, after a commit whose outcome is unknown, whatever the reload that follows finds.
    /// </summary>
    private async Task<OutgoingTransfer?> RecordGiftAsync(string transferId, string receiverKey, long quantity)
    {
        _pendingQuantity += quantity;
        var give = PendingChange.Give(transferId, receiverKey, quantity);
        return await Enqueue(give) ? give.Outgoing : null;
    }

    /// <inheritdoc />
    public async Task<TransferOutcome> AcceptTransfer(TicketTransfer transfer)
    {
        // Not knowing its placement is not being drained. Every transfer names a shard the event has, so "no
        // placement" is a catalog that cannot say yet (a duplicate activation of it that started before the event was
        // stored, during a membership change), and it passes. Refused is final: the catalog would move a grant on to
        // another shard, or withdraw it, and a redelivery after a lost write could then place its serials twice.
        if (!await EnsurePlacedAsync()) return TransferOutcome.Unavailable;
        if (!await EnsureLoadedAsync()) return TransferOutcome.Unavailable;
        var id = transfer.TransferId;
        if (_takenIn.Contains(id)) return TransferOutcome.Accepted;
        if (_takeIns.TryGetRunning(id, out var running)) return await running;
        if (_retired && transfer.Donor != _address.Key) return TransferOutcome.Refused;
        return await _takeIns.RunAsync(id, () => TakeInAsync(transfer));
    }

    private async Task<TransferOutcome> TakeInAsync(TicketTransfer transfer)
    {
        var change = PendingChange.TakeIn(transfer);
        if (!await Enqueue(change)) return TransferOutcome.Unavailable;
        return !change.Skipped || _takenIn.Contains(transfer.TransferId) ? TransferOutcome.Accepted : TransferOutcome.Refused;
    }

    /// <inheritdoc />
    public Task<DrainResult> Drain()
    {
        var stopAskingAt = clock.GetUtcNow() + DrainWalkBudget;
        // A walk from the start, so that a load below leaves what it finds to this walk rather than starting another.
        // A walk already running in the background (handing on tickets that came back) may go on beside this one: both
        // give only unreserved tickets, so nothing moves twice, but this answer counts only its own gifts, and "left"
        // includes tickets held for the other walk's gift; draining again reports where things stand.
        return WalkAsync(async () =>
        {
            if (!await EnsurePlacedAsync() || !await EnsureLoadedAsync()) return new DrainResult(false, 0, 0);
            // Retire first: from that commit on no transfer comes in, so what is given away below cannot be refilled.
            if (!_retired && !await Enqueue(PendingChange.Retire())) return new DrainResult(false, 0, 0);
            var moved = await GiveAwayAsync(stopAskingAt);
            // No answer from memory when it may be wrong. A newer activation claimed the shard during the walk: this one's
            // counts are stale; the retire is durable and the newer activation hands on what it finds. Or a commit of the
            // walk's (a gift) or of a sale beside it failed: with its outcome unknown, memory is unsure (a gift that landed
            // would still be counted here as left, not in transit), so the database is read again; after a definite
            // failure memory was right, but the database just failed, and the reload waits out its back-off. Either way
            // the operator is told to drain again, which answers from the database.
            if (!await EnsureLoadedAsync() || _fenced) return new DrainResult(false, moved, 0);
            // Left counts reserved tickets too (sales still committing, a gathering waiting on its collector, a hold
            // waiting for its forwarded order): they are on this shard until their commit, question or hold ends, and
            // "0 left" tells the operator the shard is empty.
            return new DrainResult(true, moved, Math.Max(0, _inventory.Capacity - _committedSold), _undelivered.Values.Sum(gift => gift.Transfer.Quantity));
        });
    }

    /// <summary>
    /// Runs <paramref name="walk"/> as one of this activation's walks (<see cref="_walking"/>); when the last walk
    /// ends, a hand-on asked for meanwhile follows it.
    /// </summary>
    private async Task<T> WalkAsync<T>(Func<Task<T>> walk)
    {
        _walking++;
        try
        {
            return await walk();
        }
        finally
        {
            if (--_walking == 0 && _handOnAfterWalk)
            {
                _handOnAfterWalk = false;
                HandOnLater();
            }
        }
    }

    /// <summary>
    /// A load found unsold tickets on this shard: if it is drained, they go on to another shard (see
    /// <see cref="_handOnDue"/> for a load during a walk).
    /// </summary>
    private void HandOnFound()
    {
        if (_walking == 0)
        {
            HandOnLater();
        }
        else if (_retired && Remaining > 0)
        {
            _handOnDue = true;
            EnsureDeliveryTimer();
        }
    }

    /// <summary>
    /// Offers this (retired) shard's unsold tickets to each other shard of its type in turn, skipping those that cannot
    /// take a gift in now; returns how many the receivers hold.
    /// </summary>
    /// <remarks>
    /// A receiver is asked first whether it answers and has read its row: a gift recorded for one that cannot take it
    /// in stays in transit, sellable by nobody, until it can. A receiver that fails between the question and the gift
    /// still holds the gift up that way; the drain's answer then reports it as in transit, and the gift is delivered
    /// (or, if that shard is drained meanwhile, comes back and is handed on) by the delivery timer.
    /// </remarks>
    /// <param name="stopAskingAt">
    /// For an operator's drain: no new receiver is asked after it, so the answer comes back in time; what is left is
    /// reported, and draining again goes on. Null when nobody waits (tickets handed on in the background). Either walk
    /// also stops when this silo begins to stop.
    /// </param>
    private async Task<long> GiveAwayAsync(DateTimeOffset? stopAskingAt = null)
    {
        var definition = await GrainFactory.GetEventGrain(_address.EventId).GetDefinition();
        // This shard exists, so its event does: a catalog that does not know it is a twin that read its storage before
        // the event was stored (membership changing). Walking no shard would tell the operator "moved 0", as if none
        // could take a gift; failing says "try again", which is safe (draining twice moves nothing twice).
        var shards = definition?.FindTicketType(_address.TicketTypeId)?.Shards
            ?? throw new CatalogUnavailableException($"The catalog did not know ticket type '{_address.TicketTypeId}' of event '{_address.EventId}'; nothing was handed on.");
        long moved = 0;
        for (var step = 1; step < shards && Remaining > 0; step++)
        {
            // A fenced activation's count is stale: its gifts are refused at once, and asking every other shard whether it
            // can take one in (up to DrainQuestionTimeout each) would only keep a walk of a dead activation going. On a
            // stopping silo the walk would hold the stop, and every call to this shard, until it ended (SiloDeparture):
            // what is left stays sellable here, and the shard's next activation, on another silo, hands it on.
            if (_fenced || departure.Token.IsCancellationRequested || clock.GetUtcNow() >= stopAskingAt) break;
            var receiver = new ShardAddress(_address.EventId, _address.TicketTypeId, (_address.Index + step) % shards);
            if (!await CanTakeInNowAsync(receiver, DrainQuestionTimeout) || Remaining <= 0) continue;
            metrics.TransferAsked(TransferReason.Drain);
            moved += await GiveTickets(Guid.NewGuid().ToString("N"), receiver.Key, Remaining);
        }
        return moved;
    }

    /// <summary>
    /// Tickets came back to this shard: if it is drained, they go on to another shard, now, or after the walk that is
    /// running (which may be past its last receiver). Each walk after a walk needs tickets that came back during it,
    /// that is a gift refused by a receiver that was open when asked, so this ends.
    /// </summary>
    private void HandOnLater()
    {
        if (!_retired || Remaining <= 0) return;
        if (_walking > 0) _handOnAfterWalk = true;
        else _ = HandOnAsync();
    }

    /// <summary>
    /// Hands a drained shard's unsold tickets on with nobody waiting. Should that fail (the catalog's silo leaving, say),
    /// the tickets stay here, where they are still sold, and the next drain or load of this shard hands them on.
    /// </summary>
    private async Task HandOnAsync()
    {
        try
        {
            await WalkAsync(() => GiveAwayAsync());
        }
        catch (Exception exception)
        {
            LogHandOnFailed(_logger, exception, _address.Key);
        }
    }

    /// <summary>
    /// Whether <paramref name="receiver"/> answers within <paramref name="wait"/>, has read its row and is not drained,
    /// so that it can take a gift in now.
    /// </summary>
    private async Task<bool> CanTakeInNowAsync(ShardAddress receiver, TimeSpan wait)
    {
        // A departing silo's shards give nothing away (SiloDeparture): the question would be wasted.
        if (departure.Token.IsCancellationRequested) return false;
        try
        {
            var report = await Holder(receiver).GetSales().WaitAsync(wait, departure.Token);
            // A drained receiver would refuse: asking it costs a gift and its take-back, two commits, for nothing.
            return report.Known && report.Status != ShardStatus.Unavailable && !report.Retired;
        }
        catch (Exception)
        {
            return false;
        }
    }

    /// <summary>
    /// Sells <paramref name="request"/>, first pulling serials from <paramref name="donors"/> when this shard holds
    /// fewer than the order needs.
    /// </summary>
    private async Task<PurchaseResult> SellAsync(PurchaseRequest request, string orderId, IdempotencyRecord? key, ImmutableArray<int> donors)
    {
        if (request.Quantity <= Remaining || donors.IsDefaultOrEmpty) return await TrySell(request, orderId, key);
        var reserved = Math.Clamp(Remaining, 0, request.Quantity);
        _pendingQuantity += reserved;
        try
        {
            foreach (var index in donors)
            {
                var needed = request.Quantity - reserved;
                if (needed <= 0) break;
                if (index == _address.Index) continue;
                var transferId = Guid.NewGuid().ToString("N");
                _pullReservations[transferId] = 0;
                metrics.TransferAsked(TransferReason.Pull);
                try
                {
                    await Holder(new ShardAddress(_address.EventId, _address.TicketTypeId, index)).GiveTickets(transferId, _address.Key, needed)
                        .WaitAsync(CrossShardTimeout);
                }
                catch (Exception exception)
                {
                    // The gift may still arrive later; it then simply adds to this shard's inventory.
                    LogPullFailed(_logger, exception, _address.Key, index);
                }
                finally
                {
                    if (_pullReservations.Remove(transferId, out var got)) reserved += got;
                }
            }
        }
        finally
        {
            // Released and re-taken by TrySell in the same turn: no other call can slip in between.
            _pendingQuantity -= reserved;
        }
        var result = await TrySell(request, orderId, key);
        // A refused pull leaves the tickets it held here free again. A drain that ran while they were held could not
        // give them away and reported them as left, and nothing else walks this shard again: so they go on now. Not
        // after a failed commit: a walk now would only meet the same failing database, and the shard reloads before
        // its next sale or gift, where the load hands its unsold tickets on (HandOnFound); a drain again also does.
        if (result.Status is PurchaseStatus.SoldOut or PurchaseStatus.Replayed or PurchaseStatus.KeyConflict) HandOnLater();
        return result;
    }

    /// <summary>Delivers a recorded gift; true when the receiver holds it. One delivery per gift at a time.</summary>
    private Task<bool> DeliverAsync(OutgoingTransfer outgoing) =>
        _deliveries.RunAsync(outgoing.Transfer.TransferId, () => DeliverOnceAsync(outgoing));

    private async Task<bool> DeliverOnceAsync(OutgoingTransfer outgoing)
    {
        var transfer = outgoing.Transfer;
        TransferOutcome outcome;
        try
        {
            outcome = await Holder(ShardAddress.Parse(outgoing.ReceiverKey)).AcceptTransfer(transfer).WaitAsync(CrossShardTimeout);
        }
        catch (Exception exception)
        {
            LogDeliveryFailed(_logger, exception, _address.Key, transfer.TransferId);
            outcome = TransferOutcome.Unavailable;
        }
        switch (outcome)
        {
            case TransferOutcome.Accepted:
                // The receiver counts them now, so they stop counting as in transit here at once. If the mark below
                // is lost, the next activation finds the gift undelivered and the receiver answers "accepted" again.
                SettleGift(transfer.TransferId);
                await Enqueue(PendingChange.Delivered(transfer.TransferId));
                return true;
            case TransferOutcome.Refused:
                // Undo: take the serials back and close the gift, in one commit. Split over two, a commit of the mark
                // alone after a lost take-back would leave the serials on no shard and the gift settled: stranded for
                // good. Both are queued before the committer hears of either, so that does not rest on BatchWorker
                // starting its cycle after this turn rather than inside the first Notify.
                await EnqueueTogether(PendingChange.TakeIn(transfer with { Donor = _address.Key }), PendingChange.Delivered(transfer.TransferId));
                // A drained shard sells on, but takes nothing in: tickets it took back would stay on it, where the
                // operator was told none were left. So they go on to another shard.
                HandOnLater();
                return false;
            default:
                EnsureDeliveryTimer();
                return false;
        }
    }

    private void EnsureDeliveryTimer() =>
        _deliveryTimer ??= this.RegisterGrainTimer(RetryDeliveriesAsync, new GrainTimerCreationOptions(DeliveryRetry, DeliveryRetry)
        {
            // Keeps the donor alive while a gift is undelivered, and lets sales run while a delivery waits.
            Interleave = true,
            KeepAlive = true,
        });

    private async Task RetryDeliveriesAsync(CancellationToken cancellationToken)
    {
        if (!await EnsureLoadedAsync()) return;
        foreach (var outgoing in _undelivered.Values.ToList()) await DeliverAsync(outgoing);
        if (_handOnDue && _walking == 0)
        {
            _handOnDue = false;
            HandOnLater();
        }
        // Not after a delivery whose mark failed: memory settled that gift, but the database still has it in transit,
        // and only the next tick's reload finds it again. Nor while a hand-on waits for a walk to end.
        if (_loaded && _undelivered.Count == 0 && !_handOnDue)
        {
            _deliveryTimer?.Dispose();
            _deliveryTimer = null;
        }
    }

    /// <summary>Takes the escrow state a claim found in the database; undelivered gifts are delivered again.</summary>
    private void LoadTransfers(ShardClaim claim)
    {
        _everLoaded = true;
        _undelivered.Clear();
        foreach (var outgoing in claim.Undelivered) _undelivered[outgoing.Transfer.TransferId] = outgoing;
        _takenIn.UnionWith(claim.TakenIn);
        _takenInTotal = claim.TakenInFromShards;
        _grantedInTotal = claim.GrantedIn;
        _settledTotal = claim.Settled;
        _refused.UnionWith(claim.Refused);
        _durableRefusals.UnionWith(claim.Refused);
        if (_undelivered.Count > 0) EnsureDeliveryTimer();
    }

    /// <summary>Brings memory up to a commit that just succeeded, then releases the callers waiting on it.</summary>
    private void ApplyCommittedChanges(List<PendingChange> changes)
    {
        foreach (var change in changes)
        {
            switch (change.Kind)
            {
                case ChangeKind.TakeIn when change.Skipped:
                    break;
                case ChangeKind.TakeIn:
                    _takenIn.Add(change.Id!);
                    if (change.Transfer!.Donor != TicketTransfer.CapacityDonor) _takenInTotal += change.Transfer.Quantity;
                    else _grantedInTotal += change.Transfer.Quantity;
                    if (_pullReservations.ContainsKey(change.Id!))
                    {
                        _pullReservations[change.Id!] = change.Transfer!.Quantity;
                        _pendingQuantity += change.Transfer.Quantity;
                    }
                    break;
                case ChangeKind.Give when change.Outgoing is { } outgoing:
                    _undelivered[change.Id!] = outgoing;
                    break;
                case ChangeKind.Delivered:
                    SettleGift(change.Id!);
                    break;
                case ChangeKind.Refusal:
                    _refused.Add(change.Id!);
                    _durableRefusals.Add(change.Id!);
                    break;
            }
        }
        foreach (var change in changes) change.Completion.TrySetResult(change.Kind != ChangeKind.Give || change.Transfer is not null);
    }

    /// <summary>A gift stops being in transit: its receiver holds it, or this shard took it back.</summary>
    private void SettleGift(string transferId)
    {
        if (_undelivered.Remove(transferId, out var gift)) _settledTotal += gift.Transfer.Quantity;
    }

    private IInventoryShardGrain Holder(ShardAddress address) => shards.For(address);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Shard {Shard}: handing a drained shard's tickets on failed; they stay here, sellable, until it is drained again or reloads")]
    private static partial void LogHandOnFailed(ILogger logger, Exception exception, string shard);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Shard {Shard}: pulling tickets from shard {Donor} failed")]
    private static partial void LogPullFailed(ILogger logger, Exception exception, string shard, int donor);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Shard {Shard}: delivering transfer {TransferId} failed; it will be retried")]
    private static partial void LogDeliveryFailed(ILogger logger, Exception exception, string shard, string transferId);
}
