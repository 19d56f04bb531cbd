namespace OrleansTickets.Catalog;

/// <summary>
/// A grant issued under an operator's Idempotency-Key: the request it answered and what it issued, so the same key
/// with the same request gets the same grant back instead of a second one.
/// </summary>
[GenerateSerializer]
public sealed class KeyedGrant
{
    [Id(0)] public string TicketTypeId { get; set; } = "";

    [Id(1)] public long Quantity { get; set; }

    /// <summary>The shard the request named, or null for the next in rotation.</summary>
    [Id(2)] public int? RequestedShard { get; set; }

    [Id(3)] public string TransferId { get; set; } = "";

    [Id(4)] public int ShardIndex { get; set; }

    [Id(5)] public long FirstSerial { get; set; }

    /// <summary>Withdrawn because every shard of the type refused it (all drained): a repeat is refused too.</summary>
    [Id(6)] public bool Withdrawn { get; set; }

    /// <summary>
    /// When the grant was issued, or, once it left the pending list (taken in by a shard, or withdrawn), when it left
    /// it: the key is remembered for <see cref="TicketEventState.KeyRetention"/> after that. An operator told "pending"
    /// may retry a day later, after the grant was delivered; counted from the issue, the key would already be gone and
    /// the retry would grant new serials. A record stored by a build that did not date them is dated when an activation
    /// first reads it.
    /// </summary>
    [Id(7)] public DateTimeOffset RememberedFrom { get; set; }
}
