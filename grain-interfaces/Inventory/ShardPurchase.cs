using System.Collections.Immutable;
using OrleansTickets.Orders;

namespace OrleansTickets.Inventory;

/// <summary>A purchase as handed to one shard.</summary>
/// <param name="Request">The buyer's request.</param>
/// <param name="Fingerprint">The request's fingerprint when it carries an idempotency key, else empty.</param>
/// <param name="Candidates">
/// Shards of the requested type the dispatcher believes can still sell, in the order to try them. The key's home
/// shard forwards to these when it cannot serve the order itself, passing over any that says it has no room.
/// </param>
/// <param name="ForwardedOrderId">
/// Set when a home shard forwards a keyed order: the order id it reserved, which makes the forward idempotent.
/// </param>
/// <param name="Donors">
/// Set when no single shard has enough tickets: shards of the type the serving shard may take tickets from first.
/// </param>
/// <param name="FreshOrderId">
/// True when the home minted <paramref name="ForwardedOrderId"/> for this very call, so no earlier call can have
/// created it and the holder may skip looking it up in its database. Replays always send false.
/// </param>
[GenerateSerializer, Immutable]
public sealed record ShardPurchase(
    PurchaseRequest Request, string Fingerprint, ImmutableArray<int> Candidates, string? ForwardedOrderId = null,
    bool FreshOrderId = false, ImmutableArray<int> Donors = default);
