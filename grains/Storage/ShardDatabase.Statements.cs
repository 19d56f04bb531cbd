using System.Globalization;
using System.Text;
using OrleansTickets.Orders;

namespace OrleansTickets.Storage;

/// <summary>The statements a group commit runs for each batch: its fence, its inventory changes, and its rows.</summary>
public sealed partial class ShardDatabase
{
    /// <summary>
    /// The batch's fence: sold count only, or with the inventory columns when the batch changes them (SQLite and SQL
    /// Server; PostgreSQL fences inside its group statement).
    /// </summary>
    internal static SqlStatement FenceFor(LedgerBatch batch)
    {
        var fence = new SqlStatement(batch.Changes is null ? ShardSql.Fence : ShardSql.FenceWithInventory)
            .With("@shard_key", batch.Shard.Key).With("@epoch", batch.Epoch)
            .With("@old_sold", batch.OldSold).With("@new_sold", batch.NewSold);
        if (batch.Changes is { } changes)
        {
            fence.With("@capacity", changes.Capacity).With("@segments", changes.Segments).With("@retired", changes.Retired ? 1 : 0);
        }
        return fence;
    }

    /// <summary>
    /// The rare writes of an inventory change, after its fence matched (SQLite and SQL Server; PostgreSQL writes the
    /// same rows inside its group statement, <see cref="PostgresLedgerWrites"/>).
    /// </summary>
    internal static IEnumerable<SqlStatement> InventoryWrites(LedgerBatch batch, ShardSql sql) =>
        // Nearly every batch only sells: it gets the shared empty array, not an iterator of its own.
        batch.Changes is { } changes ? InventoryWrites(batch.Shard.Key, changes, sql) : [];

    private static IEnumerable<SqlStatement> InventoryWrites(string shardKey, InventoryChanges changes, ShardSql sql)
    {
        foreach (var (receiver, transfer) in changes.TransfersOut)
        {
            yield return new SqlStatement(ShardSql.InsertTransferOut)
                .With("@transfer_id", transfer.TransferId).With("@donor_key", shardKey).With("@receiver_key", receiver)
                .With("@segments", SegmentText.Format(transfer.Segments)).With("@quantity", transfer.Quantity);
        }
        foreach (var transfer in changes.TransfersIn)
        {
            yield return new SqlStatement(ShardSql.InsertTransferIn)
                .With("@transfer_id", transfer.TransferId).With("@receiver_key", shardKey).With("@donor_key", transfer.Donor)
                .With("@segments", SegmentText.Format(transfer.Segments)).With("@quantity", transfer.Quantity);
        }
        foreach (var transferId in changes.Delivered)
        {
            yield return new SqlStatement(ShardSql.MarkDelivered).With("@transfer_id", transferId).With("@donor_key", shardKey);
        }
        foreach (var orderId in changes.Refusals)
        {
            yield return new SqlStatement(sql.InsertRefusal).With("@order_id", orderId).With("@shard_key", shardKey);
        }
    }

    /// <summary>
    /// An order's serials as stored: null when they are one run from <c>first_serial</c> (almost always), else the
    /// segments, for an order that used serials its shard took in from others.
    /// </summary>
    internal static string? SerialSegmentsOf(OrderDetails order)
    {
        var tickets = order.Tickets;
        var contiguous = true;
        for (var i = 1; i < tickets.Length && contiguous; i++) contiguous = tickets[i].Serial == tickets[i - 1].Serial + 1;
        if (contiguous) return null;
        var segments = new List<Inventory.SerialSegment>();
        foreach (var ticket in tickets)
        {
            if (segments.Count > 0 && segments[^1].End == ticket.Serial) segments[^1] = segments[^1] with { Count = segments[^1].Count + 1 };
            else segments.Add(new Inventory.SerialSegment(ticket.Serial, 1));
        }
        return SegmentText.Format(segments);
    }

    /// <summary>A batch's orders, tickets and keys, a statement per order and per key (engines without array parameters).</summary>
    private IEnumerable<SqlStatement> RowWrites(LedgerBatch batch)
    {
        var shardKey = batch.Shard.Key;
        foreach (var order in batch.Orders)
        {
            yield return new SqlStatement(_sql.InsertOrder)
                .With("@order_key", OrderId.KeyOf(order.OrderId)).With("@order_id", order.OrderId).With("@shard_key", shardKey)
                .With("@event_id", order.EventId).With("@ticket_type_id", order.TicketTypeId)
                .With("@quantity", order.Quantity).With("@first_serial", order.Tickets[0].Serial)
                .With("@serial_segments", (object?)SerialSegmentsOf(order) ?? DBNull.Value)
                .With("@unit_price_cents", Money.ToCents(order.UnitPrice))
                .With("@currency", order.Currency).With("@buyer_name", order.Buyer.Name)
                .With("@buyer_email", order.Buyer.Email).With("@created_at_ms", order.CreatedAt.ToUnixTimeMilliseconds());
            yield return TicketInsert(order);
        }
        foreach (var key in batch.Keys)
        {
            if (key.Home is { } home)
            {
                yield return new SqlStatement(_sql.InsertForwardedKey)
                    .With("@event_id", batch.Shard.EventId).With("@idem_key", key.Key).With("@shard_key", home.ShardKey)
                    .With("@fingerprint", key.Fingerprint).With("@order_id", key.OrderId).With("@home_epoch", home.Epoch);
                continue;
            }
            yield return key.PreviousOrderId is { } previous
                ? new SqlStatement(_sql.MoveKey)
                    .With("@order_id", key.OrderId).With("@event_id", batch.Shard.EventId).With("@idem_key", key.Key)
                    .With("@shard_key", shardKey).With("@previous_order_id", previous)
                : new SqlStatement(ShardSql.InsertKey)
                    .With("@event_id", batch.Shard.EventId).With("@idem_key", key.Key).With("@shard_key", shardKey)
                    .With("@fingerprint", key.Fingerprint).With("@order_id", key.OrderId);
        }
    }

    private static SqlStatement TicketInsert(OrderDetails order)
    {
        var sql = new StringBuilder(ShardSql.InsertTicketsPrefix);
        for (var i = 0; i < order.Tickets.Length; i++)
        {
            if (i > 0) sql.Append(',');
            sql.Append(CultureInfo.InvariantCulture, $"(@e, @t, @s{i}, @o, @c{i})");
        }
        var statement = new SqlStatement(sql.ToString())
            .With("@e", order.EventId).With("@t", order.TicketTypeId).With("@o", order.OrderId);
        for (var i = 0; i < order.Tickets.Length; i++)
        {
            statement.With($"@s{i}", order.Tickets[i].Serial).With($"@c{i}", order.Tickets[i].Code);
        }
        return statement;
    }
}
