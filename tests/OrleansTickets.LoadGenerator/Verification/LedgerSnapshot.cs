namespace OrleansTickets.LoadGenerator.Verification;

/// <summary>Everything the shard databases hold about one event, read straight from their tables.</summary>
public sealed record LedgerSnapshot(
    IReadOnlyList<LedgerShard> Shards,
    IReadOnlyList<LedgerOrder> Orders,
    IReadOnlyList<LedgerTicket> Tickets,
    IReadOnlyList<LedgerTransfer> TransfersOut,
    IReadOnlyList<string> TransfersIn);

/// <summary>A <c>shard_state</c> row. <see cref="TicketTypeId"/> comes from the key (<c>event/type/index</c>).</summary>
public sealed record LedgerShard(string Database, string ShardKey, string TicketTypeId, long Capacity, long Sold);

/// <summary>An <c>orders</c> row.</summary>
public sealed record LedgerOrder(
    string Database, string OrderId, string ShardKey, string TicketTypeId, int Quantity, string? BuyerName = null, string? BuyerEmail = null);

/// <summary>A <c>tickets</c> row: one physical ticket.</summary>
public sealed record LedgerTicket(string Database, string TicketTypeId, long Serial, string OrderId, string Code);

/// <summary>A <c>transfers_out</c> row: serials a donor gave away, delivered or not yet.</summary>
public sealed record LedgerTransfer(string Database, string TransferId, string TicketTypeId, long Quantity, bool Delivered);
