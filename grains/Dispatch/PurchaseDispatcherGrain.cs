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
/// The view is a cache of upper bounds. <c>_remaining[i]</c> only ever decreases, and only to a value a shard
/// reported (or below a quantity it refused), so skipping a shard whose bound is below the quantity never skips one
/// that could have served. It is never trusted for correctness: the shard itself decides every sale.
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
    private static readonly TimeSpan UnavailableFor = TimeSpan.FromSeconds(1);

    private EventDefinition? _event;
    private TicketTypeDefinition? _type;
    private long[] _remaining = [];
    private DateTimeOffset[] _unavailableUntil = [];

    // Grain references are cached: creating one resolves the interface type by reflection each time.
    private IInventoryShardGrain?[] _shards = [];
    private IInventoryShardGrain?[] _homes = [];

    /// <inheritdoc />
    public async Task<PurchaseResult> Purchase(PurchaseRequest request)
    {
        if (_type is null && !await LoadDefinitionAsync(request)) return PurchaseResult.NotFound;
        if (request.Quantity > _type!.MaxPerOrder) return new PurchaseResult(PurchaseStatus.TooManyTickets, Remaining: _type.MaxPerOrder);
        return request.IdempotencyKey is { } key
            ? await PurchaseAtHomeAsync(request, key)
            : await PurchaseAnywhereAsync(request);
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

    private async Task<PurchaseResult> PurchaseAnywhereAsync(PurchaseRequest request)
    {
        var purchase = new ShardPurchase(request, string.Empty, []);
        var refreshed = false;
        while (true)
        {
            var index = PickShard(request.Quantity, exclude: -1);
            if (index < 0)
            {
                if (refreshed || AnyUnavailable(request.Quantity)) return Exhausted(request.Quantity);
                await RefreshAsync();
                refreshed = true;
                continue;
            }
            var result = await Shard(index).Purchase(purchase);
            switch (result.Status)
            {
                case PurchaseStatus.Created:
                    Observe(index, result.Remaining);
                    return result;
                case PurchaseStatus.SoldOut:
                    Observe(index, result.Remaining);
                    continue;
                case PurchaseStatus.Unavailable:
                    _unavailableUntil[index] = clock.GetUtcNow() + UnavailableFor;
                    continue;
                default:
                    return result;
            }
        }
    }

    private async Task<PurchaseResult> PurchaseAtHomeAsync(PurchaseRequest request, string key)
    {
        var flatIndex = (int)(KeyHash.Of(key) % (ulong)_event!.TotalShards);
        var home = _event.ShardAt(flatIndex);
        var homeIndex = home.TicketTypeId == _type!.Id ? home.Index : -1;
        var homeGrain = _homes[flatIndex] ??= GrainFactory.GetGrain<IInventoryShardGrain>(home.Key);
        var fingerprint = request.Fingerprint();
        var refreshed = false;
        while (true)
        {
            var candidates = PickCandidates(request.Quantity, homeIndex);
            var result = await homeGrain.Purchase(new ShardPurchase(request, fingerprint, candidates));
            if (result.Status != PurchaseStatus.SoldOut) return result;

            // The home refused locally and every candidate refused: each has fewer than Quantity left.
            if (homeIndex >= 0) Observe(homeIndex, Math.Min(_remaining[homeIndex], request.Quantity - 1));
            foreach (var index in candidates) Observe(index, Math.Min(_remaining[index], request.Quantity - 1));
            if (PickShard(request.Quantity, exclude: -1) >= 0) continue;
            if (refreshed || AnyUnavailable(request.Quantity)) return Exhausted(request.Quantity);
            await RefreshAsync();
            refreshed = true;
            // Ask the home again only if the exact counts revealed a shard that can still serve the order.
            if (PickShard(request.Quantity, exclude: -1) < 0) return Exhausted(request.Quantity);
        }
    }

    /// <summary>Answer when no shard can take the order: sold out, or unavailable if a down shard might have.</summary>
    private PurchaseResult Exhausted(int quantity) =>
        AnyUnavailable(quantity)
            ? PurchaseResult.Unavailable
            : new PurchaseResult(PurchaseStatus.SoldOut, Remaining: _remaining.Sum());

    /// <summary>Replaces the view's bounds with the shards' exact counts; only shards that may still hold tickets are asked.</summary>
    private async Task RefreshAsync()
    {
        var open = Enumerable.Range(0, _remaining.Length).Where(i => _remaining[i] > 0).ToList();
        var sales = await Task.WhenAll(open.Select(i => Shard(i).GetSales()));
        foreach (var shard in sales)
        {
            if (shard.Status == Sales.ShardStatus.Unavailable) _unavailableUntil[shard.Index] = clock.GetUtcNow() + UnavailableFor;
            Observe(shard.Index, shard.Remaining);
        }
    }

    private void Observe(int index, long remaining) => _remaining[index] = Math.Min(_remaining[index], Math.Max(0, remaining));

    private bool IsEligible(int index, int quantity, DateTimeOffset now) =>
        _remaining[index] >= quantity && _unavailableUntil[index] <= now;

    private bool AnyUnavailable(int quantity)
    {
        var now = clock.GetUtcNow();
        for (var i = 0; i < _remaining.Length; i++)
        {
            if (_remaining[i] >= quantity && _unavailableUntil[i] > now) return true;
        }
        return false;
    }

    /// <summary>A random eligible shard, scanning from a random start so load spreads evenly; -1 if none.</summary>
    private int PickShard(int quantity, int exclude)
    {
        var now = clock.GetUtcNow();
        var count = _remaining.Length;
        var start = Random.Shared.Next(count);
        for (var step = 0; step < count; step++)
        {
            var index = (start + step) % count;
            if (index != exclude && IsEligible(index, quantity, now)) return index;
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
