using System.Collections.Immutable;
using Orleans.Concurrency;
using OrleansTickets.Events;
using OrleansTickets.Inventory;
using OrleansTickets.Orders;
using OrleansTickets.Storage;

namespace OrleansTickets.Export;

/// <summary>
/// Reads an event's committed orders for the back office, straight from the shard databases that hold them.
/// </summary>
/// <remarks>
/// <para>
/// Stateless: a page's cursor names the database and the last order key read there, so any activation on any silo
/// serves the next page, and a client that lost a page asks again with the same cursor. Databases are read in
/// ordinal order and each in order-key order: a page reads the range of the index <c>orders_event</c> (event, key)
/// after its cursor, so it neither sorts nor passes over other events' orders on the same database. Keys follow mint
/// time, so a sale's inserts land at the end of its event's range (about one leaf per group commit).
/// </para>
/// <para>
/// What a page holds: only rows in committed transactions, so only durable orders. Shards' orders never move (a drain
/// moves unsold serials only), so an order is in exactly one database, under one key, and a walk of the pages gives
/// each order at most once. Keys follow the time an order was minted, not committed: an order committed during the
/// walk is passed over if its key sorts before its database's cursor (a shard's commit in flight holds orders minted
/// meanwhile; a forward mints at the home and commits at the holder) or if the walk has left its database.
/// </para>
/// <para>
/// So the last page says how many tickets the event's shards had sold, read after its orders: every order a walk's
/// pages hold was committed before that read and is counted in it, so pages whose tickets add up to it hold every
/// order committed by then, and fewer means some were passed over (walk again). After the sale the first walk is
/// whole.
/// </para>
/// <para>
/// One activation per event on each silo, reentrant: a caller's cancellation (a back office that hung up) is sent to
/// the grain's id, and a stateless worker with several activations hands it to any of them, often not the one
/// reading the page, which then reads on (dotnet/orleans#9877). With one activation it reaches the read. Pages of
/// one event interleave on it instead of running on several; they share nothing but the injected databases, so any
/// interleaving is safe, and on PostgreSQL each page's reads still run in parallel with the others' at the database.
/// Microsoft.Data.Sqlite runs its asynchronous methods synchronously, so on SQLite a page reads within one turn: pages
/// of one event on one silo follow one another (each a few tens of milliseconds), and a cancellation can reach a page
/// only while it waits for a lookup connection, not once it reads.
/// </para>
/// </remarks>
[StatelessWorker(1), Reentrant]
public sealed class OrderExportGrain(ShardDatabases databases) : Grain, IOrderExportGrain
{
    /// <inheritdoc />
    public async Task<OrderPage?> ReadPage(ExportCursor? after, int limit, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        // The page is built in an array of this size: the API's own bound, held here for any other caller too.
        ArgumentOutOfRangeException.ThrowIfGreaterThan(limit, IOrderExportGrain.MaxPageSize);
        var eventId = this.GetPrimaryKeyString();
        var catalog = GrainFactory.GetEventGrain(eventId);
        var shardDatabases = await catalog.GetShardDatabases();
        if (shardDatabases.IsEmpty) return null;
        if (after is not null && (await catalog.GetDefinition() is not { } definition || !after.IsOf(definition, shardDatabases)))
        {
            return OrderPage.RefusedCursor;
        }
        // The cursor names a real order of this event in that database, as every page's next does: an edited key (one
        // sorting past the database's last order) would otherwise skip orders as silently as a made-up database.
        if (after is not null && OrderId.TryGetShard(after.AfterOrderId, out var cursorShard)
            && await ReadAsync(after.Ordinal, () => new ShardLedger(databases.Get(after.Ordinal), cursorShard)
                .LookUpOrderAsync(after.AfterOrderId, cancellationToken)) is null)
        {
            return OrderPage.RefusedCursor;
        }
        var ordinals = shardDatabases.Distinct().Order().ToList();
        var orders = ImmutableArray.CreateBuilder<OrderDetails>(limit);
        var tickets = 0L;
        var lastOrdinal = -1;
        foreach (var ordinal in ordinals)
        {
            if (after is not null && ordinal < after.Ordinal) continue;
            var afterKey = after is not null && ordinal == after.Ordinal ? after.AfterKey : "";
            // Bounded by tickets too: a thousand orders of a hundred tickets each made a page of tens of megabytes, built
            // whole in this grain and sent whole through Orleans. An empty page takes its first order whatever its size,
            // so every page moves the walk on.
            var (page, full) = await ReadAsync(ordinal, () => databases.Get(ordinal).ReadOrderPageAsync(
                eventId, afterKey, limit - orders.Count, IOrderExportGrain.MaxPageTickets - tickets, firstOrderAlways: orders.Count == 0,
                cancellationToken));
            orders.AddRange(page);
            tickets += page.Sum(order => (long)order.Quantity);
            if (page.Count > 0) lastOrdinal = ordinal;
            if (full)
            {
                // The page ends here: the next starts after its last order, in the database that order came from (this
                // one, or an earlier one when not even this database's first order fitted).
                var next = new ExportCursor(lastOrdinal, orders[^1].OrderId);
                return new OrderPage(orders.ToImmutable(), next);
            }
        }
        // After the orders: a count read earlier could miss an order this walk gave, and a whole walk would then look short
        // and a short one whole.
        var sold = 0L;
        foreach (var ordinal in ordinals)
        {
            sold += await ReadAsync(ordinal, () => databases.Get(ordinal).ReadEventSoldAsync(eventId, cancellationToken));
        }
        return new OrderPage(orders.ToImmutable(), Next: null, TicketsSold: sold);
    }

    private static async Task<T> ReadAsync<T>(int ordinal, Func<Task<T>> read)
    {
        try
        {
            return await read();
        }
        catch (ShardDatabaseBusyException busy)
        {
            throw new ShardBusyException(busy.Message);
        }
        catch (Exception exception)
        {
            // Whatever stopped the read (the server, the files, a database refused by name, the silo stopping), a
            // later page read may succeed: 503, as for reading one order, not an internal error.
            throw new ShardUnavailableException($"Shard database {ordinal} cannot be read now: {exception.Message}");
        }
    }
}
