using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Orleans.Placement;
using Orleans.Storage;
using System.Collections.Immutable;
using OrleansTickets.Diagnostics;
using OrleansTickets.Dispatch;
using OrleansTickets.Events;
using OrleansTickets.Inventory;
using OrleansTickets.Sales;

namespace OrleansTickets.Catalog;

/// <summary>
/// The catalog entry of one event. Not on the purchase path: dispatchers cache the definition and shards
/// ask for their placement once per activation.
/// </summary>
/// <remarks>
/// Invariant: an event id is created at most once. The grain is non-reentrant, so concurrent creates run one
/// after the other and the second sees <c>RecordExists</c>; a duplicate activation during a membership change is
/// caught by the storage's ETag check, which refuses the second first-write.
/// <para>
/// Immovable for the activation rebalancer. A grain being moved holds its messages until the move is done, and the
/// moves to one silo go in batches, each waiting until its activations are up. Under load a shard of an earlier batch
/// asked this grain for its placement while activating, and the two waited on each other until the 30 s call timeout
/// (SiloFailureTests). Shards now ask on their first call instead, but a move of this grain would still wait on a
/// running GetSales, which waits on shards that may be asking it. The catalog is off the purchase path, so where it
/// lives gains nothing.
/// </para>
/// </remarks>
[Immovable(ImmovableKind.Rebalancer)]
public sealed partial class TicketEventGrain(
    [PersistentState(TicketEventGrain.StateName, StorageNames.Catalog)] IPersistentState<TicketEventState> state,
    TimeProvider clock,
    ILogger<TicketEventGrain> logger) : Grain, ITicketEventGrain
{
    private const string StateName = "event";

    // Logged on the way to answering callers: a throwing provider must not turn their answer into a fault (NonThrowingLogger).
    private readonly ILogger _logger = new NonThrowingLogger(logger);

    private static readonly TimeSpan RecentSalesAge = TimeSpan.FromSeconds(1);
    private EventSales? _recentSales;
    private DateTimeOffset _recentSalesDoneAt;
    private string? _recentFailure;
    private DateTimeOffset _recentFailureAt;

    // What readers may see: an event only once its first write is stored. GetDefinition and GetPlacement interleave
    // with Create, so they must not observe state.State while that write is still in flight (or about to fail).
    // Later changes (grants) are made to this object before their write, and undone if it fails, so a reader that
    // interleaves may count a grant for a moment that is then undone: unsold tickets over-counted briefly, which can
    // delay a sold-out verdict but sells nothing, since shards sell only what they took in.
    private TicketEventState? _stored;

    // The catalog is not reentrant: a shard that is slow to answer must not hold every other catalog call for the
    // 30 s call timeout. An unanswered delivery is retried by the grant timer.
    private static readonly TimeSpan DeliveryTimeout = TimeSpan.FromSeconds(5);

    // How long a redelivery tick starts new offers for (see RedeliverGrantsAsync). Less than DeliveryTimeout, so
    // that one unanswered offer ends the tick: the timeout's timer runs on a coarse clock and can fire a little early.
    private static readonly TimeSpan RedeliveryBudget = TimeSpan.FromSeconds(2);

    // A shard whose silo froze answers only at the 30 s call timeout; a page read gives up sooner (503, try again).
    private static readonly TimeSpan SalesQuestionTimeout = TimeSpan.FromSeconds(5);
    private IGrainTimer? _grantTimer;

    // Where the next redelivery tick starts among the pending grants (see RedeliverGrantsAsync).
    private int _nextRedelivery;

    // Set once this activation asked to be deactivated: it offers no more grants (see Leave).
    private bool _leaving;

    // A duplicate activation during a membership change may have read storage before another activation stored the
    // event. Left alone it would answer "no such event" (and "no such order" for orders bought from its twin) until it
    // is deactivated, so while it knows of no event it reads storage again, at most this often: questions about ids
    // that never existed must not each cost a database read.
    private static readonly TimeSpan UnknownEventRereadInterval = TimeSpan.FromSeconds(1);
    private DateTimeOffset _readAt;
    private Task? _reread;

    // An activation for an id that names no event (a made-up URL, a typo, a scan) would stay for Orleans' 15 idle
    // minutes, and a crowd of made-up ids would hold one activation each. So while it knows no event it leaves once
    // nobody has asked it anything for this long; the next question activates the grain afresh, reading storage.
    private static readonly TimeSpan UnknownEventIdleLimit = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan UnknownEventIdleCheck = TimeSpan.FromSeconds(5);
    private DateTimeOffset _askedAt;
    private IGrainTimer? _idleTimer;

    // Whether this activation's last read of storage failed. Until a read succeeds it knows nothing either way, and
    // says so (CatalogUnavailableException, a 503) instead of "no such event", which a client takes as final.
    private bool _lastReadFailed;
    private bool _creating;

    /// <inheritdoc />
    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        _readAt = _askedAt = clock.GetUtcNow();
        if (state.RecordExists)
        {
            Adopt(state.State);
        }
        else
        {
            // Not a keep-alive: the ticks alone must not hold the activation.
            _idleTimer = this.RegisterGrainTimer(LeaveIfIdleAndUnknown, new GrainTimerCreationOptions(UnknownEventIdleCheck, UnknownEventIdleCheck));
        }
        return Task.CompletedTask;
    }

    /// <summary>Deactivates an activation that knows no event once nobody has asked it anything for a while.</summary>
    /// <remarks>
    /// A tick is a turn of its own that never awaits, so nothing runs beside it; a create (not interleaved) never runs
    /// across one. The reads (<c>[AlwaysInterleave]</c>) may have left a read of storage in flight, and the tick leaves
    /// the activation alone until it ends. A call that arrives while the activation deactivates is handed by Orleans
    /// to the next activation, which reads storage afresh: an event created in between is found. The wall clock is
    /// used, as for the rereads: a step back only keeps the activation longer.
    /// </remarks>
    private Task LeaveIfIdleAndUnknown(CancellationToken cancellationToken)
    {
        if (_stored is not null)
        {
            _idleTimer?.Dispose();
            _idleTimer = null;
        }
        else if (_reread is null && clock.GetUtcNow() - _askedAt >= UnknownEventIdleLimit)
        {
            this.DeactivateOnIdle();
        }
        return Task.CompletedTask;
    }

    /// <summary>Takes a stored event as this activation's, and redelivers its pending grants.</summary>
    private void Adopt(TicketEventState stored)
    {
        _stored = stored;
        var now = clock.GetUtcNow();
        foreach (var keyed in stored.GrantsByKey.Values)
        {
            if (keyed.RememberedFrom == default) keyed.RememberedFrom = now;
        }
        if (stored.PendingGrants.Count > 0) EnsureGrantTimer();
    }

    /// <summary>The stored event, read from storage again if this activation knows none and has not looked lately.</summary>
    /// <remarks>
    /// Interleaving readers share one read, and no read runs while <see cref="Create"/> writes: the read replaces
    /// <c>state.State</c> and its ETag, which the create's write is using.
    /// </remarks>
    private async ValueTask<TicketEventState?> StoredAsync()
    {
        if (_stored is not null) return _stored;
        _askedAt = clock.GetUtcNow();
        if (_creating) return null;
        if (_reread is null)
        {
            if (clock.GetUtcNow() - _readAt < UnknownEventRereadInterval) return _lastReadFailed ? throw Unreadable() : null;
            _reread = RereadAsync();
        }
        await EndOfAsync(_reread);
        return _stored is null && _lastReadFailed ? throw Unreadable() : _stored;
    }

    private CatalogUnavailableException Unreadable() =>
        new($"The catalog cannot read event '{this.GetPrimaryKeyString()}' from its storage now.");

    private async Task EndOfAsync(Task reread)
    {
        try
        {
            await reread;
        }
        finally
        {
            // Even if it threw: a failed task left here would fail every later create at its wait.
            if (ReferenceEquals(_reread, reread)) _reread = null;
        }
    }

    private async Task RereadAsync()
    {
        _readAt = clock.GetUtcNow();
        try
        {
            await state.ReadStateAsync();
        }
        catch (Exception exception)
        {
            // "Cannot tell" until a read succeeds; the next question after the interval tries again.
            _lastReadFailed = true;
            LogRereadFailed(_logger, exception);
            return;
        }
        _lastReadFailed = false;
        if (_stored is null && state.RecordExists) Adopt(state.State);
    }

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

    /// <summary>
    /// Deactivates once idle, and stops redelivering at once: a deactivating activation holds every incoming call, the
    /// shards' placement questions included, so a tick that went on offering grants to shards that must first ask it
    /// where they live would wait out each offer's timeout.
    /// </summary>
    private void Leave()
    {
        _leaving = true;
        this.DeactivateOnIdle();
    }

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

    /// <inheritdoc />
    public async Task<CreateEventOutcome> Create(EventDefinition definition)
    {
        // Transfer ids and shard addresses are made from the definition's id: stored under another event's key, its
        // shards would be that event's.
        var key = this.GetPrimaryKeyString();
        if (!string.Equals(EventGrainKeys.KeyOf(definition.Id), key, StringComparison.Ordinal))
        {
            throw new ArgumentException($"The definition of event '{definition.Id}' was sent to the catalog grain '{key}'; nothing was stored.", nameof(definition));
        }
        // A read that interleaving readers started must end first; none starts once _creating is set, which happens in
        // the same turn as the loop's last check.
        while (_reread is { } reread) await EndOfAsync(reread);
        if (state.RecordExists) return Existing(definition);
        _creating = true;
        try
        {
            return await CreateAsync(definition);
        }
        finally
        {
            _creating = false;
        }
    }

    private async Task<CreateEventOutcome> CreateAsync(EventDefinition definition)
    {
        var ordinals = await GrainFactory.GetGrain<IShardDatabaseAllocatorGrain>(0).Allocate(definition.TotalShards);
        state.State = new TicketEventState { Definition = definition, DatabaseOrdinals = ordinals, BlocksByDatabase = true };
        try
        {
            await state.WriteStateAsync();
        }
        catch (InconsistentStateException)
        {
            // Another activation (during a membership change) stored the event first: read what it stored. If that
            // read fails too, this activation, which would go on answering "no such event", makes way for one that
            // reads storage afresh.
            try
            {
                await state.ReadStateAsync();
            }
            catch
            {
                Leave();
                throw;
            }
            if (state.RecordExists) Adopt(state.State);
            return Existing(definition);
        }
        catch
        {
            // The row may or may not be stored. This activation would go on answering "no such event" either way, so
            // it makes way for one that reads what storage holds; a retry then finds the event if it exists.
            Leave();
            throw;
        }
        _stored = state.State;
        return CreateEventOutcome.Created;
    }

    private CreateEventOutcome Existing(EventDefinition asked) =>
        state.RecordExists && state.State.Definition is { } stored && stored.IsSameAs(asked) ? CreateEventOutcome.Repeated : CreateEventOutcome.AlreadyExists;

    /// <inheritdoc />
    public async Task<EventDefinition?> GetDefinition() => (await StoredAsync())?.Definition;

    /// <inheritdoc />
    public async Task<ImmutableArray<int>> GetShardDatabases() =>
        await StoredAsync() is { Definition: not null } stored ? [.. stored.DatabaseOrdinals] : ImmutableArray<int>.Empty;

    /// <inheritdoc />
    public async Task<ShardPlacement?> GetPlacement(string ticketTypeId, int index)
    {
        var stored = await StoredAsync();
        var definition = stored?.Definition;
        var type = definition?.FindTicketType(ticketTypeId);
        if (type is null || index < 0 || index >= type.Shards) return null;
        return new ShardPlacement(
            new ShardAddress(definition!.Id, type.Id, index), stored!.BlockOf(type, index),
            stored!.DatabaseOrdinals[definition.FirstFlatIndexOf(type.Id) + index],
            // Events stored before prices were canonical still sell in the form a replay reads back.
            Prices.Canonical(type.Price, type.Currency), type.Currency, type.MaxPerOrder);
    }

    /// <inheritdoc />
    public async Task<GrantedCapacity?> GetGrantedCapacity(string ticketTypeId) =>
        await StoredAsync() is { } stored
            ? new GrantedCapacity(PendingOf(ticketTypeId), stored.AddedCapacity.GetValueOrDefault(ticketTypeId))
            : null;

    /// <inheritdoc />
    /// <remarks>
    /// Read into a state object of its own, through the storage provider itself: <c>state</c> belongs to the writes of
    /// this activation's non-interleaved calls, which this call may run beside.
    /// </remarks>
    public async Task<long?> ReadGrantedEver(string ticketTypeId)
    {
        var stored = new GrainState<TicketEventState>();
        await ServiceProvider.GetRequiredKeyedService<IGrainStorage>(StorageNames.Catalog).ReadStateAsync(StateName, this.GetGrainId(), stored);
        return stored.RecordExists && stored.State?.Definition is not null ? stored.State.AddedCapacity.GetValueOrDefault(ticketTypeId) : null;
    }

    /// <summary>Tickets of a type granted by operators that no shard has taken in yet.</summary>
    private long PendingOf(string ticketTypeId) =>
        _stored!.PendingGrants.Where(g => g.TicketTypeId == ticketTypeId).Sum(g => g.Quantity);

    /// <inheritdoc />
    /// <remarks>
    /// Not interleaved with the catalog's other calls, on purpose: a grant being delivered is then either still
    /// pending or already taken in by its shard, so the count holds each ticket once. One exception: an offer that
    /// timed out leaves its grant pending, and if the shard took it in after all, both count it until a later
    /// redelivery tick's offer is answered "accepted" and drops it (ticks come every second; a shard still slow times
    /// out again): a capacity reported too high meanwhile, never a ticket sold twice (the grant's serials are the
    /// shard's alone). The price is that a read waiting on a slow shard holds the catalog, for at most
    /// <see cref="SalesQuestionTimeout"/>.
    /// </remarks>
    public Task<EventSales?> GetSales() => ReadUnlessJustFailedAsync();

    /// <summary>
    /// Reads the event's sales from its shards, unless a read just failed: the reads queued behind a failed one (each
    /// front end keeps one of its <c>/sales</c> readers' reads queued here, and page views queue theirs) get its
    /// failure at once, a 503 to their callers, instead of each holding the catalog for the whole timeout again, with
    /// operators' additions and the grant timer waiting behind them all. Only a failure is shared that way: an answer
    /// to <see cref="GetSales"/> always comes from a read that began after the question (see <c>SharedSalesReads</c>).
    /// </summary>
    private async Task<EventSales?> ReadUnlessJustFailedAsync()
    {
        if (_recentFailure is not null && clock.GetUtcNow() - _recentFailureAt < RecentSalesAge) throw new TimeoutException(_recentFailure);
        try
        {
            return await ReadSalesAsync();
        }
        catch (TimeoutException exception)
        {
            (_recentFailure, _recentFailureAt) = (exception.Message, clock.GetUtcNow());
            throw;
        }
    }

    private async Task<EventSales?> ReadSalesAsync()
    {
        var definition = (await StoredAsync())?.Definition;
        if (definition is null) return null;
        var askedAt = clock.GetUtcNow();
        // One deadline for the whole read, not one per ticket type: an event whose types each have a silent shard
        // would otherwise hold the catalog that many times over.
        var giveUpAt = askedAt + SalesQuestionTimeout;
        var types = ImmutableArray.CreateBuilder<TicketTypeSales>(definition.TicketTypes.Length);
        foreach (var type in definition.TicketTypes)
        {
            var shards = await Task.WhenAll(Enumerable.Range(0, type.Shards).Select(i =>
                GrainFactory.GetGrain<IInventoryShardGrain>(new ShardAddress(definition.Id, type.Id, i).Key).GetSales()))
                .WaitAsync(TimeSpan.FromTicks(Math.Max(0, (giveUpAt - clock.GetUtcNow()).Ticks)));
            // Counted from the shards, which hold the truth once tickets move: a type's capacity is what its shards
            // hold plus what is between them (gifts in transit, grants not yet delivered), and all of that is unsold.
            // The shards answer one by one while gifts move, so each gift is counted once by ShardCounts.
            var sold = shards.Sum(s => s.Sold);
            // Once every shard has said it is drained, none ever takes a grant in again: a pending one will be withdrawn
            // at its next offer, and is not for sale meanwhile. The dispatchers' own rule, so that both leave it out alike.
            var drained = DrainedType.Of(shards) is not null;
            var unsold = ShardCounts.Unsold(shards) + (drained ? 0 : PendingOf(type.Id));
            types.Add(new TicketTypeSales(type.Id, sold + unsold, sold, unsold, [.. shards]));
        }
        // Dated by when it ended: the page views queued behind this read share it (see GetRecentSales).
        _recentSales = new EventSales(definition.Id, types.MoveToImmutable());
        _recentSalesDoneAt = clock.GetUtcNow();
        return _recentSales;
    }

    /// <inheritdoc />
    public async Task<EventSales?> GetRecentSales()
    {
        var now = clock.GetUtcNow();
        // Fresh for a second after the read that made it ended, not after it began: page views queue behind a read
        // (this grain does not interleave), and with reads of a second or more (many ticket types, a slow shard) none
        // would ever find the last one fresh, so each would run a whole read of its own, one after the other, until the
        // queue met the call timeout, with operators' additions and the grant timer waiting behind it.
        if (_recentSales is not null && now - _recentSalesDoneAt < RecentSalesAge) return _recentSales;
        return await ReadUnlessJustFailedAsync();
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Reading the event from storage again failed; this activation answers that it cannot tell until a later question reads it")]
    private static partial void LogRereadFailed(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Grant {TransferId} of {Quantity} tickets of type {TicketTypeId} (serials {FirstSerial} to {LastSerial}) was withdrawn: every shard of the type is drained, so none can take them in; the serials are never sold or granted again")]
    private static partial void LogGrantWithdrawn(ILogger logger, string transferId, long quantity, string ticketTypeId, long firstSerial, long lastSerial);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Grant {TransferId} was taken in, but removing it from the pending grants failed; the next activation redelivers it and the shard ignores the repeat")]
    private static partial void LogGrantCleanupFailed(ILogger logger, Exception exception, string transferId);
}
