using OrleansTickets.Events;
using OrleansTickets.Inventory;
using OrleansTickets.Orders;

namespace OrleansTickets.Storage;

/// <summary>
/// Everything one shard commits in one group commit: its new sold count (fenced by epoch and the previous
/// count), the orders with their tickets, idempotency keys recorded by the shard as a key's home, and, rarely,
/// changes to its inventory.
/// </summary>
public sealed record LedgerBatch(
    ShardAddress Shard,
    long Epoch,
    long OldSold,
    long NewSold,
    IReadOnlyList<OrderDetails> Orders,
    IReadOnlyList<IdempotencyRecord> Keys,
    InventoryChanges? Changes = null);

/// <summary>
/// The rare part of a batch: escrow transfers, a drain, refusals. Its inventory columns are written by the same
/// fenced UPDATE as the sold count, so "capacity shrank" and "transfer recorded" commit together or not at all.
/// </summary>
public sealed record InventoryChanges(
    long Capacity,
    string Segments,
    bool Retired,
    IReadOnlyList<OutgoingTransfer> TransfersOut,
    IReadOnlyList<TicketTransfer> TransfersIn,
    IReadOnlyList<string> Delivered,
    IReadOnlyList<string> Refusals);

/// <summary>A gift this shard recorded, and where it must be delivered.</summary>
public sealed record OutgoingTransfer(string ReceiverKey, TicketTransfer Transfer);

/// <summary>An idempotency key held by its home shard, and the order it maps to (possibly on another shard).</summary>
/// <param name="Key">The client's key.</param>
/// <param name="Fingerprint">The fingerprint of the request that first used the key.</param>
/// <param name="OrderId">The order the key maps to from this commit on.</param>
/// <param name="PreviousOrderId">
/// Null for a key new to the database: the commit inserts it, and is refused if the event already has it. Otherwise
/// the order the home last recorded for the key: the commit moves the key only if it still points there.
/// </param>
/// <param name="Home">
/// Null when the batch's own shard is the key's home. Otherwise the batch is a holder's on the home's database,
/// recording a new key (never a move) for the home with the order it sells: the key row names the home, and is
/// written only while the home's row has this epoch (else the batch is refused as for a key conflict).
/// </param>
public sealed record IdempotencyRecord(string Key, string Fingerprint, string OrderId, string? PreviousOrderId = null, ForwardingHome? Home = null);

/// <summary>An idempotency key as stored: the home shard holding it, its request's fingerprint and its order.</summary>
public sealed record StoredKey(string ShardKey, string Fingerprint, string OrderId);

/// <summary>What the database did with a <see cref="LedgerBatch"/>.</summary>
/// <param name="Kind">Committed, fenced, or refused for a key.</param>
/// <param name="ConflictingKey">For <see cref="CommitOutcomeKind.KeyConflict"/>: the idempotency key another shard holds.</param>
public sealed record CommitOutcome(CommitOutcomeKind Kind, string? ConflictingKey = null)
{
    /// <summary>Durably committed.</summary>
    public static CommitOutcome Committed { get; } = new(CommitOutcomeKind.Committed);

    /// <summary>Refused: another activation claimed the shard since this one did, or the sold count moved. Nothing was written.</summary>
    public static CommitOutcome Fenced { get; } = new(CommitOutcomeKind.Fenced);

    /// <summary>
    /// Refused: the event already has <paramref name="key"/> (a new key), or the key no longer points at the order
    /// the batch expected (a move). Nothing of the batch was written; the rest of the group was. The stored key
    /// (<see cref="ShardLedger.ReadKeyAsync"/>) says whether it is this shard's own or another type's home's.
    /// </summary>
    public static CommitOutcome KeyConflict(string key) => new(CommitOutcomeKind.KeyConflict, key);
}

/// <summary>The kinds of <see cref="CommitOutcome"/>.</summary>
public enum CommitOutcomeKind
{
    /// <summary>Durably committed.</summary>
    Committed,

    /// <summary>Refused by the fence.</summary>
    Fenced,

    /// <summary>Refused by the database's one-key-per-event uniqueness, or a move found the key changed.</summary>
    KeyConflict,
}

/// <summary>A shard's row as its claim left it.</summary>
public sealed record ClaimedRow(long Epoch, long Sold, long Capacity, string Segments, bool Retired);

/// <summary>What a shard finds in its database when it claims its row.</summary>
/// <remarks>
/// Idempotency keys are not loaded: a home reads a key when the database refuses it (see InventoryShardGrain.Keys.cs).
/// <see cref="TakenInFromShards"/>, <see cref="Settled"/> and <see cref="GrantedIn"/> are the totals a shard reports beside its counts
/// (see <see cref="OrleansTickets.Sales.ShardSales"/>).
/// </remarks>
public sealed record ShardClaim(
    ClaimedRow Row,
    IReadOnlyList<OutgoingTransfer> Undelivered,
    IReadOnlyList<string> TakenIn,
    IReadOnlyList<string> Refused,
    long TakenInFromShards,
    long Settled,
    long GrantedIn)
{
    public long Epoch => Row.Epoch;

    public long Sold => Row.Sold;
}
