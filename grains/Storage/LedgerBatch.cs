using OrleansTickets.Events;
using OrleansTickets.Orders;

namespace OrleansTickets.Storage;

/// <summary>
/// Everything one shard commits in one group commit: its new sold count (fenced by epoch and the previous
/// count), the orders with their tickets, and idempotency keys recorded by the shard as a key's home.
/// </summary>
public sealed record LedgerBatch(
    ShardAddress Shard,
    long Epoch,
    long OldSold,
    long NewSold,
    IReadOnlyList<OrderDetails> Orders,
    IReadOnlyList<IdempotencyRecord> Keys);

/// <summary>An idempotency key held by its home shard, and the order it maps to (possibly on another shard).</summary>
public sealed record IdempotencyRecord(string Key, string Fingerprint, string OrderId);

/// <summary>What the database did with a <see cref="LedgerBatch"/>.</summary>
public enum CommitOutcome
{
    /// <summary>Durably committed.</summary>
    Committed,

    /// <summary>Refused: another activation claimed the shard since this one did, or the sold count moved. Nothing was written.</summary>
    Fenced,
}

/// <summary>What a shard finds in its database when it claims its row.</summary>
public sealed record ShardClaim(long Epoch, long Sold, IReadOnlyList<IdempotencyRecord> Keys);
