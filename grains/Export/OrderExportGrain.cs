using System.Collections.Immutable;
using Orleans.Concurrency;
using OrleansTickets.Events;
using OrleansTickets.Inventory;
using OrleansTickets.Orders;
using OrleansTickets.Storage;
using OrleansTickets.Tickets;

namespace OrleansTickets.Export;

/// <summary>
/// Reads an event's committed orders for the back office, straight from the shard databases that hold them.
/// </summary>
/// <remarks>
/// <para>
/// Stateless: a page's cursor holds where the walk stands in every one of the event's databases (sealed, see
/// <see cref="ExportCursorSeal"/>), so any activation on any silo serves the next page, and a client that lost a page
/// asks again with the same cursor. Each database is read in save order (<see cref="SavePosition"/>): a range of the
/// index <c>orders_saved</c> (event, mark, key) after the cursor's place there and below the database's save horizon,
/// read just before. Every order that commits later gets a mark at or past that horizon, so it sorts after the place
/// the cursor keeps, and a later page reads it: a walk passes over no order, whenever it committed.
/// </para>
/// <para>
/// A page reads the databases round from the cursor's current one, each from its own place, until the page is full or
/// it has read every database once; so a database the walk left is read again on the next round, and the page that
/// reads them all without filling is the last. What a page holds: only rows of committed transactions, so only
/// durable orders; shards' orders never move (a drain moves unsold serials only), so an order is in exactly one
/// database, under one mark and key, and a walk gives each order at most once. The last page holds (or an earlier
/// one held) every order committed before that page began, except, on PostgreSQL and SQL Server, any committed behind
/// a transaction still running when its database was read (a mark at or past the horizon). It says how many tickets
/// the event's shards had sold, read after its orders, and hands out a cursor to resume from: asked later, it gives the
/// orders saved since, and only those. A walk whose pages hold fewer tickets than that count resumes.
/// </para>
/// <para>
/// One activation per event on each silo, reentrant: a caller's cancellation (a back office that hung up) is sent to
/// the grain's id, and a stateless worker with several activations hands it to any of them, often not the one
/// reading the page, which then reads on (dotnet/orleans#9877). With one activation it reaches the read. Pages of
/// one event interleave on it instead of running on several; they share nothing but the injected databases and the
/// seal, so any interleaving is safe, and on PostgreSQL each page's reads still run in parallel with the others' at
/// the database. Microsoft.Data.Sqlite runs its asynchronous methods synchronously, so on SQLite a page reads within one
/// turn: pages of one event on one silo follow one another, and a cancellation can reach a page only while it waits
/// for a lookup connection, not once it reads.
/// </para>
/// </remarks>
[StatelessWorker(1), Reentrant]
public sealed class OrderExportGrain(ShardDatabases databases, TicketCodeSigner signer) : Grain, IOrderExportGrain
{
    private readonly ExportCursorSeal _seal = new(signer.DeriveKey("export-cursor"));

    /// <inheritdoc />
    public async Task<OrderPage?> ReadPage(string? after, int limit, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        // The page is built in an array of this size: the API's own bound, held here for any other caller too.
        ArgumentOutOfRangeException.ThrowIfGreaterThan(limit, IOrderExportGrain.MaxPageSize);
        var eventId = this.GetPrimaryKeyString();
        var shardDatabases = await GrainFactory.GetEventGrain(eventId).GetShardDatabases();
        if (shardDatabases.IsEmpty) return null;
        var ordinals = shardDatabases.Distinct().Order().ToImmutableArray();
        var cursor = after is null ? ExportCursor.Start(ordinals.Length) : _seal.Read(eventId, ordinals, after);
        if (cursor is null) return OrderPage.RefusedCursor;

        var marks = cursor.Marks.ToArray();
        var lastGiven = cursor.LastGiven.ToArray();
        // Where the current database's read stopped within a mark, should it ever stop so without filling the page.
        var currentKey = cursor.Key;
        var orders = ImmutableArray.CreateBuilder<OrderDetails>(limit);
        var tickets = 0L;
        for (var visit = 0; visit < ordinals.Length; visit++)
        {
            var index = (cursor.Current + visit) % ordinals.Length;
            var ordinal = ordinals[index];
            // Bounded by tickets too: a thousand orders of a hundred tickets each made a page of tens of megabytes, built
            // whole in this grain and sent whole through Orleans. An empty page takes its first order whatever its size,
            // so every page moves the walk on.
            var read = await ReadAsync(ordinal, () => databases.Get(ordinal).ReadOrderPageAsync(
                eventId, cursor.PositionIn(index), limit - orders.Count, IOrderExportGrain.MaxPageTickets - tickets,
                firstOrderAlways: orders.Count == 0, cancellationToken));
            // The database's marks went back since the cursor was handed out (a backup put back), or the order before its
            // place is gone: reading on would pass over orders saved since. Refused, the back office starts again and
            // keeps each order once by its id.
            if (read is null) return OrderPage.CursorPastDatabase;
            var (page, full, reached) = read;
            orders.AddRange(page);
            tickets += page.Sum(order => (long)order.Quantity);
            (marks[index], lastGiven[index]) = (reached.Mark, reached.LastGiven);
            if (index == cursor.Current) currentKey = reached.Key;
            if (full)
            {
                // The page ends here; the next starts here, after the last order given (or where this read started, when
                // not even its first order fitted).
                var next = new ExportCursor(index, [.. marks], reached.Key, [.. lastGiven]);
                return new OrderPage(orders.ToImmutable(), _seal.Write(eventId, ordinals, next));
            }
        }
        // After the orders: a count read earlier could miss an order this walk gave, and a whole walk would then look short
        // and a short one whole.
        var sold = 0L;
        foreach (var ordinal in ordinals)
        {
            sold += await ReadAsync(ordinal, () => databases.Get(ordinal).ReadEventSoldAsync(eventId, cancellationToken));
        }
        var resume = _seal.Write(eventId, ordinals, new ExportCursor(cursor.Current, [.. marks], currentKey, [.. lastGiven]));
        return new OrderPage(orders.ToImmutable(), Next: null, TicketsSold: sold, Resume: resume);
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
