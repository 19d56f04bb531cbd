namespace OrleansTickets.Events;

/// <summary>How adding capacity ended.</summary>
public enum CapacityStatus
{
    /// <summary>A shard holds the new tickets; they are on sale.</summary>
    Added,

    /// <summary>The tickets are reserved and durably granted, but no shard could take them in yet; delivery is retried.</summary>
    Pending,

    /// <summary>No such event or ticket type, or no such shard.</summary>
    NotFound,

    /// <summary>The Idempotency-Key was used before for a different addition; nothing was added.</summary>
    KeyConflict,

    /// <summary>
    /// Every shard of the type is drained and takes no tickets in; nothing was added. The grant that found it out was
    /// withdrawn; once the type is known to be drained, no grant is issued at all.
    /// </summary>
    Refused,
}
