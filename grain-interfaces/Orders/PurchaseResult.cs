using System.Collections.Immutable;

namespace OrleansTickets.Orders;

/// <summary>The answer to a purchase.</summary>
/// <param name="Status">How it ended.</param>
/// <param name="Order">The order when <see cref="PurchaseStatus.Created"/> or <see cref="PurchaseStatus.Replayed"/>.</param>
/// <param name="Remaining">
/// With <see cref="PurchaseStatus.Created"/> from a shard: what that shard can still sell, a hint for dispatchers' views.
/// With <see cref="PurchaseStatus.SoldOut"/>: tickets still unsold where the answer came from (a shard, or the whole type).
/// With <see cref="PurchaseStatus.TooManyTickets"/>: the per-order limit.
/// With <see cref="PurchaseStatus.Scattered"/>: the most tickets any one shard of the type may still hold (what it
/// holds, reserved tickets included, plus its gifts still in transit, which may come back), so the largest order that
/// may still sell.
/// </param>
/// <param name="Sightings">
/// From a home that forwarded (or tried to forward) a keyed order: the counts it heard from shards of the type on the
/// way, itself included, so that the dispatcher stops naming the ones that had no room. Default (none) otherwise.
/// </param>
[GenerateSerializer, Immutable]
public sealed record PurchaseResult(
    PurchaseStatus Status, OrderDetails? Order = null, long Remaining = 0, ImmutableArray<ShardSighting> Sightings = default)
{
    /// <summary>True when the buyer holds an order.</summary>
    public bool Succeeded => Status is PurchaseStatus.Created or PurchaseStatus.Replayed;

    /// <summary>Shared instance: no allocation on the hot refusal paths.</summary>
    public static PurchaseResult Unavailable { get; } = new(PurchaseStatus.Unavailable);

    /// <summary>Shared instance for an uncertain outcome.</summary>
    public static PurchaseResult Failed { get; } = new(PurchaseStatus.Failed);

    /// <summary>Shared instance for an unknown event or type.</summary>
    public static PurchaseResult NotFound { get; } = new(PurchaseStatus.NotFound);

    /// <summary>Shared instance for a key reused with another body.</summary>
    public static PurchaseResult KeyConflict { get; } = new(PurchaseStatus.KeyConflict);
}
