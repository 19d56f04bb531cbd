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
/// Set when a home shard forwards a keyed order: the order id it reserved, which makes the forward idempotent. Set
/// too by a dispatcher for an order without a key: the id it minted for the shard, so that after an answer it did not
/// get it can ask the shard again for that order (not fresh): the shard answers with it, makes it, or refuses it for
/// good, and the dispatcher learns the outcome instead of calling it unknown.
/// </param>
/// <param name="Donors">
/// Set when no single shard has enough tickets: shards of the type the serving shard may take tickets from first.
/// </param>
/// <param name="FreshOrderId">
/// True when the home (or a keyless order's dispatcher) minted <paramref name="ForwardedOrderId"/> for this very call,
/// so no earlier call can have created it and the holder may skip looking it up in its database. Replays, and a
/// dispatcher's ask again, always send false.
/// </param>
/// <param name="LocalCandidates">
/// How many of the first <paramref name="Candidates"/> the dispatcher believes share the key's database: a home
/// forwarding to one of them lets it record the key with the order, in one commit.
/// </param>
/// <param name="Home">
/// Set when a home forwards a new key's order to a holder on its own database: the holder records the key in the
/// order's commit, fenced by the home's epoch, instead of the home committing it first.
/// </param>
[GenerateSerializer, Immutable]
public sealed record ShardPurchase(
    PurchaseRequest Request, string Fingerprint, ImmutableArray<int> Candidates, string? ForwardedOrderId = null,
    bool FreshOrderId = false, ImmutableArray<int> Donors = default, int LocalCandidates = 0, ForwardingHome? Home = null);
