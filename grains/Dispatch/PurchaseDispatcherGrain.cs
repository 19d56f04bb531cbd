using System.Collections.Immutable;
using Microsoft.Extensions.Logging;
using Orleans.Concurrency;
using OrleansTickets.Diagnostics;
using OrleansTickets.Events;
using OrleansTickets.Inventory;
using OrleansTickets.Orders;

namespace OrleansTickets.Dispatch;

/// <summary>
/// Routes purchases of one ticket type to its shards. A reentrant stateless worker: every silo runs local
/// copies, each with its own view of which shards can still sell, so routing never funnels through one grain.
/// </summary>
/// <remarks>
/// <para>
/// The view (<c>_remaining</c>) is a hint, never trusted for correctness: the shard itself decides every sale. It
/// can be stale both ways, since shards also gain tickets (escrow transfers, added capacity). So the dispatcher
/// answers "sold out" only after a refresh that read the catalog's storage after the request arrived (one that started
/// after it, or one still asking the catalog or the shards when it came: see <c>_refreshTakesNewcomers</c>): one that
/// asked every shard for its exact count, or, for a second after such a refresh found the type sold out, one that read
/// from the catalog's storage that no ticket was granted since (<see cref="RefreshAllAsync"/>); or after a wait,
/// following such a refresh, on the shards it found with reserved tickets, whose sales since that refresh leave too few
/// unsold while the catalog's storage shows no grant since (<see cref="SettleAsync"/>).
/// </para>
/// <para>
/// Exact sell-out: when no single shard has enough tickets for an order but the shards together do, the
/// dispatcher picks the shard with the most as the receiver and names donors; the receiver pulls the rest from
/// them before selling (see InventoryShardGrain.Transfers.cs). So an order is refused only when fewer than its
/// quantity remain across all available shards of the type.
/// </para>
/// <para>
/// Requests without an idempotency key go to a random shard with enough tickets; a definite refusal (sold out,
/// unavailable) moves on to another shard, invisibly to the buyer. After an uncertain failure no other shard is tried
/// until the same one has said what became of the order, under the id this dispatcher minted for it
/// (PurchaseDispatcherGrain.Outcomes.cs): without a key, selling elsewhere could sell twice. Requests with a key always
/// go to the key's home shard for their ticket type (<see cref="KeyHomes"/>).
/// </para>
/// </remarks>
[StatelessWorker, Reentrant]
public sealed partial class PurchaseDispatcherGrain(
    TimeProvider clock, SaleMetrics metrics, ShardPurchaseWatches watches, ILogger<PurchaseDispatcherGrain> logger) : Grain, IPurchaseDispatcherGrain
{
    // Logged on the way to answering callers: a throwing provider must not turn their answer into a fault (NonThrowingLogger).
    private readonly ILogger _logger = new NonThrowingLogger(logger);

    private static readonly TimeSpan UnavailableFor = TimeSpan.FromSeconds(1);

    // How long an order keeps trying while enough tickets exist but cannot be had at once: pulls that lose the race
    // for the last tickets to other buyers, tickets moving between shards, or held by a shard that is down.
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan RetryPause = TimeSpan.FromMilliseconds(10);

    // How long past its patience an order waits on its home's answer. A home on a silo that froze answers only at
    // Orleans' 30 s call timeout; a buyer told "outcome unknown" sooner retries with the key, which is safe. The
    // grace covers a home's usual slow path: a forward's questions for room (2 s in all), the key's reservation, and
    // its holder's answer (2 s). A home pulling from several donors (2 s each) may still be cut off: its buyer then
    // hears "outcome unknown" where a definite answer was coming, and the key's retry gets it.
    private static readonly TimeSpan HomeAnswerGrace = TimeSpan.FromSeconds(5);

    // The one flight of _loading: an activation serves one ticket type, so its definition has one load at a time.
    private const string DefinitionLoad = "definition";

    private EventDefinition? _event;
    private TicketTypeDefinition? _type;

    // The event's key homes that have answered nothing definite for a while (see KeyHomeOutage), by flat index.
    private KeyHomeOutage? _outage;

    // This activation's key, "event/type" (see NamesThisType).
    private string? _key;

    // Grain references are cached: creating one resolves the interface type by reflection each time.
    private IInventoryShardGrain?[] _shards = [];
    private ShardAddress?[] _shardAddresses = [];
    private IInventoryShardGrain?[] _homes = [];
    private ITicketEventGrain? _catalog;
    // One load of the definition for all the requests that find the type unknown together (see Purchase).
    private readonly SingleFlight<bool> _loading = new();
    private KeyHomes? _keyHomes;
    // The shard database of every shard of the event (flat order), and of each shard of this type.
    private IReadOnlyList<int> _databases = [];
    private int[] _typeDatabases = [];

    /// <summary>Now, as a monotonic timestamp of the grain's <see cref="TimeProvider"/>.</summary>
    private long Now => clock.GetTimestamp();

    /// <summary>The timestamp <paramref name="span"/> from now.</summary>
    private long After(TimeSpan span) => Now + Ticks(span);

    /// <summary><paramref name="span"/> in the timestamps' units.</summary>
    private long Ticks(TimeSpan span) => (long)(span.TotalSeconds * clock.TimestampFrequency);

    /// <summary>The time left until <paramref name="deadline"/>; negative once it has passed.</summary>
    private TimeSpan Left(long deadline) => clock.GetElapsedTime(Now, deadline);

    /// <summary>The time left until <paramref name="deadline"/>, or zero once it has passed.</summary>
    private TimeSpan LeftOrNone(long deadline) => Left(deadline) is var left && left > TimeSpan.Zero ? left : TimeSpan.Zero;

    /// <inheritdoc />
    public async Task<PurchaseResult> Purchase(PurchaseRequest request)
    {
        // Invariant: an activation serves the one type its key names, and caches that type's layout from the first
        // request's ids. A request for another type (a caller's bug: the API always matches them) would have every
        // later buyer routed by the wrong type's map, so it is refused, as is a quantity the API would have refused.
        if (request.Quantity < 1 || !NamesThisType(request))
        {
            throw new ArgumentException($"A purchase of {request.Quantity} of {request.EventId}/{request.TicketTypeId} sent to the dispatcher {this.GetPrimaryKeyString()}.", nameof(request));
        }
        var arrival = _refreshesStarted;
        // The buyer's patience runs from here, through a cold activation's load of the definition as well.
        var giveUpAt = After(Patience);
        metrics.PurchaseRouted();
        if (_type is null)
        {
            bool known;
            try
            {
                // At the doors' opening hundreds arrive at a cold activation at once: each asking the catalog for the
                // definition and the shard map made the one catalog grain a hot spot just as the sale began. A request
                // arriving after a load ended asks again (an event unknown then may have been created since).
                // Shared, but each buyer waits at most its own patience for it.
                known = await _loading.RunAsync(DefinitionLoad, () => LoadDefinitionAsync(request, giveUpAt)).WaitAsync(LeftOrNone(giveUpAt), clock);
            }
            catch (Exception exception)
            {
                // The catalog could not be asked (its silo gone, its storage down): nothing was sold, so the buyer may
                // be told so, and not that the outcome is unknown.
                LogDefinitionUnavailable(_logger, exception, request.EventId);
                return PurchaseResult.Unavailable;
            }
            if (!known) return PurchaseResult.NotFound;
        }
        if (request.Quantity > _type!.MaxPerOrder) return new PurchaseResult(PurchaseStatus.TooManyTickets, Remaining: _type.MaxPerOrder);
        var result = request.IdempotencyKey is { } key
            ? await PurchaseAtHomeAsync(request, key, arrival, giveUpAt)
            : await PurchaseAnywhereAsync(request, arrival, giveUpAt);
        // Counted on the answer the buyer gets: a keyed verdict that the home's last look turned into a replay
        // (RefusalSeenByHomeAsync) is no "sold out".
        if (result.Status == PurchaseStatus.SoldOut) metrics.AnsweredSoldOut();
        else if (result.Status == PurchaseStatus.Scattered) metrics.AnsweredScattered();
        return result;
    }

    /// <summary>Whether <paramref name="request"/> is for this activation's type (its key is <c>event/type</c>).</summary>
    private bool NamesThisType(PurchaseRequest request)
    {
        // Kept: the key is decoded from the grain id afresh on every call.
        var key = _key ??= this.GetPrimaryKeyString();
        return key.Length == request.EventId.Length + 1 + request.TicketTypeId.Length && key[request.EventId.Length] == '/'
            && key.StartsWith(request.EventId, StringComparison.Ordinal) && key.EndsWith(request.TicketTypeId, StringComparison.Ordinal);
    }

    private async Task<bool> LoadDefinitionAsync(PurchaseRequest request, long giveUpAt)
    {
        // An unknown event is asked about again on every call: it may be created after this activation.
        // The questions wait at most the first buyer's patience: a catalog on a silo that froze answers only at Orleans'
        // 30 s call timeout, and every buyer of the type through this activation, sharing the load, would hold an
        // admission slot that long before hearing "unavailable".
        var catalog = GrainFactory.GetEventGrain(request.EventId);
        var definition = await catalog.GetDefinition().WaitAsync(LeftOrNone(giveUpAt), clock);
        var type = definition?.FindTicketType(request.TicketTypeId);
        if (type is null || _type is not null) return _type is not null;
        var databases = await catalog.GetShardDatabases().WaitAsync(LeftOrNone(giveUpAt), clock);
        if (_type is not null) return true;
        _keyHomes = new KeyHomes(definition!, databases, type.Id);
        _databases = databases;
        var firstOfType = definition!.FirstFlatIndexOf(type.Id);
        _typeDatabases = Enumerable.Range(0, type.Shards).Select(i => databases[firstOfType + i]).ToArray();
        _event = definition;
        // The blocks of an event created since blocks were shared by database; for one stored before (TicketEventState.
        // BlocksByDatabase), a little off until the first refresh, which a hint may be.
        _remaining = [.. type.BlockSizesByDatabase(_typeDatabases).Select(size => (long)size)];
        _unavailableUntil = new long[type.Shards];
        _retired = new bool[type.Shards];
        _watch = watches.For(definition!.Id, type.Id, type.Shards);
        _outage = watches.HomesOf(definition!.Id, definition!.TotalShards);
        _shards = new IInventoryShardGrain?[type.Shards];
        _shardAddresses = new ShardAddress?[type.Shards];
        _homes = new IInventoryShardGrain?[definition!.TotalShards];
        _type = type;
        return true;
    }

    private async Task<PurchaseResult> PurchaseAnywhereAsync(PurchaseRequest request, long arrival, long giveUpAt)
    {
        var arrived = arrival;
        var route = PurchaseRoute.Direct;
        var started = Now;
        try
        {
            var quantity = request.Quantity;
            var refusals = 0;
            // Whether a refresh that serves this request has ended (Verdict may rest on it), and whether the
            // last thing this request did was to wait for one (no second refresh right after it).
            var refreshed = false;
            var justRefreshed = false;
            var viewPulls = 0;
            while (true)
            {
                // Every answer that brought the loop back here was a definite refusal (an uncertain one ends it), so "nothing
                // was sold" is true. Without this, shards that keep refusing (a view much fuller than the shards, as a new
                // activation's is after a sale; or shards that each take long to refuse) kept a buyer past any patience,
                // to the API's call timeout and an "outcome unknown".
                if (Now >= giveUpAt) return OutOfPatience(quantity, giveUpAt, refreshed);
                var index = PickShard(quantity);
                var donors = ImmutableArray<int>.Empty;
                if (index < 0 && viewPulls < MaxViewPulls && ViewIsFresh && TryPlanPull(quantity, avoid: -1, out var viewReceiver, out var viewDonors))
                {
                    // Pulled together as the view plans it, from a refresh less than a second old instead of one of its own:
                    // with many small shards every order needs a pull, and a refresh of every shard before each cost far more
                    // than the pull. A few times per purchase (MaxViewPulls), then from a refresh, as before.
                    viewPulls++;
                    (index, donors) = (viewReceiver, viewDonors);
                }
                else if (index < 0)
                {
                    if (!justRefreshed)
                    {
                        route = Further(route, PurchaseRoute.Refreshed);
                        var wait = await RefreshAsync(arrival, giveUpAt);
                        // Every answer so far was a definite refusal: nothing was sold, or a refresh that ended earlier
                        // and served this request gives its verdict.
                        if (!wait.Served) return OutOfPatience(quantity, giveUpAt, refreshed);
                        arrived = Joined(arrived, wait.Joined);
                        arrival = _refreshesStarted;
                        refreshed = true;
                    }
                    index = PickShard(quantity);
                }
                justRefreshed = false;
                if (index < 0)
                {
                    if (Verdict(quantity, giveUpAt) is { } verdict) return verdict;
                    if (!TryPlanPull(quantity, avoid: -1, out index, out donors))
                    {
                        route = Further(route, PurchaseRoute.Paused);
                        await PauseForTicketsAsync(giveUpAt);
                        if (SettledVerdict(quantity, arrived) is { } settled) return settled;
                        continue;
                    }
                }
                PurchaseResult result;
                if (!donors.IsEmpty) route = Further(route, PurchaseRoute.Pulled);
                metrics.ShardCalled();
                // The order's id is minted here, not by the shard, so that an answer lost on the way can be asked for again.
                var purchase = new ShardPurchase(request, string.Empty, [], OrderId.New(ShardAddressAt(index), clock.GetUtcNow()),
                    FreshOrderId: true, Donors: donors);
                try
                {
                    result = await CallShardAsync(Shard(index), index, purchase, giveUpAt);
                }
                catch (Exception exception) when (exception is SiloUnavailableException or TimeoutException)
                {
                    // Caught before rejections, which SiloUnavailableException is too: Orleans also fails calls already
                    // delivered this way, when the shard's silo is declared dead (or has left: a silo that stops rejects
                    // what reaches it at the end, and may close its connections before the rejection leaves) before its
                    // answer came back, and a call whose answer did not come in time may have run to its end. The shard may
                    // have sold, and without a key a second shard would sell again: only the shard can say (AskAgainAsync).
                    // The next buyers go elsewhere for a while.
                    _unavailableUntil[index] = After(UnavailableFor);
                    result = PurchaseResult.Failed;
                }
                catch (OrleansMessageRejectionException)
                {
                    // Rejected before the shard ran it (its activation was leaving, say): nothing was sold, so try another.
                    result = PurchaseResult.Unavailable;
                }
                catch (Exception exception)
                {
                    // The shard answers what it knows as a result; an exception means it may have sold or not, and let
                    // through it would reach the buyer as "nothing was sold".
                    LogShardFailed(_logger, exception, _type!.Id, index);
                    result = PurchaseResult.Failed;
                }
                if (result.Status == PurchaseStatus.Failed)
                {
                    route = Further(route, PurchaseRoute.Paused);
                    result = await AskAgainAsync(index, purchase, giveUpAt);
                }
                switch (result.Status)
                {
                    case PurchaseStatus.Created:
                        Observe(index, result.Remaining);
                        _pauseDoublings = 0;
                        return result;
                    case PurchaseStatus.Replayed:
                        // The order an answer lost on the way had made (AskAgainAsync): the buyer's first word of it. Its
                        // answer does not say what the shard has left, so the view keeps what it had.
                        _pauseDoublings = 0;
                        return result with { Status = PurchaseStatus.Created };
                    case PurchaseStatus.SoldOut:
                        Observe(index, result.Remaining);
                        break;
                    case PurchaseStatus.Unavailable:
                    // This dispatcher knows the type, so a shard that cannot find its own placement is asking a catalog that
                    // cannot say yet (a duplicate activation during a membership change): not an unknown ticket type.
                    case PurchaseStatus.NotFound:
                        _unavailableUntil[index] = After(UnavailableFor);
                        break;
                    default:
                        return result;
                }
                // A view this wrong learns one shard per call; a refresh learns them all at once.
                if (++refusals % CandidatesPerCall == 0)
                {
                    route = Further(route, PurchaseRoute.Refreshed);
                    var wait = await RefreshAsync(arrival, giveUpAt);
                    if (!wait.Served) return OutOfPatience(quantity, giveUpAt, refreshed);
                    arrived = Joined(arrived, wait.Joined);
                    arrival = _refreshesStarted;
                    refreshed = justRefreshed = true;
                }
            }
        }
        finally
        {
            metrics.Answered(route, clock.GetElapsedTime(started));
        }
    }

    /// <summary>
    /// Sends a purchase to a shard (shard <paramref name="index"/> of this type, or -1 for a home of another type),
    /// waiting at most the patience left plus <see cref="HomeAnswerGrace"/> for its answer: a shard whose silo froze
    /// answers only at Orleans' 30 s call timeout, and its buyer held an admission slot all that time. Past that the
    /// call throws <see cref="TimeoutException"/>: the shard may still act on it, so the outcome is unknown. The shard's
    /// silence is counted meanwhile (<see cref="ShardPurchaseWatch"/>), so that other buyers stop being sent to it.
    /// </summary>
    private async Task<PurchaseResult> CallShardAsync(IInventoryShardGrain shard, int index, ShardPurchase purchase, long giveUpAt)
    {
        var answer = shard.Purchase(purchase).WaitAsync(LeftOrNone(giveUpAt) + HomeAnswerGrace, clock);
        if (index < 0) return await answer;
        var answered = false;
        _watch!.Sent(index);
        try
        {
            var result = await answer;
            answered = true;
            return result;
        }
        catch (Exception exception) when (exception is not (TimeoutException or SiloUnavailableException))
        {
            // An exception the shard's own code threw (or a rejection) is an answer from it all the same.
            answered = true;
            throw;
        }
        finally
        {
            _watch.Ended(index, answered);
        }
    }

    /// <summary>The further of a purchase's route so far and the step it takes now.</summary>
    private static PurchaseRoute Further(PurchaseRoute route, PurchaseRoute step) => step > route ? step : route;

    private ITicketEventGrain Catalog => _catalog ??= GrainFactory.GetEventGrain(_event!.Id);

    private IInventoryShardGrain Shard(int index) =>
        _shards[index] ??= GrainFactory.GetGrain<IInventoryShardGrain>(ShardAddressAt(index).Key);

    private ShardAddress ShardAddressAt(int index) => _shardAddresses[index] ??= new ShardAddress(_event!.Id, _type!.Id, index);

    [LoggerMessage(Level = LogLevel.Warning, Message = "A purchase of {TicketType} without a key: shard {Index} failed; it is asked again for the order while the buyer's patience lasts")]
    private static partial void LogShardFailed(ILogger logger, Exception exception, string ticketType, int index);

    [LoggerMessage(Level = LogLevel.Warning, Message = "A keyed purchase of {TicketType}: its home failed; asked again while the buyer's patience lasts")]
    private static partial void LogHomeFailed(ILogger logger, Exception exception, string ticketType);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Event {EventId}: the catalog could not give the definition; the purchase is refused as unavailable")]
    private static partial void LogDefinitionUnavailable(ILogger logger, Exception exception, string eventId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Refreshing {TicketType}: {Unanswered} of {Shards} shards did not answer in time, or the catalog could not say in time what operators granted; no sold-out verdict from this refresh")]
    private static partial void LogRefreshUnanswered(ILogger logger, Exception? exception, string ticketType, int unanswered, int shards);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Refreshing {TicketType}: {Behind} shards (shard {First} among them) reported fewer tickets taken in from operators' grants than the catalog saw them take in (a replaced activation, told to stop; or a silo of an older build, which reports none); no sold-out verdict from this refresh")]
    private static partial void LogRefreshMissedGrants(ILogger logger, string ticketType, int behind, int first);
}
