namespace OrleansTickets.Inventory;

/// <summary>What a shard did with a <see cref="TicketTransfer"/> delivered to it.</summary>
public enum TransferOutcome
{
    /// <summary>Durably taken in (now or by an earlier delivery of the same transfer).</summary>
    Accepted,

    /// <summary>The shard cannot write right now; the donor keeps the transfer and delivers it again later.</summary>
    Unavailable,

    /// <summary>The shard will never take it (it was drained); the donor takes it back, or the catalog sends it elsewhere.</summary>
    Refused,
}
