using System.Collections.Immutable;

namespace OrleansTickets.Sales;

/// <summary>Sales of one ticket type, shard by shard.</summary>
[GenerateSerializer, Immutable]
public sealed record TicketTypeSales(string Id, long Capacity, long Sold, long Remaining, ImmutableArray<ShardSales> Shards);
