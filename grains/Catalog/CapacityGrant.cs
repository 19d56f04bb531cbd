namespace OrleansTickets.Catalog;

/// <summary>
/// Serials an operator added to a ticket type, reserved in the catalog before they are handed to a shard.
/// Stored until a shard has taken them in, so a grant cut short by a crash is delivered again.
/// </summary>
[GenerateSerializer]
public sealed class CapacityGrant
{
    /// <summary>Also the transfer id the shard records, which makes delivery idempotent.</summary>
    [Id(0)] public string TransferId { get; set; } = "";

    [Id(1)] public string TicketTypeId { get; set; } = "";

    /// <summary>The shard it is offered to first; shards that refuse (drained) pass it on to the next.</summary>
    [Id(2)] public int ShardIndex { get; set; }

    [Id(3)] public long FirstSerial { get; set; }

    [Id(4)] public long Quantity { get; set; }
}
