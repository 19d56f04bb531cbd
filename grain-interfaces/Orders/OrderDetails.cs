using System.Collections.Immutable;

namespace OrleansTickets.Orders;

/// <summary>A committed order, exactly as stored in its shard's database.</summary>
[GenerateSerializer, Immutable]
public sealed record OrderDetails(
    string OrderId,
    string EventId,
    string TicketTypeId,
    int Quantity,
    decimal UnitPrice,
    decimal Total,
    string Currency,
    Buyer Buyer,
    ImmutableArray<TicketDetails> Tickets,
    DateTimeOffset CreatedAt);
