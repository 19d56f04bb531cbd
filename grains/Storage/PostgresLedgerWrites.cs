using System.Data.Common;
using OrleansTickets.Orders;

namespace OrleansTickets.Storage;

/// <summary>
/// A whole group commit's fences and rows as one PostgreSQL statement, whatever the number of orders: each column
/// travels as one array parameter and <c>unnest</c> turns the arrays back into rows.
/// </summary>
/// <remarks>
/// Row-per-statement inserts cost the server a parse, a bind and an executor start for every order and every ticket
/// group. With a fixed text the statement is also prepared once per connection (automatic preparation), so a group
/// of any size costs one execution, and with the COMMIT two round trips.
/// </remarks>
internal static class PostgresLedgerWrites
{
    // The fences of the selling batches run first and name the batches that matched; each insert keeps only the
    // rows of a batch that matched, there or in the inventory fences run before (@pre). b = the batch's place in
    // the group. Data-modifying WITH queries share one snapshot and see each other only through RETURNING, which is
    // all this needs: new keys are inserted and moved keys updated, and no row can be both (a key is new or moved,
    // and one request per key runs at a time on its home). A unique violation anywhere (a serial sold twice, a new
    // key the event already has) fails the whole statement. A move that matched no row does not: the statement
    // names the moved batches (as -1 - b, beside the fences' b) and the caller fails the group for them.
    private const string FenceAndWrite =
        "WITH fenced AS (" +
        "UPDATE shard_state AS s SET sold = v.new_sold " +
        "FROM unnest(@f_i::integer[], @f_shard_key::text[], @f_epoch::bigint[], @f_old_sold::bigint[], @f_new_sold::bigint[]) " +
        "AS v(i, shard_key, epoch, old_sold, new_sold) " +
        "WHERE s.shard_key = v.shard_key AND s.epoch = v.epoch AND s.sold = v.old_sold " +
        "RETURNING v.i), " +
        "written AS (SELECT i FROM fenced UNION ALL SELECT unnest(@pre::integer[])), " +
        "new_orders AS (" +
        "INSERT INTO orders (order_key, order_id, shard_key, event_id, ticket_type_id, quantity, first_serial, serial_segments, " +
        "unit_price_cents, currency, buyer_name, buyer_email, created_at_ms) " +
        "SELECT r.order_key, r.order_id, r.shard_key, r.event_id, r.ticket_type_id, r.quantity, r.first_serial, r.serial_segments, " +
        "r.unit_price_cents, r.currency, r.buyer_name, r.buyer_email, r.created_at_ms " +
        "FROM unnest(@o_b::integer[], @o_order_key::text[], @o_order_id::text[], @o_shard_key::text[], @o_event_id::text[], @o_ticket_type_id::text[], " +
        "@o_quantity::integer[], @o_first_serial::bigint[], @o_serial_segments::text[], @o_unit_price_cents::bigint[], " +
        "@o_currency::text[], @o_buyer_name::text[], @o_buyer_email::text[], @o_created_at_ms::bigint[]) " +
        "AS r(b, order_key, order_id, shard_key, event_id, ticket_type_id, quantity, first_serial, serial_segments, unit_price_cents, " +
        "currency, buyer_name, buyer_email, created_at_ms) " +
        "WHERE r.b IN (SELECT i FROM written)), " +
        "new_tickets AS (" +
        "INSERT INTO tickets (event_id, ticket_type_id, serial, order_id, code) " +
        "SELECT r.e, r.t, r.s, r.o, r.c " +
        "FROM unnest(@t_b::integer[], @t_e::text[], @t_t::text[], @t_s::bigint[], @t_o::text[], @t_c::text[]) AS r(b, e, t, s, o, c) " +
        "WHERE r.b IN (SELECT i FROM written)), " +
        "new_keys AS (" +
        "INSERT INTO idempotency_keys (event_id, idem_key, shard_key, fingerprint, order_id) " +
        "SELECT r.event_id, r.idem_key, r.shard_key, r.fingerprint, r.order_id " +
        "FROM unnest(@k_b::integer[], @k_event_id::text[], @k_idem_key::text[], @k_shard_key::text[], @k_fingerprint::text[], @k_order_id::text[]) " +
        "AS r(b, event_id, idem_key, shard_key, fingerprint, order_id) " +
        "WHERE r.b IN (SELECT i FROM written)), " +
        "moved_keys AS (" +
        "UPDATE idempotency_keys AS k SET order_id = r.order_id " +
        "FROM unnest(@m_b::integer[], @m_event_id::text[], @m_idem_key::text[], @m_shard_key::text[], @m_previous::text[], @m_order_id::text[]) " +
        "AS r(b, event_id, idem_key, shard_key, previous, order_id) " +
        "WHERE k.event_id = r.event_id AND k.idem_key = r.idem_key AND k.shard_key = r.shard_key AND k.order_id = r.previous " +
        "AND r.b IN (SELECT i FROM written) " +
        "RETURNING r.b) " +
        "SELECT i FROM fenced UNION ALL SELECT -1 - b FROM moved_keys";

    /// <summary>
    /// Runs the fences of <paramref name="batches"/> and writes the orders, tickets and keys of those whose fence
    /// matched, inside <paramref name="transaction"/>; says which matched. The others wrote nothing. Returns the
    /// batches whose key move found the key changed in <paramref name="stale"/>: the caller must not commit then.
    /// </summary>
    /// <remarks>
    /// <para>
    /// A group that only sells (the common case) is one statement. Batches that also change the inventory (the end
    /// of a sale, operators' actions) have a fence with more columns; those fences run first, in one round trip,
    /// and the caller writes their inventory rows after.
    /// </para>
    /// <para>
    /// The statement stays inside an explicit transaction on purpose. Self-committing, it would save the COMMIT
    /// round trip, but a failure could then not be told apart: a connection the server had already terminated
    /// answers with the same FATAL error as one that died after committing, and an outage would turn definite
    /// refusals (which the dispatcher routes around) into unknown outcomes.
    /// </para>
    /// </remarks>
    public static async Task<bool[]> FenceAndWriteAsync(
        DbConnection connection, DbTransaction transaction, IReadOnlyList<LedgerBatch> batches, List<int> stale)
    {
        var matched = new bool[batches.Count];
        var all = Enumerable.Range(0, batches.Count).ToList();
        var changing = all.Where(b => batches[b].Changes is not null).ToList();
        var selling = all.Where(b => batches[b].Changes is null).ToList();
        if (changing.Count > 0)
        {
            var rows = await SqlStatement.ExecuteAllAsync(connection, transaction,
                changing.Select(b => ShardDatabase.FenceFor(batches[b])).ToList(), CancellationToken.None);
            for (var j = 0; j < changing.Count; j++) matched[changing[j]] = rows[j] == 1;
        }

        var orders = all.SelectMany(b => batches[b].Orders.Select(o => (Batch: b, Shard: batches[b].Shard.Key, Order: o))).ToList();
        var tickets = orders.SelectMany(o => o.Order.Tickets.Select(t => (o.Batch, o.Order, Ticket: t))).ToList();
        var keys = all.SelectMany(b => batches[b].Keys.Select(k => (Batch: b, Shard: batches[b].Shard, Key: k))).ToList();
        var moves = keys.Where(k => k.Key.PreviousOrderId is not null).ToList();
        keys.RemoveAll(k => k.Key.PreviousOrderId is not null);
        await using var command = new SqlStatement(FenceAndWrite)
            .With("@f_i", selling.ToArray())
            .With("@f_shard_key", Column(selling, b => batches[b].Shard.Key))
            .With("@f_epoch", Column(selling, b => batches[b].Epoch))
            .With("@f_old_sold", Column(selling, b => batches[b].OldSold))
            .With("@f_new_sold", Column(selling, b => batches[b].NewSold))
            .With("@pre", changing.Where(b => matched[b]).ToArray())
            .With("@o_b", Column(orders, o => o.Batch))
            .With("@o_order_key", Column(orders, o => OrderId.KeyOf(o.Order.OrderId)))
            .With("@o_order_id", Column(orders, o => o.Order.OrderId))
            .With("@o_shard_key", Column(orders, o => o.Shard))
            .With("@o_event_id", Column(orders, o => o.Order.EventId))
            .With("@o_ticket_type_id", Column(orders, o => o.Order.TicketTypeId))
            .With("@o_quantity", Column(orders, o => o.Order.Quantity))
            .With("@o_first_serial", Column(orders, o => o.Order.Tickets[0].Serial))
            .With("@o_serial_segments", Column(orders, o => ShardDatabase.SerialSegmentsOf(o.Order)))
            .With("@o_unit_price_cents", Column(orders, o => Money.ToCents(o.Order.UnitPrice)))
            .With("@o_currency", Column(orders, o => o.Order.Currency))
            .With("@o_buyer_name", Column(orders, o => o.Order.Buyer.Name))
            .With("@o_buyer_email", Column(orders, o => o.Order.Buyer.Email))
            .With("@o_created_at_ms", Column(orders, o => o.Order.CreatedAt.ToUnixTimeMilliseconds()))
            .With("@t_b", Column(tickets, t => t.Batch))
            .With("@t_e", Column(tickets, t => t.Order.EventId))
            .With("@t_t", Column(tickets, t => t.Order.TicketTypeId))
            .With("@t_s", Column(tickets, t => t.Ticket.Serial))
            .With("@t_o", Column(tickets, t => t.Order.OrderId))
            .With("@t_c", Column(tickets, t => t.Ticket.Code))
            .With("@k_b", Column(keys, k => k.Batch))
            .With("@k_event_id", Column(keys, k => k.Shard.EventId))
            .With("@k_idem_key", Column(keys, k => k.Key.Key))
            .With("@k_shard_key", Column(keys, k => k.Shard.Key))
            .With("@k_fingerprint", Column(keys, k => k.Key.Fingerprint))
            .With("@k_order_id", Column(keys, k => k.Key.OrderId))
            .With("@m_b", Column(moves, k => k.Batch))
            .With("@m_event_id", Column(moves, k => k.Shard.EventId))
            .With("@m_idem_key", Column(moves, k => k.Key.Key))
            .With("@m_shard_key", Column(moves, k => k.Shard.Key))
            .With("@m_previous", Column(moves, k => k.Key.PreviousOrderId!))
            .With("@m_order_id", Column(moves, k => k.Key.OrderId))
            .ToCommand(connection, transaction);
        // Moves still owed, per batch. A key is moved at most once in a group: its home runs one request per key at a
        // time and has one batch in a group, and only that home moves it.
        var owed = new int[batches.Count];
        foreach (var move in moves) owed[move.Batch]++;
        await using (var reader = await command.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                var row = reader.GetInt32(0);
                if (row >= 0) matched[row] = true;
                else owed[-1 - row]--;
            }
        }
        stale.AddRange(all.Where(b => matched[b] && owed[b] > 0));
        return matched;
    }

    /// <summary>
    /// Has the driver work out, for <paramref name="connection"/>'s data source, the types the writer binds: the
    /// group statement's arrays (<c>integer[]</c>, <c>bigint[]</c>, <c>text[]</c>) and the scalars of the rarer
    /// inventory statements, with a statement that touches no table.
    /// </summary>
    /// <remarks>
    /// Each data source works its types out on first use, and its first use of arrays was the sale's first group
    /// commit: that was most of the code the JIT compiled in a sale's first second on PostgreSQL (docs/benchmarks.md,
    /// thirty-sixth session). Not the group statement itself with empty arrays: that is a write (an UPDATE and INSERTs),
    /// and this runs on a silo's first claim of a database, where nothing but the claim should write.
    /// </remarks>
    public static async Task ResolveWriterTypesAsync(DbConnection connection, CancellationToken cancellationToken)
    {
        await using var command = new SqlStatement("SELECT cardinality(@i) + cardinality(@l) + cardinality(@s) + @n + @m + length(@t)")
            .With("@i", Array.Empty<int>()).With("@l", Array.Empty<long>()).With("@s", Array.Empty<string>())
            .With("@n", 0).With("@m", 0L).With("@t", string.Empty)
            .ToCommand(connection, null);
        await command.ExecuteScalarAsync(cancellationToken);
    }

    private static TValue[] Column<TRow, TValue>(List<TRow> rows, Func<TRow, TValue> value)
    {
        var column = new TValue[rows.Count];
        for (var i = 0; i < rows.Count; i++) column[i] = value(rows[i]);
        return column;
    }
}
