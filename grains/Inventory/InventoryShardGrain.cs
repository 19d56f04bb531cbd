using System.Collections.Immutable;
using Microsoft.Extensions.Logging;
using Orleans.Concurrency;
using OrleansTickets.Diagnostics;
using OrleansTickets.Events;
using OrleansTickets.Hosting;
using OrleansTickets.Orders;
using OrleansTickets.Sales;
using OrleansTickets.Storage;
using OrleansTickets.Tickets;

namespace OrleansTickets.Inventory;

/// <summary>
/// Sells the serials of one block, group-committing every order to the shard's database before answering.
/// </summary>
/// <remarks>
/// <para>
/// Turn-based reasoning. The grain is <see cref="ReentrantAttribute">reentrant</see> so that many purchases can wait
/// on one group commit, but Orleans still runs one turn at a time on an activation: code between two awaits never
/// interleaves with other calls. Every check-then-act below (capacity check and reservation, key lookup and
/// registration) happens inside a single turn. One qualification: completing a waiter's task may run the waiter's
/// continuation right there, inside the completing code. Sales and a key's waiters complete that way (the purchase
/// path saves a scheduler hop per sale), so <see cref="RunExclusiveAsync"/> sets its state before it completes anyone,
/// and the commit cycle completes its committed sales only once its state is set. The one exception is a sale the
/// cycle refuses before its commit, because it no longer fits: its continuation (a home forwarding, a refusal queued,
/// a key's next request) runs while the cycle is in flight and sees a <c>Remaining</c> no higher than the truth (this
/// cycle's sales and gifts still reserved, its take-ins not yet counted), and whatever it queues waits for the next
/// cycle; transfer changes complete asynchronously (<see cref="PendingChange.Completion"/>).
/// </para>
/// <para>Invariants enforced here:</para>
/// <list type="bullet">
/// <item>Never oversold: <c>_committedSold + _pendingQuantity &lt;= capacity</c> (the block, less serials given away,
/// plus serials taken in) holds after every turn (<see cref="TrySell"/>), and the commit cycle re-checks against the
/// durable count before assigning serials. The database's CHECK on <c>sold &lt;= capacity</c> and the primary key on
/// (event, type, serial) back this up.</item>
/// <item>No serial twice: serials are assigned only in <see cref="CommitCycleAsync"/>, from the durable sold count,
/// and cycles never overlap (BatchWorker), so each cycle starts where the last committed one ended.</item>
/// <item>Durable before yes: a caller's task completes with an order only after its batch committed.</item>
/// <item>Fencing: each activation claims a new epoch; its commits carry the epoch and the sold count they
/// extend. If Orleans briefly runs a second activation, the older one's commits match no row and write nothing;
/// it then refuses all work and deactivates.</item>
/// <item>Idempotency: this shard is the home, for its ticket type, of the keys placed on it; a key maps to exactly
/// one order id, recorded durably before (or with) the order, and one request per key runs at a time in an activation
/// (<see cref="KeyRequest.Done"/>; two activations during a membership change are kept apart by the epochs and the
/// database's keys, not by that). The database holding every home of the key stores it once per event: it refuses a
/// key the event already has (another type's home, or this shard before it reactivated), and moves a key only from
/// the order the home last recorded. A refused batch wrote nothing, so its other sales go round again
/// (<see cref="Requeue"/>), and the home answers from the stored key.</item>
/// <item>Escrow (InventoryShardGrain.Transfers.cs): serials leave only from the unsold end of the inventory, in the same
/// fenced commit that records the gift; they join a receiver at most once (primary key on the transfer id), and a
/// recorded gift is delivered (or taken back) before the donor forgets it. So every serial belongs to exactly one
/// shard or one recorded gift at all times.</item>
/// </list>
/// </remarks>
[Reentrant]
public sealed partial class InventoryShardGrain(
    ShardDatabases databases,
    InventoryShardDirectory shards,
    SilentCandidates silentCandidates,
    SiloDeparture departure,
    TicketCodeSigner signer,
    TimeProvider clock,
    SaleMetrics metrics,
    ILogger<InventoryShardGrain> logger) : Grain, IInventoryShardGrain
{
    private static readonly TimeSpan UnavailableBackoff = TimeSpan.FromSeconds(1);

    // How far a home's clock may run ahead of this silo's for MintedBeforeClaim to still see an earlier activation's
    // order ids (InventoryShardGrain.Keys.cs). Silos on one machine share a clock; NTP keeps machines within milliseconds.
    private static readonly TimeSpan MintClockAllowance = TimeSpan.FromSeconds(2);

    // Logged on the way to answering callers (a failed or fenced commit, a lost claim): a throwing provider must not
    // leave them unanswered (NonThrowingLogger).
    private readonly ILogger _logger = new NonThrowingLogger(logger);

    /// <summary>The request in progress for each key this shard is the home of: at most one per key.</summary>
    private readonly Dictionary<string, KeyRequest> _keys = new(StringComparer.Ordinal);

    /// <summary>
    /// The 64-bit hashes of the keys this activation knows the database holds: a hint to read the stored key before
    /// writing it, never an answer (InventoryShardGrain.Keys.cs). A hash shared by two keys costs the other key one read.
    /// </summary>
    private readonly HashSet<ulong> _storedKeyHashes = [];
    private readonly SingleFlight<PurchaseResult> _forwards = new();

    // Forwarded orders this activation created. A message for one of them can still come: the home's fresh message,
    // overtaken by the replay the home sent when it gave up waiting for it. Sold again, it went into a commit a second
    // time, where the orders table's key refused the whole commit, every sale in it answered 503, and the shard sat out
    // a second. Answered from the orders table instead (SellForwardedAsync). A later activation does not know them, nor
    // does this one know an order whose commit's outcome it did not learn; a fresh id minted before the latest claim
    // (_claimedAt) is read for first, and the database's key is still the last line. Keyless orders' first messages are
    // left out (most orders of a keyless sale: the set would grow with it); the dispatcher's ask again for one reads first.
    private readonly HashSet<string> _createdForwards = new(StringComparer.Ordinal);

    // When this activation's latest claim of the shard committed, by this silo's clock. Every order an earlier activation
    // created was committed before it (the claim's epoch fences any later commit of theirs), and so was every order of
    // this one's (a reload claims only once its commits have ended), so all of them were minted before it too.
    private DateTimeOffset? _claimedAt;
    private ShardAddress _address = null!;
    private ShardPlacement? _placement;
    private ShardLedger? _ledger;
    private BatchWorkerFromDelegate _committer = null!;
    private List<PendingSale> _queue = [];
    private List<PendingChange> _changes = [];
    private ShardInventory _inventory = new([]);
    private bool _retired;
    private long _committedSold;

    // Serials promised to queued sales, gifts and held forwards (InventoryShardGrain.Holds.cs); Remaining never counts
    // them, so two callers cannot both get them.
    private long _pendingQuantity;

    // Cleared by the commit cycle, before it writes or after its write ended, and the next cycle waits for the
    // reload (EnsureLoadedAsync): so a claim never runs under a commit of this activation still in flight. On
    // PostgreSQL, where claims do not queue behind commits, such a claim would fence the activation's own batch, or,
    // were that batch fenced by a newer activation, take the shard back from it. Also cleared when the activation stops
    // as fenced (StopAsFenced), outside a cycle, though one of its own may be in flight (its commit is then fenced by the
    // newer epoch that stopped it): _fenced, set in the same turn, keeps any reload from starting.
    private bool _loaded;
    private bool _fenced;

    // Concurrent callers share one question to the catalog, and one claim and load of the database (SingleFlight
    // forgets each once it finished, so a failed one is asked again on the next call).
    private readonly SingleFlight<bool> _setUp = new();

    private DateTimeOffset _retryLoadAt;

    private long Remaining => _inventory.Capacity - _committedSold - _pendingQuantity;

    /// <inheritdoc />
    /// <remarks>
    /// Activation calls no grain: the placement is asked for by the first request (<see cref="EnsurePlacedAsync"/>).
    /// When Orleans migrates activations to another silo, the source waits until every activation of the batch is
    /// active there, and the event grain may be in the same move, deactivating and holding its messages until the
    /// batch is done. A shard asking it for its placement while activating would wait on a move that waits on the
    /// shard, until the 30 s call timeout broke the cycle (SiloFailureTests reproduced this under load).
    /// </remarks>
    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        _address = ShardAddress.Parse(this.GetPrimaryKeyString());
        _committer = new BatchWorkerFromDelegate(CommitCycleThenAnswerWaitersAsync);
        return Task.CompletedTask;
    }

    /// <summary>
    /// Learns this shard's block, price and database from the catalog, once per activation; false when the catalog
    /// has no such shard. Asked again on the next call when the answer was "none" or the catalog could not answer.
    /// A catalog that failed with an exception of its own (its storage's, say) is a <see cref="ShardUnavailableException"/>
    /// (an <see cref="OrleansException"/>), so every caller's client hears "try again" (503), not an internal error.
    /// </summary>
    private async ValueTask<bool> EnsurePlacedAsync() => _placement is not null || await _setUp.RunAsync("placement", PlaceAsync);

    private async Task<bool> PlaceAsync()
    {
        ShardPlacement? placement;
        try
        {
            placement = await GrainFactory.GetEventGrain(_address.EventId).GetPlacement(_address.TicketTypeId, _address.Index);
        }
        catch (Exception exception) when (exception is not (OrleansException or TimeoutException))
        {
            // Timeouts pass as they are: callers tell them apart (the catalog's sales read keeps one for a second).
            throw new ShardUnavailableException($"Shard {_address.Key} cannot learn its placement now: {exception.Message}");
        }
        if (placement is null) return false;
        // The ledger is set before the placement in the same turn: code that finds a placement also finds a ledger.
        _ledger = new ShardLedger(databases.Get(placement.DatabaseOrdinal), _address);
        _placement = placement;
        return true;
    }

    /// <inheritdoc />
    public Task<PurchaseResult> PurchaseForHome(ShardPurchase purchase) =>
        purchase is { Home: not null, ForwardedOrderId: not null, FreshOrderId: true }
            ? Purchase(purchase)
            : Task.FromResult(PurchaseResult.NotFound);

    /// <inheritdoc />
    public async Task<PurchaseResult> Purchase(ShardPurchase purchase)
    {
        bool placed;
        try
        {
            placed = await EnsurePlacedAsync();
        }
        catch (Exception exception)
        {
            // The catalog could not be asked where this shard lives: nothing was sold here, which the caller may know
            // for certain (a keyless order goes to another shard) instead of treating the failure as outcome unknown.
            LogPlacementFailed(_logger, exception, _address.Key);
            return PurchaseResult.Unavailable;
        }
        if (!placed) return PurchaseResult.NotFound;
        if (!await EnsureLoadedAsync()) return PurchaseResult.Unavailable;
        var request = purchase.Request;
        if (purchase.ForwardedOrderId is { } forwardedOrderId)
        {
            return await SellForwardedAsync(purchase, forwardedOrderId);
        }
        if (request.IdempotencyKey is { } key) return await PurchaseAsHomeAsync(purchase, key);
        if (request.TicketTypeId != _address.TicketTypeId) return PurchaseResult.NotFound;
        return await SellAsync(request, OrderId.New(_address, clock.GetUtcNow()), key: null, purchase.Donors);
    }

    /// <inheritdoc />
    public async Task<OrderDetails?> GetOrder(string orderId, CancellationToken cancellationToken = default)
    {
        // The shard exists (callers ask only shards their event has): a catalog that cannot place it yet (a duplicate
        // activation during a membership change) leaves it unable to say whether the order exists, not sure it does not.
        if (!await EnsurePlacedAsync()) throw new ShardUnavailableException($"Shard {_address.Key} cannot learn its placement now.");
        try
        {
            // A lookup, on at most half of the pool, so the sale's own reads keep the rest (ShardDatabase.LookUpAsync).
            return await _ledger!.LookUpOrderAsync(orderId, cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The caller left: nobody to tell, and nothing wrong with the database.
            throw;
        }
        catch (ShardDatabaseBusyException busy)
        {
            // A crowd refreshing its order pages, not a fault: no warning per refused page, here or in the API.
            throw new ShardBusyException(busy.Message);
        }
        catch (Exception exception)
        {
            // "No such order" would be a lie while the database cannot be asked, and an internal error would not say
            // that a retry is the answer.
            LogUnavailable(_logger, exception, _address.Key);
            throw new ShardUnavailableException($"Shard {_address.Key} cannot read its database now.");
        }
    }

    /// <inheritdoc />
    public async Task<ShardSales> GetSales()
    {
        var placed = await EnsurePlacedAsync();
        var available = placed && await EnsureLoadedAsync();
        if (!placed)
        {
            // The catalog could not say where this shard lives (a duplicate catalog activation during a membership
            // change): nothing is known of its tickets, so nothing may be concluded from this report either.
            return new ShardSales(_address.Index, 0, 0, 0, ShardStatus.Unavailable, Known: false);
        }
        if (!_everLoaded)
        {
            // Never loaded: the block is the best statement of what this shard holds, but only a guess (tickets added by
            // operators are in no other shard's report), so it is marked as one.
            return new ShardSales(_address.Index, _placement!.Block.Size, 0, _placement.Block.Size, ShardStatus.Unavailable, Known: false);
        }
        var sold = _committedSold;
        var capacity = _inventory.Capacity;
        var status = !available ? ShardStatus.Unavailable : sold >= capacity ? ShardStatus.SoldOut : ShardStatus.Open;
        RecheckClaimIfIdle();
        // A fenced activation's counts are its own, and the newer activation may since have sold, or taken in tickets
        // (a gift, an operator's grant) that these leave out: like a guess, they may not support a "sold out".
        return new ShardSales(_address.Index, capacity, sold, capacity - sold, status, _undelivered.Values.Sum(t => t.Transfer.Quantity),
            _takenInTotal, _settledTotal, _pendingQuantity, Known: !_fenced, Retired: _retired, GrantedIn: _grantedInTotal);
    }

    /// <inheritdoc />
    public async Task<long> GetSellable() =>
        // -1, not 0: the asking home hands the counts it hears to its dispatcher, and a 0 from a shard that could not
        // look would hide its tickets from routing until a refresh that reads them.
        await EnsurePlacedAsync() && await EnsureLoadedAsync() ? Math.Max(0, Remaining) : -1;

    /// <summary>
    /// Reserves capacity and queues the sale for the next group commit, in one turn; completes when durable.
    /// </summary>
    private Task<PurchaseResult> TrySell(PurchaseRequest request, string orderId, IdempotencyRecord? key)
    {
        var remaining = Remaining;
        if (request.Quantity > remaining) return Task.FromResult(new PurchaseResult(PurchaseStatus.SoldOut, Remaining: remaining));
        return Enqueue(new PendingSale(request, orderId, key));
    }

    private Task<PurchaseResult> Enqueue(PendingSale sale)
    {
        _queue.Add(sale);
        _pendingQuantity += sale.Quantity;
        _committer.Notify();
        return sale.Completion.Task;
    }

    private Task<bool> Enqueue(PendingChange change)
    {
        _changes.Add(change);
        _committer.Notify();
        return change.Completion.Task;
    }

    /// <summary>Queues two changes that must be committed together: the cycle that takes one takes both.</summary>
    private Task EnqueueTogether(PendingChange first, PendingChange second)
    {
        _changes.Add(first);
        _changes.Add(second);
        _committer.Notify();
        return Task.WhenAll(first.Completion.Task, second.Completion.Task);
    }

    /// <summary>One group commit of everything queued. BatchWorker never runs two cycles at once.</summary>
    private async Task CommitCycleAsync()
    {
        if (_queue.Count == 0 && _changes.Count == 0) return;
        var batch = _queue;
        var changes = _changes;
        _queue = [];
        _changes = [];
        // One loop, not LINQ: this runs in every cycle, and almost every cycle has no changes at all.
        var gifts = 0L;
        var retires = false;
        foreach (var change in changes)
        {
            if (change.Kind == ChangeKind.Give) gifts += change.Quantity;
            if (change.Kind == ChangeKind.Retire) retires = true;
        }
        if (!await EnsureLoadedAsync())
        {
            _pendingQuantity -= batch.Sum(s => s.Quantity) + gifts;
            Reject(batch, changes, PurchaseResult.Unavailable);
            return;
        }

        // Serials come from the durable count and inventory. A reload after an uncertain commit may have changed
        // both, so capacity is checked again here; what no longer fits is refused before anything is written.
        // Order within the cycle: transfers in first (more to sell), then sales from the front, then gifts from the end.
        // Only changes (take-ins, gifts) alter the inventory; sales just read serials from it. So the working copy,
        // needed to keep a failed commit from leaking into memory, is made only when a change is in the cycle.
        var inventory = _inventory;
        // Retiring refuses, in this very cycle, transfers from other shards: a drain that committed must not be
        // refilled by a take-in admitted just before it. A shard's own gifts coming back are always taken.
        var retired = _retired || retires;
        var next = _committedSold;
        var orders = new List<OrderDetails>(batch.Count);
        var keys = new List<IdempotencyRecord>();
        var accepted = new List<(PendingSale Sale, OrderDetails? Order)>(batch.Count);
        long batchQuantity = 0;
        InventoryChanges? inventoryChanges = null;
        try
        {
            if (changes.Count > 0) inventory = _inventory.Copy();
            var takenIn = new List<TicketTransfer>();
            foreach (var change in changes)
            {
                if (change.Kind != ChangeKind.TakeIn) continue;
                var transfer = change.Transfer!;
                // Refused, or already held (a second delivery of the same gift): nothing to append or record. Decided
                // afresh in every cycle, never left from an earlier one: a change put back after a refused group goes
                // round again, and a take-in written with a stale "skipped" would be in the capacity but not in
                // _takenIn, so its donor would be told "refused" and take the serials back.
                change.Skipped = (retired && transfer.Donor != _address.Key) || _takenIn.Contains(transfer.TransferId)
                    || takenIn.Any(t => t.TransferId == transfer.TransferId);
                if (change.Skipped) continue;
                inventory.Append(transfer.Segments);
                takenIn.Add(transfer);
            }
            var now = DateTimeOffset.FromUnixTimeMilliseconds(clock.GetUtcNow().ToUnixTimeMilliseconds());
            foreach (var sale in batch)
            {
                if (sale.Request is not { } request)
                {
                    keys.Add(sale.Key!);
                    accepted.Add((sale, null));
                    continue;
                }
                if (next + request.Quantity > inventory.Capacity)
                {
                    _pendingQuantity -= request.Quantity;
                    Settle(sale, new PurchaseResult(PurchaseStatus.SoldOut, Remaining: inventory.Capacity - next));
                    continue;
                }
                var order = BuildOrder(sale, request, inventory.Slice(next, request.Quantity), now);
                next += request.Quantity;
                batchQuantity += request.Quantity;
                orders.Add(order);
                if (sale.Key is { } key) keys.Add(key);
                accepted.Add((sale, order));
            }
            var transfersOut = new List<OutgoingTransfer>();
            foreach (var change in changes)
            {
                switch (change.Kind)
                {
                    case ChangeKind.Give:
                        // A gift put back after a key conflict is decided afresh: a transfer cut in the failed cycle must
                        // not survive into one that cuts nothing, or memory would record a gift the database never had.
                        change.Transfer = null;
                        var quantity = Math.Min(change.Quantity, inventory.Capacity - next);
                        if (quantity <= 0) break;
                        change.Transfer = new TicketTransfer(change.Id!, _address.Key, inventory.CutTail(quantity));
                        transfersOut.Add(change.Outgoing!);
                        break;
                    case ChangeKind.Retire:
                        retired = true;
                        break;
                }
            }
            inventoryChanges = changes.Count == 0 ? null : new InventoryChanges(
                inventory.Capacity, SegmentText.Format(inventory.Segments), retired, transfersOut, takenIn,
                [.. changes.Where(c => c.Kind == ChangeKind.Delivered).Select(c => c.Id!)],
                [.. changes.Where(c => c.Kind == ChangeKind.Refusal).Select(c => c.Id!)]);
        }
        catch (Exception exception)
        {
            // The shard's own code failed before anything was written, and memory is as it was (changes work on a copy
            // of the inventory): a definite refusal, answered now. Left to the exception, these callers would wait for
            // the call timeout, and the tickets held for them would stay unsellable for the activation's life.
            LogCycleFailed(_logger, exception, _address.Key);
            _pendingQuantity -= batch.Where(s => !s.Completion.Task.IsCompleted).Sum(s => s.Quantity) + gifts;
            // Refused changes may leave work behind (a gift that came back and was not taken in is still in transit):
            // the next call reloads from the database, and Reject has undelivered gifts offered again meanwhile.
            _loaded = false;
            Reject(batch, changes, PurchaseResult.Unavailable);
            return;
        }

        PurchaseResult? failure = null;
        string? conflictingKey = null;
        try
        {
            var outcome = await _ledger!.CommitAsync(new LedgerBatch(_address, _ledger.Epoch, _committedSold, next, orders, keys, inventoryChanges));
            conflictingKey = outcome.ConflictingKey;
            if (outcome.Kind == CommitOutcomeKind.Fenced)
            {
                // A newer activation owns the shard. Nothing was written; this activation must never write again.
                StopAsFenced();
                failure = PurchaseResult.Unavailable;
            }
        }
        catch (ShardDatabaseUnavailableException exception)
        {
            // Nothing reached the database: a definite refusal, which the dispatcher may route around.
            LogUnavailable(_logger, exception, _address.Key);
            _retryLoadAt = clock.GetUtcNow() + UnavailableBackoff;
            failure = PurchaseResult.Unavailable;
        }
        catch (Exception exception)
        {
            // The commit may or may not have landed. Forget what memory believes and reload before selling again;
            // a gift that did land is found undelivered by the reload and delivered then.
            LogCommitUncertain(_logger, exception, _address.Key);
            failure = PurchaseResult.Failed;
        }

        _pendingQuantity -= batchQuantity + gifts;
        if (failure is not null)
        {
            _loaded = false;
            Reject(accepted.Select(a => a.Sale), changes, failure);
            return;
        }
        if (conflictingKey is not null)
        {
            Requeue(accepted, changes, gifts, conflictingKey);
            return;
        }

        _committedSold = next;
        _inventory = inventory;
        _retired = retired;
        // The commit was fenced by this activation's epoch: the shard was still its own.
        _claimConfirmedAt = clock.GetTimestamp();
        ApplyCommittedChanges(changes);
        // Before the buyers are answered, so their answers report what is left after the gift.
        GatherRemainder();
        foreach (var (sale, order) in accepted)
        {
            Settle(sale, order is null ? new PurchaseResult(PurchaseStatus.Created) : new PurchaseResult(PurchaseStatus.Created, order, Remaining));
        }
        metrics.Committed(orders.Count, batchQuantity);
    }

    private static void Settle(PendingSale sale, PurchaseResult result) => sale.Completion.TrySetResult(result);

    /// <summary>
    /// After a key conflict, in which the database wrote nothing of the batch: refuses the sales whose key records the
    /// database refused, and puts everything else back at the front of the queue, still reserved, for the next cycle
    /// (BatchWorker runs one after this) to assign serials afresh. A refused record is a new key the event already has
    /// (another type's home holds it), a move whose order the key no longer points at, or a forward's holder's record
    /// whose home's row has a newer epoch or is locked by another commit. The writer names the key, not the record, so
    /// every sale of the batch with that key is refused: two only when one client sends one key to two ticket types of
    /// the event at once, and this shard is a home of it for one and a forward's holder for the other.
    /// </summary>
    private void Requeue(List<(PendingSale Sale, OrderDetails? Order)> accepted, List<PendingChange> changes, long gifts, string conflictingKey)
    {
        var retry = new List<PendingSale>(accepted.Count);
        var refused = new List<PendingSale>();
        foreach (var (sale, _) in accepted)
        {
            if (sale.Key?.Key == conflictingKey)
            {
                refused.Add(sale);
                continue;
            }
            retry.Add(sale);
            _pendingQuantity += sale.Quantity;
        }
        _pendingQuantity += gifts;
        _queue.InsertRange(0, retry);
        _changes.InsertRange(0, changes);
        _committer.Notify();
        // Answered last: the refused buyer's continuation may run inline, and must find the others' tickets held again.
        foreach (var sale in refused) Settle(sale, PurchaseResult.KeyConflict);
        // The refused sales' tickets are free again; on a drained shard they go on (see SellAsync).
        HandOnLater();
    }

    /// <summary>Answers everything a cycle could not commit: the sales with <paramref name="result"/>, the changes with false.</summary>
    private void Reject(IEnumerable<PendingSale> sales, List<PendingChange> changes, PurchaseResult result)
    {
        // A gift whose delivered mark (and take-back, which goes with it) did not land is still in transit in the
        // database, though memory may have settled it; and a gift whose own commit had an unknown outcome may have
        // landed, unknown to memory, as may a drain's retirement, after which the shard's tickets are to be handed on.
        // The delivery timer reloads and offers such gifts again (and hands a retired shard's tickets on), instead of
        // leaving them for whichever call reaches this shard next (a drained shard may get none). A fenced activation
        // never writes again, so it leaves that to the newer one. Armed before anyone is answered: a waiter's
        // continuation may run inline in TrySetResult (a delivery tick, say) and must find the timer's state final.
        if (!_fenced && (_undelivered.Count > 0 || changes.Any(c => c.Kind is ChangeKind.Delivered or ChangeKind.Give or ChangeKind.Retire)))
        {
            EnsureDeliveryTimer();
        }
        foreach (var sale in sales) Settle(sale, result);
        foreach (var change in changes) change.Completion.TrySetResult(false);
    }

    private OrderDetails BuildOrder(PendingSale sale, PurchaseRequest request, ImmutableArray<SerialSegment> serials, DateTimeOffset now)
    {
        var placement = _placement!;
        var tickets = ImmutableArray.CreateBuilder<TicketDetails>(request.Quantity);
        foreach (var segment in serials)
        {
            for (var serial = segment.First; serial < segment.End; serial++)
            {
                tickets.Add(new TicketDetails(signer.Sign(_address.EventId, _address.TicketTypeId, serial), serial));
            }
        }
        return new OrderDetails(
            sale.OrderId, _address.EventId, _address.TicketTypeId, request.Quantity, placement.UnitPrice,
            placement.UnitPrice * request.Quantity, placement.Currency, request.Buyer, tickets.MoveToImmutable(), now);
    }

    /// <summary>Claims the shard and loads its state once per activation, or again after an uncertain commit.</summary>
    private async Task<bool> EnsureLoadedAsync()
    {
        if (_loaded) return true;
        if (_fenced || clock.GetUtcNow() < _retryLoadAt) return false;
        return await _setUp.RunAsync("load", LoadAsync);
    }

    private async Task<bool> LoadAsync()
    {
        try
        {
            var claim = await _ledger!.ClaimAsync(_placement!.Block);
            _claimedAt = clock.GetUtcNow();
            _claimConfirmedAt = clock.GetTimestamp();
            _committedSold = claim.Sold;
            _inventory = new ShardInventory(SegmentText.Parse(claim.Row.Segments));
            _retired = claim.Row.Retired;
            LoadTransfers(claim);
            // Keys need nothing here: memory holds only the requests in progress and hashes that make a request read
            // its stored key first, and the database answers for every key (InventoryShardGrain.Keys.cs).
            _loaded = true;
            // A drained shard that finds tickets on itself (a drain that ran out of receivers or time before this
            // activation, a take-back whose commit failed but landed) hands them on, as it does with tickets it sees
            // come back, instead of holding them until an operator drains it again.
            HandOnFound();
            return true;
        }
        catch (ShardClaimLostException)
        {
            // A newer activation claimed the shard (a membership change) before this reload or during this claim's reads.
            // Its decisions must not be committed under a claim taken back, nor its counts mix two states of the shard:
            // it stops, as when a commit is fenced. The newer claim may also be this activation's own earlier one whose
            // answer was lost after its commit landed (the epoch held here was never raised): stopping costs one
            // activation, and the next call's new activation claims afresh.
            StopAsFenced();
            return false;
        }
        catch (Exception exception)
        {
            LogUnavailable(_logger, exception, _address.Key);
            _retryLoadAt = clock.GetUtcNow() + UnavailableBackoff;
            return false;
        }
    }

    /// <summary>
    /// A newer activation holds the shard (a fenced commit, or a reload's claim that found another epoch): this one
    /// never writes again, reports its counts as unknown, and leaves.
    /// </summary>
    private void StopAsFenced()
    {
        LogFenced(_logger, _address.Key, _ledger!.Epoch);
        _fenced = true;
        // Until Orleans has deactivated it, calls still reach it (the grain is reentrant): not loaded, they are refused
        // (EnsureLoadedAsync), as after a fenced commit, instead of being sold from counts a newer activation moved on.
        _loaded = false;
        this.DeactivateOnIdle();
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Shard {Shard}: the catalog could not give its placement; the purchase is refused as unavailable")]
    private static partial void LogPlacementFailed(ILogger logger, Exception exception, string shard);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Shard {Shard}: commit outcome unknown; state will be reloaded")]
    private static partial void LogCommitUncertain(ILogger logger, Exception exception, string shard);

    [LoggerMessage(Level = LogLevel.Error, Message = "Shard {Shard}: a commit cycle failed before writing; its sales and changes were refused")]
    private static partial void LogCycleFailed(ILogger logger, Exception exception, string shard);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Shard {Shard}: epoch {Epoch} was fenced by a newer claim (another activation's, or an earlier claim of this one whose answer was lost); deactivating")]
    private static partial void LogFenced(ILogger logger, string shard, long epoch);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Shard {Shard}: database unavailable")]
    private static partial void LogUnavailable(ILogger logger, Exception exception, string shard);
}
