using System.Collections.Immutable;
using Orleans.Concurrency;
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
/// answers "sold out" only after a refresh that asked every shard for its exact count, and that refresh started
/// after the request arrived.
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
/// because without a key a retry could sell twice. Requests with a key always go to the key's home shard.
/// </para>
/// </remarks>
[StatelessWorker, Reentrant]
public sealed class PurchaseDispatcherGrain(TimeProvider clock) : Grain, IPurchaseDispatcherGrain
{
    private const int CandidatesPerCall = 8;
    private const int MaxPullsPerOrder = 8;
    private const int SpareDonors = 2;
    private static readonly TimeSpan UnavailableFor = TimeSpan.FromSeconds(1);

    private EventDefinition? _event;
    private TicketTypeDefinition? _type;
    private long[] _remaining = [];
    private DateTimeOffset[] _unavailableUntil = [];

    // Refreshes are shared by the requests that arrived before they started: refresh n serves any request that
    // saw _refreshesStarted < n on arrival.
    private long _refreshesStarted;
    private Task? _refresh;

    // Grain references are cached: creating one resolves the interface type by reflection each time.
    private IInventoryShardGrain?[] _shards = [];
    private IInventoryShardGrain?[] _homes = [];

    /// <inheritdoc />
    public async Task<PurchaseResult> Purchase(PurchaseRequest request)
    {
        var arrival = _refreshesStarted;
        if (_type is null && !await LoadDefinitionAsync(request)) return PurchaseResult.NotFound;
        if (request.Quantity > _type!.MaxPerOrder) return new PurchaseResult(PurchaseStatus.TooManyTickets, Remaining: _type.MaxPerOrder);
        return request.IdempotencyKey is { } key
            ? await PurchaseAtHomeAsync(request, key, arrival)
            : await PurchaseAnywhereAsync(request, arrival);
    }

    private async Task<bool> LoadDefinitionAsync(PurchaseRequest request)
    {
        // An unknown event is asked about again on every call: it may be created after this activation.
        var definition = await GrainFactory.GetEventGrain(request.EventId).GetDefinition();
        var type = definition?.FindTicketType(request.TicketTypeId);
        if (type is null || _type is not null) return _type is not null;
        _event = definition;
        _remaining = Enumerable.Range(0, type.Shards).Select(i => (long)type.BlockOf(i).Size).ToArray();
        _unavailableUntil = new DateTimeOffset[type.Shards];
        _shards = new IInventoryShardGrain?[type.Shards];
        _homes = new IInventoryShardGrain?[definition!.TotalShards];
        _type = type;
        return true;
    }

    private async Task<PurchaseResult> PurchaseAnywhereAsync(PurchaseRequest request, long arrival)
    {
        var refreshed = false;
        var pulls = 0;
        while (true)
        {
            var index = PickShard(request.Quantity);
            var donors = ImmutableArray<int>.Empty;
            if (index < 0)
            {
                if (!refreshed)
                {
                    await RefreshAsync(arrival);
                    refreshed = true;
                    continue;
                }
                if (pulls++ >= MaxPullsPerOrder || !TryPlanPull(request.Quantity, exclude: -1, out index, out donors)) return Exhausted(request.Quantity);
            }
            var result = await Shard(index).Purchase(new ShardPurchase(request, string.Empty, [], Donors: donors));
            switch (result.Status)
            {
                case PurchaseStatus.Created:
                    Observe(index, result.Remaining);
                    return result;
                case PurchaseStatus.SoldOut:
                    Observe(index, result.Remaining);
                    // After a failed pull the donors' counts are unknown: look again before giving up.
                    if (!donors.IsEmpty) (refreshed, arrival) = (false, _refreshesStarted);
                    continue;
                case PurchaseStatus.Unavailable:
                    _unavailableUntil[index] = clock.GetUtcNow() + UnavailableFor;
                    continue;
                default:
                    return result;
            }
        }
    }

    private async Task<PurchaseResult> PurchaseAtHomeAsync(PurchaseRequest request, string key, long arrival)
    {
        var flatIndex = (int)(KeyHash.Of(key) % (ulong)_event!.TotalShards);
        var home = _event.ShardAt(flatIndex);
        var homeIndex = home.TicketTypeId == _type!.Id ? home.Index : -1;
        var homeGrain = _homes[flatIndex] ??= GrainFactory.GetGrain<IInventoryShardGrain>(home.Key);
        var fingerprint = request.Fingerprint();
        var refreshed = false;
        var pulls = 0;
        var candidates = PickCandidates(request.Quantity, homeIndex);
        var donors = ImmutableArray<int>.Empty;
        while (true)
        {
            var result = await homeGrain.Purchase(new ShardPurchase(request, fingerprint, candidates, Donors: donors));
            if (result.Status != PurchaseStatus.SoldOut) return result;

            if (donors.IsEmpty)
            {
                // The home refused locally and every candidate refused: each has fewer than Quantity left.
                if (homeIndex >= 0) Lower(homeIndex, request.Quantity - 1);
                foreach (var index in candidates) Lower(index, request.Quantity - 1);
            }
            else
            {
                (refreshed, arrival) = (false, _refreshesStarted);
            }
            donors = [];
            candidates = PickCandidates(request.Quantity, homeIndex);
            if (!candidates.IsEmpty || HomeFits(homeIndex, request.Quantity)) continue;
            if (!refreshed)
            {
                await RefreshAsync(arrival);
                refreshed = true;
                candidates = PickCandidates(request.Quantity, homeIndex);
                if (!candidates.IsEmpty || HomeFits(homeIndex, request.Quantity)) continue;
            }
            if (pulls++ >= MaxPullsPerOrder || !TryPlanPull(request.Quantity, homeIndex, out var receiver, out donors)) return Exhausted(request.Quantity);
            candidates = [receiver];
        }
    }

    private bool HomeFits(int homeIndex, int quantity) => homeIndex >= 0 && IsEligible(homeIndex, quantity, clock.GetUtcNow());

    /// <summary>
    /// Plans a pull: the available shard with the most tickets (not <paramref name="exclude"/>) receives, and the
    /// next fullest give, enough of them to cover the order plus a few spares. False when the available shards
    /// together hold fewer than <paramref name="quantity"/>.
    /// </summary>
    private bool TryPlanPull(int quantity, int exclude, out int receiver, out ImmutableArray<int> donors)
    {
        var now = clock.GetUtcNow();
        var open = Enumerable.Range(0, _remaining.Length).Where(i => IsEligible(i, 1, now)).OrderByDescending(i => _remaining[i]).ToList();
        receiver = open.FirstOrDefault(i => i != exclude, -1);
        donors = [];
        if (receiver < 0 || open.Sum(i => _remaining[i]) < quantity) return false;
        var needed = quantity - _remaining[receiver];
        var picked = ImmutableArray.CreateBuilder<int>();
        var spares = SpareDonors;
        foreach (var index in open)
        {
            if (index == receiver) continue;
            if (needed <= 0 && spares-- <= 0) break;
            picked.Add(index);
            needed -= _remaining[index];
        }
        donors = picked.ToImmutable();
        return true;
    }

    /// <summary>
    /// Answer when no shard took the order: sold out only if the view (fresh from a refresh) holds fewer than the
    /// quantity; otherwise tickets exist but are on a down shard, or other buyers kept taking the pulled ones, and
    /// the buyer is told to retry.
    /// </summary>
    private PurchaseResult Exhausted(int quantity)
    {
        var total = _remaining.Sum();
        return total >= quantity
            ? PurchaseResult.Unavailable
            : new PurchaseResult(PurchaseStatus.SoldOut, Remaining: total);
    }

    /// <summary>Waits for a refresh that started after the caller arrived (starting one if needed).</summary>
    private async Task RefreshAsync(long arrival)
    {
        while (true)
        {
            if (_refresh is { } running)
            {
                var started = _refreshesStarted;
                await running;
                if (started > arrival) return;
                continue;
            }
            _refreshesStarted++;
            var refresh = RefreshAllAsync();
            _refresh = refresh;
            try
            {
                await refresh;
            }
            finally
            {
                if (ReferenceEquals(_refresh, refresh)) _refresh = null;
            }
            return;
        }
    }

    /// <summary>Replaces the view with every shard's exact count.</summary>
    private async Task RefreshAllAsync()
    {
        var sales = await Task.WhenAll(Enumerable.Range(0, _remaining.Length).Select(i => Shard(i).GetSales()));
        foreach (var shard in sales)
        {
            if (shard.Status == Sales.ShardStatus.Unavailable) _unavailableUntil[shard.Index] = clock.GetUtcNow() + UnavailableFor;
            Observe(shard.Index, shard.Remaining + shard.InTransit);
        }
    }

    /// <summary>Takes a shard's own report of its remaining tickets.</summary>
    private void Observe(int index, long remaining) => _remaining[index] = Math.Max(0, remaining);

    /// <summary>Lowers the view after a refusal: the shard has at most <paramref name="bound"/> left.</summary>
    private void Lower(int index, long bound) => _remaining[index] = Math.Min(_remaining[index], Math.Max(0, bound));

    private bool IsEligible(int index, int quantity, DateTimeOffset now) =>
        _remaining[index] >= quantity && _unavailableUntil[index] <= now;

    /// <summary>A random eligible shard, scanning from a random start so load spreads evenly; -1 if none.</summary>
    private int PickShard(int quantity)
    {
        var now = clock.GetUtcNow();
        var count = _remaining.Length;
        var start = Random.Shared.Next(count);
        for (var step = 0; step < count; step++)
        {
            var index = (start + step) % count;
            if (IsEligible(index, quantity, now)) return index;
        }
        return -1;
    }

    private ImmutableArray<int> PickCandidates(int quantity, int exclude)
    {
        var now = clock.GetUtcNow();
        var count = _remaining.Length;
        var start = Random.Shared.Next(count);
        var picked = ImmutableArray.CreateBuilder<int>(CandidatesPerCall);
        for (var step = 0; step < count && picked.Count < CandidatesPerCall; step++)
        {
            var index = (start + step) % count;
            if (index != exclude && IsEligible(index, quantity, now)) picked.Add(index);
        }
        return picked.ToImmutable();
    }

    private IInventoryShardGrain Shard(int index) =>
        _shards[index] ??= GrainFactory.GetGrain<IInventoryShardGrain>(new ShardAddress(_event!.Id, _type!.Id, index).Key);
}
