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
/// unavailable) moves on to another shard, invisibly to the buyer. An uncertain failure is not retried here,
/// because without a key a retry could sell twice. Requests with a key always go to the key's home shard for their
/// ticket type (<see cref="KeyHomes"/>).
/// </para>
/// </remarks>
[StatelessWorker, Reentrant]
public sealed partial class PurchaseDispatcherGrain(
    TimeProvider clock, SaleMetrics metrics, ShardPurchaseWatches watches, ILogger<PurchaseDispatcherGrain> logger) : Grain, IPurchaseDispatcherGrain
{
    // Logged on the way to answering callers: a throwing provider must not turn their answer into a fault (NonThrowingLogger).
    private readonly ILogger _logger = new NonThrowingLogger(logger);

    private const int CandidatesPerCall = 8;
    private static readonly TimeSpan UnavailableFor = TimeSpan.FromSeconds(1);

    // How many pulls one purchase may plan from a fresh view (ViewIsFresh) before it refreshes instead. A pull that fails
    // (its donors emptied by other buyers' pulls since the view was filled) leaves the view lowered by what it planned to
    // take (PullPlan.CountAsMoving) and its receiver at the count it answered with, so the next plan leans on other
    // donors (a spare it named, which the plan did not count on, may be named again); a refresh asks every shard of the
    // type. With 2,048 one-ticket shards, one view pull per purchase left most
    // refreshes to purchases whose one pull had failed; three cut the service's CPU per order by a third in cold A/Bs,
    // and eight gained little more (docs/benchmarks.md, fifty-eighth and fifty-ninth sessions; the festival, which
    // rarely gets here, was no slower for it). Each failed pull costs its gifts' commits, and what it gathered stays on
    // its receiver, where the next plan finds it.
    private const int MaxViewPulls = 3;

    // A refresh asks every shard; one that cannot answer in this time (its silo gone, say) is reported unavailable
    // instead of holding or failing every request that waits on the refresh.
    private static readonly TimeSpan RefreshTimeout = TimeSpan.FromSeconds(2);

    // How long an order keeps trying while enough tickets exist but cannot be had at once: pulls that lose the race
    // for the last tickets to other buyers, tickets moving between shards, or held by a shard that is down.
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan RetryPause = TimeSpan.FromMilliseconds(10);

    // Pauses for tickets double, up to 32 times RetryPause, with each refresh after which buyers still had to pause,
    // until something sells, a verdict of sold out is given, or PauseMemory passes without a pause (an outage that
    // ended in 503s neither sells nor gives a verdict, and must not leave the next sale's end pausing 320 ms). A commit
    // in flight holds its tickets for milliseconds, and the first pauses cover it. Tickets held by a shard that is
    // down, or by a gift whose receiver died, stay out of reach for seconds; at a fixed 10 ms every waiting buyer
    // brought a refresh of every shard of the type about every 10 ms, for the whole of its patience.
    private const int MaxPauseDoublings = 5;

    // While every shard and the catalog answered the last refresh, each with a count it read (none of them
    // "unavailable"), what holds the tickets out of reach is on shards that work: commits in flight, which land within
    // milliseconds, or gifts on their way. There the pause stops doubling at 4 times RetryPause (40 ms): at the end of
    // a healthy sale the full doubling left buyers asleep for up to 320 ms beside tickets that had come free
    // (docs/benchmarks.md, thirty-seventh session). The full doubling stays for a shard that cannot answer or whose
    // database is down, where it bounds the refreshes. A gift whose receiver died also looks healthy: its tickets wait
    // for the donor's next delivery attempt (a second), and meanwhile the waiting buyers refresh every 40 ms or so.
    private const int MaxPauseDoublingsWhileAllAnswer = 2;
    private bool _lastRefreshHeardAll;
    private static readonly TimeSpan PauseMemory = TimeSpan.FromSeconds(1);
    private int _pauseDoublings;
    private long _pausedAfterRefresh = -1;
    private long _lastPausedAt;

    // What the last finished refresh found reserved: commits in flight and holds for forwards. Buyers who pause after
    // that refresh share one wait on those commits (_settling, started for _settlingFor) and look again when it ends,
    // if that comes before their pause does (InventoryShardGrain.Settling.cs). The verdict that wait could give: at
    // most _settledUnsold tickets unsold since the wait that followed refresh _settledRefresh (see SettleAsync).
    private RefreshReservations? _reservations;
    private RefreshReservations? _settlingFor;
    private Task? _settling;
    private long _settledRefresh = -1;
    private long _settledUnsold;

    // How long past its patience an order waits on its home's answer. A home on a silo that froze answers only at
    // Orleans' 30 s call timeout; a buyer told "outcome unknown" sooner retries with the key, which is safe. The
    // grace covers a home's usual slow path: a forward's questions for room (2 s in all), the key's reservation, and
    // its holder's answer (2 s). A home pulling from several donors (2 s each) may still be cut off: its buyer then
    // hears "outcome unknown" where a definite answer was coming, and the key's retry gets it.
    private static readonly TimeSpan HomeAnswerGrace = TimeSpan.FromSeconds(5);

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

    // The one flight of _loading: an activation serves one ticket type, so its definition has one load at a time.
    private const string DefinitionLoad = "definition";

    private EventDefinition? _event;
    private TicketTypeDefinition? _type;
    private long[] _remaining = [];
    // Deadlines and "unavailable until" marks are monotonic timestamps (see Now): a wall clock stepped back by NTP or
    // a resumed VM would stretch a buyer's patience, and keep a shard out of routing, for the length of the step.
    private long[] _unavailableUntil = [];

    // Shards a drain retired, as refreshes found them (for good: nothing un-drains a shard). They still sell and give
    // what they hold, but take nothing in, so a pull must not pick one as its receiver.
    private bool[] _retired = [];

    // Purchases in flight at each shard from this silo's dispatchers of the type, and the shards silent with them
    // (see ShardPurchaseWatch): skipped like unavailable ones while they stay silent.
    private ShardPurchaseWatch? _watch;

    // The event's key homes that have answered nothing definite for a while (see KeyHomeOutage), by flat index.
    private KeyHomeOutage? _outage;

    // This activation's key, "event/type" (see NamesThisType).
    private string? _key;

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

    // When the last refresh replaced the view with the shards' own counts; null before the first. A purchase plans a
    // pull from the view without refreshing first only within UnavailableFor of it, while the shards that refresh did
    // not hear are still marked unavailable: a pull names its donors, and asks them one after another, each for up to
    // 2 s, so a donor on a silo that froze since the view was filled held the buyer past its patience, to "outcome
    // unknown". Before the first refresh the view holds the blocks the shards started with, which after a sale (a silo
    // that joined late, an activation started afresh) are far fuller than the shards, and show none of them drained.
    private long? _viewRefreshedAt;

    // The last refresh's counts when it heard every shard of the type say it was drained; null otherwise.
    private DrainedType? _refreshedDrained;

    // The catalog's storage's count of tickets ever granted to the type, as read when the last refresh that asked the
    // shards found it sold out (_refreshedUnsold 0), and when that was; null otherwise. See RefreshAllAsync.
    private long? _soldOutAtGrantedEver;
    private long _soldOutAt;

    // Grain references are cached: creating one resolves the interface type by reflection each time.
    private IInventoryShardGrain?[] _shards = [];
    private IInventoryShardGrain?[] _homes = [];
    private ITicketEventGrain? _catalog;
    // One load of the definition for all the requests that find the type unknown together (see Purchase).
    private readonly SingleFlight<bool> _loading = new();
    private KeyHomes? _keyHomes;
    // The shard database of every shard of the event (flat order), and of each shard of this type.
    private IReadOnlyList<int> _databases = [];
    private int[] _typeDatabases = [];

    /// <summary>Whether a pull may be planned from the view without a refresh first (see <c>_viewRefreshedAt</c>).</summary>
    private bool ViewIsFresh => _viewRefreshedAt is { } at && Now - at < Ticks(UnavailableFor);

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
                try
                {
                    result = await CallShardAsync(Shard(index), index, new ShardPurchase(request, string.Empty, [], Donors: donors), giveUpAt);
                }
                catch (Exception exception) when (exception is SiloUnavailableException or TimeoutException)
                {
                    // Caught before rejections, which SiloUnavailableException is too: Orleans also fails calls already
                    // delivered this way, when the shard's silo is declared dead before its answer came back, and a call
                    // whose answer did not come in time may have run to its end. The shard may have sold, and without a key
                    // a second shard would sell again, so the outcome is unknown. The next buyers go elsewhere for a while.
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
                switch (result.Status)
                {
                    case PurchaseStatus.Created:
                        Observe(index, result.Remaining);
                        _pauseDoublings = 0;
                        return result;
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
                // not asked blindly: nothing says it has room, and each refusal costs it a read of the stored key (a home
                // reads the key before it answers "sold out"), on a database busy with the sale's last commits, for every
                // buyer waiting, at every pause.
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

    /// <summary>
    /// Waits before looking again: enough tickets exist, but none can be had now (in flight, reserved, or on a shard
    /// that cannot answer). Longer after each refresh that left buyers waiting (see <see cref="MaxPauseDoublings"/>; at
    /// most <see cref="MaxPauseDoublingsWhileAllAnswer"/> doublings while every shard answered the last refresh), or
    /// until <paramref name="giveUpAt"/> has passed when that comes first.
    /// </summary>
    private Task PauseForTicketsAsync(long giveUpAt)
    {
        metrics.Paused(retry: false);
        if (_lastPausedAt != 0 && clock.GetElapsedTime(_lastPausedAt) > PauseMemory) _pauseDoublings = 0;
        _lastPausedAt = clock.GetTimestamp();
        var pause = RetryPause * (1 << (_lastRefreshHeardAll ? Math.Min(_pauseDoublings, MaxPauseDoublingsWhileAllAnswer) : _pauseDoublings));
        // One step per refresh, not per buyer: every buyer that waited on the same refresh pauses as long. The grain is
        // reentrant, but turns do not overlap, so the two fields change together.
        if (_pausedAfterRefresh != _refreshesStarted)
        {
            _pausedAfterRefresh = _refreshesStarted;
            _pauseDoublings = Math.Min(_pauseDoublings + 1, MaxPauseDoublings);
        }
        var timed = Left(giveUpAt) <= pause ? WaitOutAsync(giveUpAt) : Task.Delay(pause, clock);
        return SettlingAfterLastRefresh(pause) is { } settling ? Task.WhenAny(settling, timed) : timed;
    }

    /// <summary>
    /// The wait, shared by every buyer pausing after the last refresh, for the commits of the tickets that refresh found
    /// reserved; each shard waits at most <paramref name="longest"/>. Null when there is nothing to wait on, or when that
    /// wait has ended and the view already has its answers: the timed pause alone then spaces the buyers' refreshes.
    /// Only while every shard answered that refresh: otherwise what keeps tickets out of reach may be a shard that
    /// cannot answer, and the pause's full doubling bounds how often it is asked.
    /// </summary>
    private Task? SettlingAfterLastRefresh(TimeSpan longest)
    {
        if (!_lastRefreshHeardAll || _reservations is not { Reserved.Length: > 0 } reservations) return null;
        if (ReferenceEquals(_settlingFor, reservations)) return _settling is { IsCompleted: false } settling ? settling : null;
        _settlingFor = reservations;
        return _settling = SettleAsync(reservations, longest);
    }

    /// <summary>
    /// Asks the shards <paramref name="reservations"/> names for their sales once their commits in flight have ended,
    /// takes the answers into the view, and works out how many tickets at most are still unsold.
    /// </summary>
    /// <remarks>
    /// The refresh counted <see cref="RefreshReservations.Unsold"/> tickets unsold, each shard as of its own
    /// answer and each gift once (ShardCounts). Only a sale takes a ticket out of that count, and only a grant adds
    /// one. So every ticket a shard sold after its answer to the refresh, as its answer here shows
    /// (its sold count then against now), comes off it, and what is left bounds the unsold from now on, as long as the
    /// catalog's storage shows no grant since (read after these answers, as the refresh reads it). Below the order's
    /// quantity that is a verdict of sold out for buyers who arrived before the refresh started, or who met it while it
    /// still took newcomers (<see cref="Joined"/>), without asking every shard again. Sold counts only grow (a newer
    /// activation loads what the older one committed, and fences it); an answer from an activation that knows itself
    /// fenced is not used.
    /// </remarks>
    private async Task SettleAsync(RefreshReservations reservations, TimeSpan longest)
    {
        var reserved = reservations.Reserved;
        var unsold = reservations.Unsold;
        var calls = new Task<Sales.ShardSales>[reserved.Length];
        for (var k = 0; k < reserved.Length; k++) calls[k] = Shard(reserved[k].Index).GetSalesAfterCommit(longest);
        try
        {
            await Task.WhenAll(calls).WaitAsync(RefreshTimeout, clock);
        }
        catch (Exception)
        {
            // A shard that did not answer keeps its place in the view; the next refresh asks it again.
        }
        for (var k = 0; k < reserved.Length; k++)
        {
            // What it can sell now, as a refresh takes it. A hint like every count in the view: the verdicts rest on refreshes.
            if (calls[k].IsCompletedSuccessfully && calls[k].Result is { Known: true } report && report.Status != Sales.ShardStatus.Unavailable)
            {
                Observe(reserved[k].Index, report.Remaining - report.Reserved);
                unsold -= report.Sold - reserved[k].Sold;
            }
        }
        // Only while no later refresh has ended: one that did counted afresh (a grant taken in since, say), and a buyer
        // that saw its count must not be answered from this older one.
        if (unsold < _type!.MaxPerOrder && reservations.GrantedEver is { } granted && await StillGrantedAsync(granted)
            && ReferenceEquals(reservations, _reservations))
        {
            (_settledRefresh, _settledUnsold) = (reservations.Refresh, unsold.Value);
        }
    }

    /// <summary>
    /// The arrival a request's waits on reserved tickets are judged by (<see cref="SettledVerdict"/>), once a refresh that
    /// started before the request arrived served it (<paramref name="joined"/>, its number). The wait that follows that
    /// refresh serves the request as well: it starts when the refresh has ended, after the request met it, and its own
    /// read of the catalog's storage comes later still, so what it leaves unsold bounds the tickets at a moment within
    /// the request's lifetime, as a refresh's does (<c>_refreshTakesNewcomers</c>).
    /// </summary>
    private static long Joined(long arrived, long? joined) => joined is { } number ? Math.Min(arrived, number - 1) : arrived;

    /// <summary>
    /// Sold out, when the last wait on reserved tickets (<see cref="SettleAsync"/>) followed a refresh numbered above
    /// <paramref name="arrival"/> (the request's first, or lower once a refresh it joined served it: <see cref="Joined"/>)
    /// and left fewer than <paramref name="quantity"/> tickets unsold; null otherwise.
    /// </summary>
    private PurchaseResult? SettledVerdict(int quantity, long arrival)
    {
        if (_settledRefresh <= arrival || _settledUnsold >= quantity) return null;
        _pauseDoublings = 0;
        return new PurchaseResult(PurchaseStatus.SoldOut, Remaining: Math.Max(0, _settledUnsold));
    }

    /// <summary>Returns once <paramref name="deadline"/> has passed by the grain's clock.</summary>
    /// <remarks>
    /// A timer can end a little early by this clock: a delay's span is cut to whole milliseconds, and .NET's timers run
    /// on a millisecond clock of their own (Environment.TickCount64), not on this one. A buyer woken just before its
    /// patience ended went round its loop again, and every time round refreshed every shard of the type: tens of
    /// refreshes in the last milliseconds (DispatcherPatienceTests counted 59 once where about 20 were due).
    /// </remarks>
    private async Task WaitOutAsync(long deadline)
    {
        for (var left = Left(deadline); left > TimeSpan.Zero; left = Left(deadline))
        {
            await Task.Delay(left + TimeSpan.FromMilliseconds(1), clock);
        }
    }

    /// <summary>Whether shard <paramref name="index"/>'s "unavailable" mark, if any, was made at or before <paramref name="timestamp"/>.</summary>
    private bool MarkedBefore(int index, long timestamp) => _unavailableUntil[index] - Ticks(UnavailableFor) <= timestamp;

    private bool HomeFits(int homeIndex, int quantity) => homeIndex >= 0 && IsEligible(homeIndex, quantity, Now);

    /// <summary>
    /// Whether the view shows somewhere a keyed order could sell: the home itself, or <paramref name="candidates"/>
    /// (picked afresh) for it to forward to.
    /// </summary>
    private bool ViewHasRoom(int quantity, int homeIndex, int homeDatabase, out ImmutableArray<int> candidates)
    {
        candidates = PickCandidates(quantity, homeIndex, homeDatabase);
        return !candidates.IsEmpty || HomeFits(homeIndex, quantity);
    }

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
    /// Plans a pull over the view (<see cref="PullPlan"/>): <paramref name="receiver"/> pulls from
    /// <paramref name="donors"/> before it sells, and is <paramref name="avoid"/> only when no other shard can receive.
    /// False when the available shards together hold fewer than <paramref name="quantity"/>, or none can receive.
    /// </summary>
    private bool TryPlanPull(int quantity, int avoid, out int receiver, out ImmutableArray<int> donors)
    {
        var now = Now;
        // Silent shards neither receive nor give: a pull would wait on them. Marked out of routing for this moment only;
        // whether they are still silent is asked again at each pick.
        for (var index = 0; index < _unavailableUntil.Length; index++)
        {
            if (_watch!.IsSilent(index, now) && _unavailableUntil[index] <= now) _unavailableUntil[index] = now + 1;
        }
        if (!PullPlan.TryPlan(_remaining, _unavailableUntil, _retired, now, quantity, avoid, Random.Shared.Next(_remaining.Length), out receiver, out donors))
        {
            return false;
        }
        // The requests planning next (this reentrant grain's, while the pull runs) name other donors. A hint like the rest
        // of the view: the receiver's answer, other answers and the next refresh correct it.
        PullPlan.CountAsMoving(_remaining, receiver, donors, quantity);
        return true;
    }

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
        // For a second only: a shard's report can be wrong low (a duplicate activation not yet fenced, answering from
        // before a grant its twin took in), and asking the shards again is what corrects such a verdict.
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
        _lastRefreshHeardAll = firstUnanswered is null && answered.TrueForAll(report => report.Status != Sales.ShardStatus.Unavailable);
        var drained = firstUnanswered is null ? DrainedType.Of(answered) : null;
        // Once every shard is drained, a pending grant can never land (DrainedType), so it is not unsold.
        var unsold = firstUnanswered is null ? Sales.ShardCounts.Unsold(answered) + (drained is null ? granted.Result!.Pending : 0) : (long?)null;
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

    /// <summary>
    /// Takes the remaining count that the shard which sold an order reported with it: the home itself, or the shard it
    /// forwarded the order to. Without this a dispatcher of keyed purchases would learn of sales only from refusals and
    /// refreshes, and near the end would keep naming candidates that sold out long before. Returns the seller's index
    /// among this type's shards (-1 when the order id names none).
    /// </summary>
    private int ObserveSeller(OrderDetails order, long remaining)
    {
        var index = OrderId.ShardIndexOf(order.OrderId, _event!.Id, _type!.Id);
        if (index >= 0 && index < _remaining.Length) Observe(index, remaining);
        return index;
    }

    /// <summary>
    /// Lowers the view to the counts a home heard while it forwarded the order (<see cref="PurchaseResult.Sightings"/>),
    /// so that candidates that said they had no room are not named to the next buyers, who would each ask them again.
    /// Lowers only: heard before the answer came, a count may be older than another request's observation of the same
    /// shard since, and raising a shard that has sold out since would send buyers to ask it again. Raising is left to a
    /// seller's own count and to refreshes, which also undo a lowering that a gift since made wrong.
    /// </summary>
    private void ObserveSightings(PurchaseResult result)
    {
        if (result.Sightings.IsDefaultOrEmpty) return;
        foreach (var sighting in result.Sightings)
        {
            if (sighting.Index >= 0 && sighting.Index < _remaining.Length) Lower(sighting.Index, sighting.Sellable);
        }
    }

    /// <summary>The further of a purchase's route so far and the step it takes now.</summary>
    private static PurchaseRoute Further(PurchaseRoute route, PurchaseRoute step) => step > route ? step : route;

    /// <summary>Takes a shard's own report of its remaining tickets.</summary>
    private void Observe(int index, long remaining) => _remaining[index] = Math.Max(0, remaining);

    /// <summary>Lowers the view after a refusal: the shard has at most <paramref name="bound"/> left.</summary>
    private void Lower(int index, long bound) => _remaining[index] = Math.Min(_remaining[index], Math.Max(0, bound));

    private bool IsEligible(int index, int quantity, long now) =>
        _remaining[index] >= quantity && _unavailableUntil[index] <= now && !_watch!.IsSilent(index, now);

    /// <summary>A random eligible shard, scanning from a random start so load spreads evenly; -1 if none.</summary>
    private int PickShard(int quantity)
    {
        var now = Now;
        var count = _remaining.Length;
        var start = Random.Shared.Next(count);
        for (var step = 0; step < count; step++)
        {
            var index = (start + step) % count;
            if (IsEligible(index, quantity, now)) return index;
        }
        return -1;
    }

    /// <summary>
    /// Up to <see cref="CandidatesPerCall"/> shards the view says can take <paramref name="quantity"/>, from a random
    /// start, those on <paramref name="database"/> (the key's) first: the home forwards to one of those in one commit
    /// instead of two (InventoryShardGrain.Keys.cs).
    /// </summary>
    private ImmutableArray<int> PickCandidates(int quantity, int exclude, int database)
    {
        var now = Now;
        var count = _remaining.Length;
        var start = Random.Shared.Next(count);
        var picked = ImmutableArray.CreateBuilder<int>(CandidatesPerCall);
        Span<int> elsewhere = stackalloc int[CandidatesPerCall];
        var others = 0;
        for (var step = 0; step < count && picked.Count < CandidatesPerCall; step++)
        {
            var index = (start + step) % count;
            if (index == exclude || !IsEligible(index, quantity, now)) continue;
            if (_typeDatabases[index] == database) picked.Add(index);
            else if (others < CandidatesPerCall) elsewhere[others++] = index;
        }
        for (var i = 0; i < others && picked.Count < CandidatesPerCall; i++) picked.Add(elsewhere[i]);
        return picked.ToImmutable();
    }

    /// <summary>How many of the first <paramref name="candidates"/> are on <paramref name="database"/>.</summary>
    private int LocalCount(ImmutableArray<int> candidates, int database)
    {
        var local = 0;
        while (local < candidates.Length && _typeDatabases[candidates[local]] == database) local++;
        return local;
    }

    private ITicketEventGrain Catalog => _catalog ??= GrainFactory.GetEventGrain(_event!.Id);

    private IInventoryShardGrain Shard(int index) =>
        _shards[index] ??= GrainFactory.GetGrain<IInventoryShardGrain>(new ShardAddress(_event!.Id, _type!.Id, index).Key);

    [LoggerMessage(Level = LogLevel.Warning, Message = "A purchase of {TicketType} without a key: shard {Index} failed; its outcome is unknown")]
    private static partial void LogShardFailed(ILogger logger, Exception exception, string ticketType, int index);

    [LoggerMessage(Level = LogLevel.Warning, Message = "A keyed purchase of {TicketType}: its home failed; asked again while the buyer's patience lasts")]
    private static partial void LogHomeFailed(ILogger logger, Exception exception, string ticketType);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Event {EventId}: the catalog could not give the definition; the purchase is refused as unavailable")]
    private static partial void LogDefinitionUnavailable(ILogger logger, Exception exception, string eventId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Refreshing {TicketType}: {Unanswered} of {Shards} shards did not answer in time, or the catalog could not say in time what operators granted; no sold-out verdict from this refresh")]
    private static partial void LogRefreshUnanswered(ILogger logger, Exception? exception, string ticketType, int unanswered, int shards);
}
