using System.Collections.Immutable;
using System.Data.Common;
using OrleansTickets.Events;
using OrleansTickets.Inventory;
using OrleansTickets.Orders;

namespace OrleansTickets.Storage;

/// <summary>Reads committed orders, with their tickets, back from a shard database.</summary>
internal static class StoredOrders
{
    /// <summary>
    /// The order in the reader's current row (columns as <see cref="ShardSql.OrderColumns"/>), without its tickets,
    /// and the runs of serials they are stored under.
    /// </summary>
    public static (OrderDetails Order, IReadOnlyList<SerialSegment> Serials) FromRow(DbDataReader row)
    {
        var quantity = Convert.ToInt32(row.GetValue(3));
        var currency = row.GetString(5);
        var unitPrice = Prices.Canonical(Money.FromCents(Convert.ToInt64(row.GetValue(4))), currency);
        var order = new OrderDetails(
            row.GetString(0), row.GetString(1), row.GetString(2), quantity, unitPrice, unitPrice * quantity, currency,
            new Buyer(row.GetString(6), row.GetString(7)), [],
            DateTimeOffset.FromUnixTimeMilliseconds(Convert.ToInt64(row.GetValue(8))));
        var firstSerial = Convert.ToInt64(row.GetValue(9));
        IReadOnlyList<SerialSegment> serials = row.IsDBNull(10) ? [new SerialSegment(firstSerial, quantity)] : SegmentText.Parse(row.GetString(10));
        return (order, serials);
    }

    /// <summary>The order with its tickets, read by serial range from the tickets table (one run at a time).</summary>
    public static async Task<OrderDetails> WithTicketsAsync(
        DbConnection connection, OrderDetails order, IReadOnlyList<SerialSegment> serials, CancellationToken cancellationToken)
    {
        var tickets = ImmutableArray.CreateBuilder<TicketDetails>(order.Quantity);
        foreach (var run in serials)
        {
            await using var read = new SqlStatement(ShardSql.ReadTickets)
                .With("@event_id", order.EventId).With("@ticket_type_id", order.TicketTypeId)
                .With("@first_serial", run.First).With("@end_serial", run.End)
                .With("@order_id", order.OrderId).ToCommand(connection, null);
            await using var reader = await read.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                tickets.Add(new TicketDetails(reader.GetString(1), Convert.ToInt64(reader.GetValue(0))));
            }
        }
        return order with { Tickets = tickets.ToImmutable() };
    }
}
