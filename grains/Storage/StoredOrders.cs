using System.Collections.Immutable;
using System.Data.Common;
using OrleansTickets.Events;
using OrleansTickets.Inventory;
using OrleansTickets.Orders;

namespace OrleansTickets.Storage;

/// <summary>Reads committed orders, with their tickets, back from a shard database.</summary>
internal static class StoredOrders
{
    // Bounds a batch's parameters (five per run) and its results held at once, well inside every driver's limits.
    private const int RunsPerBatch = 500;

    /// <summary>How many columns <see cref="FromRow"/> reads (<see cref="ShardSql.OrderColumns"/>); a query's own follow.</summary>
    public const int ColumnCount = 11;

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

    /// <summary>The order with its tickets, read by serial range from the tickets table.</summary>
    public static async Task<OrderDetails> WithTicketsAsync(
        DbConnection connection, OrderDetails order, IReadOnlyList<SerialSegment> serials, CancellationToken cancellationToken) =>
        (await WithTicketsAsync(connection, [(order, serials)], cancellationToken))[0];

    /// <summary>
    /// The orders with their tickets, in the same order. Each run of serials is one read by range; drivers that support
    /// <see cref="DbBatch"/> (Npgsql, SqlClient) send a batch of them per round trip, so an export page of a thousand
    /// orders costs a few round trips instead of a thousand (SQLite reads in-process and needs no batch).
    /// </summary>
    public static async Task<List<OrderDetails>> WithTicketsAsync(
        DbConnection connection, IReadOnlyList<(OrderDetails Order, IReadOnlyList<SerialSegment> Serials)> rows, CancellationToken cancellationToken)
    {
        var runs = new List<(int Row, SqlStatement Read)>();
        for (var row = 0; row < rows.Count; row++)
        {
            var order = rows[row].Order;
            foreach (var run in rows[row].Serials)
            {
                runs.Add((row, new SqlStatement(ShardSql.ReadTickets)
                    .With("@event_id", order.EventId).With("@ticket_type_id", order.TicketTypeId)
                    .With("@first_serial", run.First).With("@end_serial", run.End)
                    .With("@order_id", order.OrderId)));
            }
        }
        var tickets = rows.Select(r => ImmutableArray.CreateBuilder<TicketDetails>(r.Order.Quantity)).ToArray();
        if (connection.CanCreateBatch)
        {
            foreach (var chunk in runs.Chunk(RunsPerBatch))
            {
                await using var batch = SqlStatement.ToBatch(connection, null, chunk.Select(run => run.Read));
                // One result set per command, in the batch's order.
                await using var reader = await batch.ExecuteReaderAsync(cancellationToken);
                for (var i = 0; i < chunk.Length; i++)
                {
                    if (i > 0 && !await reader.NextResultAsync(cancellationToken)) throw new InvalidOperationException("A ticket read of the batch gave no result.");
                    await ReadTicketsAsync(reader, tickets[chunk[i].Row], cancellationToken);
                }
            }
        }
        else
        {
            foreach (var (row, read) in runs)
            {
                await using var command = read.ToCommand(connection, null);
                await using var reader = await command.ExecuteReaderAsync(cancellationToken);
                await ReadTicketsAsync(reader, tickets[row], cancellationToken);
            }
        }
        var orders = new List<OrderDetails>(rows.Count);
        for (var row = 0; row < rows.Count; row++) orders.Add(rows[row].Order with { Tickets = tickets[row].ToImmutable() });
        return orders;
    }

    private static async Task ReadTicketsAsync(DbDataReader reader, ImmutableArray<TicketDetails>.Builder tickets, CancellationToken cancellationToken)
    {
        while (await reader.ReadAsync(cancellationToken))
        {
            tickets.Add(new TicketDetails(reader.GetString(1), Convert.ToInt64(reader.GetValue(0))));
        }
    }
}
