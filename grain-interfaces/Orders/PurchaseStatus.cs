namespace OrleansTickets.Orders;

/// <summary>How a purchase ended. Every value other than <see cref="Failed"/> is a definite answer.</summary>
public enum PurchaseStatus
{
    /// <summary>A new order was committed durably.</summary>
    Created,

    /// <summary>The idempotency key was seen before; this is the order it created.</summary>
    Replayed,

    /// <summary>Not enough tickets left; nothing was written.</summary>
    SoldOut,

    /// <summary>The shard could not take part (database down, shard moving); nothing was written.</summary>
    Unavailable,

    /// <summary>The outcome is unknown (a commit failed midway). Retrying with the same idempotency key is safe.</summary>
    Failed,

    /// <summary>The idempotency key was used before with a different request body.</summary>
    KeyConflict,

    /// <summary>No such event or ticket type.</summary>
    NotFound,

    /// <summary>The quantity exceeds the ticket type's per-order limit.</summary>
    TooManyTickets,

    /// <summary>
    /// Enough tickets are left, but every shard of the type is drained and none holds this many: drained shards take
    /// no tickets in, so they can never be pooled for this order. Nothing was written; a smaller order may sell.
    /// </summary>
    Scattered,
}
