using Microsoft.Extensions.Logging;
using System.Collections.Immutable;
using OrleansTickets.Events;
using OrleansTickets.Inventory;

namespace OrleansTickets.Catalog;

/// <summary>
/// Capacity added by operators: each grant stored first (a retry with its Idempotency-Key finds it rather than adding
/// again), then offered to a shard of the type, and offered again by a timer until a shard takes it in, or withdrawn
/// once every shard of the type is drained.
/// </summary>
public sealed partial class TicketEventGrain
{
    // The catalog is not reentrant: a shard that is slow to answer must not hold every other catalog call for the
    // 30 s call timeout. An unanswered delivery is retried by the grant timer.
    private static readonly TimeSpan DeliveryTimeout = TimeSpan.FromSeconds(5);

    // How long a redelivery tick starts new offers for (see RedeliverGrantsAsync). Less than DeliveryTimeout, so
    // that one unanswered offer ends the tick: the timeout's timer runs on a coarse clock and can fire a little early.
    private static readonly TimeSpan RedeliveryBudget = TimeSpan.FromSeconds(2);

    private IGrainTimer? _grantTimer;

    // Where the next redelivery tick starts among the pending grants (see RedeliverGrantsAsync).
    private int _nextRedelivery;

    /// <inheritdoc />
    public async Task<CapacityAddition> AddCapacity(string ticketTypeId, long quantity, int? shardIndex, string? idempotencyKey)
    {
        var stored = await StoredAsync();
        var type = stored?.Definition?.FindTicketType(ticketTypeId);
        if (stored is null || type is null || quantity <= 0) return new CapacityAddition(CapacityStatus.NotFound);
        if (shardIndex is { } chosen && (chosen < 0 || chosen >= type.Shards)) return new CapacityAddition(CapacityStatus.NotFound);
        // Serials are longs: an addition past the largest would wrap round onto serials already issued. The HTTP API
        // allows far less per addition; this guards direct callers, before anything is stored.
        if (quantity > long.MaxValue - type.Capacity - stored.AddedCapacity.GetValueOrDefault(type.Id))
        {
            throw new ArgumentOutOfRangeException(nameof(quantity), quantity, $"Ticket type '{type.Id}' cannot take {quantity} more serials; nothing was added.");
        }
        // An operator who got no clear answer (a timeout, a 503) retries; with the key, the retry finds the grant the
        // first attempt stored, whether or not that attempt's caller ever heard of it, and nothing is added twice.
        var now = clock.GetUtcNow();
        if (idempotencyKey is not null && stored.RememberedGrant(idempotencyKey, now) is { } earlier)
        {
            return earlier.TicketTypeId == type.Id && earlier.Quantity == quantity && earlier.RequestedShard == shardIndex
                ? await RepeatAsync(earlier)
                : new CapacityAddition(CapacityStatus.KeyConflict);
        }

        // A 409 changes nothing: once a grant found every shard of the type drained (and drains are final), an
        // addition is refused here, before it would store a grant, use serials and its key, and withdraw it again.
        if (stored.DrainedTypes.Contains(type.Id)) return new CapacityAddition(CapacityStatus.Refused);

        // Invariant: serials are never handed out twice. New ones start after everything granted so far, and the
        // grant is stored (with the new high-water mark) before any shard hears of it. This grain is not reentrant,
        // so two additions on one activation never read the same mark. Two activations during a membership change can:
        // both build the same transfer id and first serial, and what keeps them apart is that storage takes only one
        // of the two writes (each names the version it read) and that no shard hears of a grant before its write.
        // Offering a grant before it is stored would break both.
        var added = stored.AddedCapacity.GetValueOrDefault(type.Id);
        var grant = new CapacityGrant
        {
            // Unique across events: transfer ids share one primary key in every shard database.
            TransferId = $"capacity/{stored.Definition!.Id}/{stored.GrantsIssued + 1}",
            TicketTypeId = type.Id,
            ShardIndex = shardIndex ?? (int)(stored.GrantsIssued % type.Shards),
            FirstSerial = type.Capacity + added + 1,
            Quantity = quantity,
        };
        stored.AddedCapacity[type.Id] = added + quantity;
        stored.PendingGrants.Add(grant);
        stored.GrantsIssued++;
        // Forgotten in this write, which is made anyway; not put back if it fails, since nothing may answer from them.
        stored.ForgetExpiredKeys(now);
        if (idempotencyKey is not null)
        {
            stored.GrantsByKey[idempotencyKey] = new KeyedGrant
            {
                TicketTypeId = type.Id, Quantity = quantity, RequestedShard = shardIndex,
                TransferId = grant.TransferId, ShardIndex = grant.ShardIndex, FirstSerial = grant.FirstSerial, RememberedFrom = now,
            };
        }
        try
        {
            await state.WriteStateAsync();
        }
        catch (Exception exception)
        {
            // Not known to be stored: no shard may hear of it. Undo, and let the next activation read what storage
            // really holds (the write may have landed after all; a retry with the same key then finds it).
            stored.AddedCapacity[type.Id] = added;
            stored.PendingGrants.Remove(grant);
            stored.GrantsIssued--;
            if (idempotencyKey is not null) stored.GrantsByKey.Remove(idempotencyKey);
            Leave();
            throw new CapacityOutcomeUnknownException($"The grant {grant.TransferId} may or may not have been stored.", exception);
        }

        var status = await DeliverAsync(grant);
        return new CapacityAddition(status, grant.TransferId, grant.ShardIndex, grant.FirstSerial, grant.Quantity);
    }

    /// <summary>The outcome of a keyed grant asked for again: delivered by now, or offered once more.</summary>
    private async Task<CapacityAddition> RepeatAsync(KeyedGrant earlier)
    {
        var pending = _stored!.PendingGrants.FirstOrDefault(g => g.TransferId == earlier.TransferId);
        var status = earlier.Withdrawn ? CapacityStatus.Refused
            : pending is null ? CapacityStatus.Added
            : await DeliverAsync(pending);
        return new CapacityAddition(status, earlier.TransferId, pending?.ShardIndex ?? earlier.ShardIndex, earlier.FirstSerial, earlier.Quantity,
            Repeated: true);
    }

    /// <summary>
    /// Offers a grant to its shard, then to the following ones if they refuse: Added once one holds it, Pending while
    /// one could not answer (retried by the timer), Refused when every shard refused it (withdrawn).
    /// </summary>
    /// <param name="grant">The grant to offer.</param>
    /// <param name="silent">
    /// Shards that did not answer earlier in the same redelivery tick: not asked again in it (see
    /// <see cref="RedeliverGrantsAsync"/>); a shard that does not answer now is added.
    /// </param>
    private async Task<CapacityStatus> DeliverAsync(CapacityGrant grant, HashSet<(string TicketTypeId, int Index)>? silent = null)
    {
        var stored = _stored!;
        var type = stored.Definition!.FindTicketType(grant.TicketTypeId)!;
        var transfer = new TicketTransfer(grant.TransferId, TicketTransfer.CapacityDonor, [new SerialSegment(grant.FirstSerial, grant.Quantity)]);
        for (var step = 0; step < type.Shards; step++)
        {
            var index = (grant.ShardIndex + step) % type.Shards;
            TransferOutcome outcome;
            if (silent?.Contains((type.Id, index)) == true)
            {
                outcome = TransferOutcome.Unavailable;
            }
            else
            {
                try
                {
                    outcome = await GrainFactory.GetGrain<IInventoryShardGrain>(new ShardAddress(stored.Definition.Id, type.Id, index).Key)
                        .AcceptTransfer(transfer).WaitAsync(DeliveryTimeout);
                }
                catch (Exception)
                {
                    outcome = TransferOutcome.Unavailable;
                }
            }
            if (outcome == TransferOutcome.Refused) continue;
            if (outcome == TransferOutcome.Unavailable)
            {
                silent?.Add((type.Id, index));
                EnsureGrantTimer();
                return CapacityStatus.Pending;
            }
            // Taken in: the tickets are on sale, whatever happens to this write. If it is lost (or fails), the next
            // activation delivers the grant again and the shard ignores the repeat; the caller must still hear
            // "added", or it would retry and add the tickets a second time.
            grant.ShardIndex = index;
            // A keyed retry answers from the key's record once the grant is no longer pending: it must name this shard,
            // not the one first asked, which refused it, and the key's day counts from now (KeyedGrant.RememberedFrom).
            if (KeyedGrantOf(grant.TransferId) is { } keyed) (keyed.ShardIndex, keyed.RememberedFrom) = (index, clock.GetUtcNow());
            stored.PendingGrants.Remove(grant);
            // Both in one write; in memory even if it fails: the shard holds the grant whatever storage says, and the
            // next activation, finding it pending, delivers and records it once more.
            stored.RecordDelivery(grant, type.Shards);
            try
            {
                await state.WriteStateAsync();
            }
            catch (Exception exception)
            {
                LogGrantCleanupFailed(_logger, exception, grant.TransferId);
                Leave();
            }
            return CapacityStatus.Added;
        }
        return await WithdrawAsync(grant);
    }

    /// <summary>
    /// Every shard refused the grant, so every shard is drained: none holds it (a shard that took a transfer in
    /// answers "accepted" even once drained) and none ever will. Kept pending, it would be offered every second
    /// forever and counted as unsold in /sales. Its serials stay used, so no later grant reuses them.
    /// </summary>
    private async Task<CapacityStatus> WithdrawAsync(CapacityGrant grant)
    {
        var stored = _stored!;
        stored.PendingGrants.Remove(grant);
        var keyed = KeyedGrantOf(grant.TransferId);
        if (keyed is not null) (keyed.Withdrawn, keyed.RememberedFrom) = (true, clock.GetUtcNow());
        var newlyDrained = stored.DrainedTypes.Add(grant.TicketTypeId);
        try
        {
            await state.WriteStateAsync();
        }
        catch (Exception exception)
        {
            // Not known to be stored: keep offering it, as before; the next attempt withdraws it again. The grant is
            // stored, pending, so the caller must not hear that nothing was added.
            stored.PendingGrants.Add(grant);
            if (keyed is not null) keyed.Withdrawn = false;
            if (newlyDrained) stored.DrainedTypes.Remove(grant.TicketTypeId);
            Leave();
            throw new CapacityOutcomeUnknownException($"The grant {grant.TransferId} is stored, but its withdrawal may not be.", exception);
        }
        // An operator told "pending" earlier hears of this only by asking again, so the log says it for them (and, when
        // the caller is refused at once instead, the log says the same of that grant).
        LogGrantWithdrawn(_logger, grant.TransferId, grant.Quantity, grant.TicketTypeId, grant.FirstSerial, grant.FirstSerial + grant.Quantity - 1);
        return CapacityStatus.Refused;
    }

    /// <summary>The record of the operator's key that issued <paramref name="transferId"/>, if it was issued under one.</summary>
    private KeyedGrant? KeyedGrantOf(string transferId) => _stored!.GrantsByKey.Values.FirstOrDefault(k => k.TransferId == transferId);

    private void EnsureGrantTimer() =>
        _grantTimer ??= this.RegisterGrainTimer(RedeliverGrantsAsync, new GrainTimerCreationOptions(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1))
        {
            KeepAlive = true,
        });

    /// <remarks>
    /// Ticks do not interleave with the catalog's other calls (only its reads of the definition, placements and pending
    /// capacity do), so each offer a shard leaves unanswered holds every operator
    /// for <see cref="DeliveryTimeout"/>. A shard that did not answer is therefore asked once per tick, however many
    /// grants wait on it: before, five grants pending on one frozen shard held the catalog 25 s in every tick.
    /// </remarks>
    private async Task RedeliverGrantsAsync(CancellationToken cancellationToken)
    {
        var silent = new HashSet<(string TicketTypeId, int Index)>();
        var pending = _stored!.PendingGrants.ToList();
        var started = clock.GetTimestamp();
        // Each tick has a budget: grants pending on k different frozen shards held the catalog k × 5 s in every tick.
        // No offer starts once it is spent, so a tick ends within the budget plus one delivery timeout. The next tick
        // starts with the grant after the last one offered, so a grant whose shard came back is not starved behind one
        // whose shard did not.
        var first = _nextRedelivery % Math.Max(1, pending.Count);
        for (var offered = 0; offered < pending.Count; offered++)
        {
            if (_leaving || cancellationToken.IsCancellationRequested || clock.GetElapsedTime(started) >= RedeliveryBudget) break;
            var position = (first + offered) % pending.Count;
            _nextRedelivery = position + 1;
            var grant = pending[position];
            if (!_stored.PendingGrants.Contains(grant)) continue;
            await DeliverAsync(grant, silent);
        }
        if (_stored.PendingGrants.Count == 0)
        {
            _grantTimer?.Dispose();
            _grantTimer = null;
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Grant {TransferId} of {Quantity} tickets of type {TicketTypeId} (serials {FirstSerial} to {LastSerial}) was withdrawn: every shard of the type is drained, so none can take them in; the serials are never sold or granted again")]
    private static partial void LogGrantWithdrawn(ILogger logger, string transferId, long quantity, string ticketTypeId, long firstSerial, long lastSerial);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Grant {TransferId} was taken in, but removing it from the pending grants failed; the next activation redelivers it and the shard ignores the repeat")]
    private static partial void LogGrantCleanupFailed(ILogger logger, Exception exception, string transferId);
}
