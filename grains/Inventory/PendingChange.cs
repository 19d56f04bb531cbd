using OrleansTickets.Storage;

namespace OrleansTickets.Inventory;

/// <summary>What kind of inventory change a <see cref="PendingChange"/> is.</summary>
internal enum ChangeKind
{
    /// <summary>Take in a transfer: append its serials.</summary>
    TakeIn,

    /// <summary>Give serials away: cut them from the end and record the transfer for delivery.</summary>
    Give,

    /// <summary>Record that a gift reached its receiver.</summary>
    Delivered,

    /// <summary>Remember a forwarded order id this shard refused.</summary>
    Refusal,

    /// <summary>Stop taking tickets in (a drain).</summary>
    Retire,
}

/// <summary>An inventory change waiting for the shard's next group commit, with the caller waiting on it.</summary>
internal sealed class PendingChange
{
    private PendingChange(ChangeKind kind) => Kind = kind;

    public ChangeKind Kind { get; }

    /// <summary>For <see cref="ChangeKind.TakeIn"/>: the transfer. For <see cref="ChangeKind.Give"/>: filled in at commit.</summary>
    public TicketTransfer? Transfer { get; set; }

    /// <summary>For <see cref="ChangeKind.Give"/>: the serials reserved for it when it was queued.</summary>
    public long Quantity { get; private init; }

    /// <summary>For <see cref="ChangeKind.Give"/>: the receiver. For <see cref="ChangeKind.Delivered"/>: unused.</summary>
    public string? ReceiverKey { get; private init; }

    /// <summary>The transfer id (Give, Delivered) or the refused order id (Refusal).</summary>
    public string? Id { get; private init; }

    /// <summary>
    /// For <see cref="ChangeKind.TakeIn"/>: left out of the commit, because the shard is retiring (refused) or
    /// already holds the transfer.
    /// </summary>
    public bool Skipped { get; set; }

    /// <summary>True once committed; false when refused or nothing was written. Faults are never set.</summary>
    /// <remarks>
    /// Its waiters go on in a turn of their own, after the cycle that completes it: what follows a change (a delivery
    /// tick deciding whether to stop, a drain handing on what came back) must not run inside that cycle. Changes are
    /// transfers, not sales, so this costs the purchase path nothing.
    /// </remarks>
    public TaskCompletionSource<bool> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public static PendingChange TakeIn(TicketTransfer transfer) => new(ChangeKind.TakeIn) { Transfer = transfer, Id = transfer.TransferId };

    public static PendingChange Give(string transferId, string receiverKey, long quantity) =>
        new(ChangeKind.Give) { Id = transferId, ReceiverKey = receiverKey, Quantity = quantity };

    public static PendingChange Delivered(string transferId) => new(ChangeKind.Delivered) { Id = transferId };

    public static PendingChange Refusal(string orderId) => new(ChangeKind.Refusal) { Id = orderId };

    public static PendingChange Retire() => new(ChangeKind.Retire);

    /// <summary>The gift as recorded, once a <see cref="ChangeKind.Give"/> committed.</summary>
    public OutgoingTransfer? Outgoing => Kind == ChangeKind.Give && Transfer is { } t ? new OutgoingTransfer(ReceiverKey!, t) : null;
}
