using System.Data.Common;
using OrleansTickets.Inventory;
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
    // A group commit is one statement of data-modifying WITH queries. The fences run first and name the batches that
    // matched (b = the batch's place in the group); every row a batch writes is kept only if its batch matched. Such
    // queries share one snapshot and see each other only through RETURNING, which is all this needs:
    // - no row is both inserted and updated: a key is new or moved, and its home runs one request per key at a time;
    // - no shard_state row is matched by two fences: each fence needs the row's current epoch, which one activation
    //   holds, and an activation has one commit cycle in flight;
    // - the transfer a batch marks delivered was recorded by an earlier commit (a gift is delivered only once it is
    //   durable), never by this one.
    // A unique violation or a CHECK anywhere (a serial sold twice, a new key the event already has, an oversold shard)
    // fails the whole statement. A move that matched no row does not, nor a holder's key whose home moved on: the
    // statement names the moved batches and the holders' recorded keys (as -1 - b, beside the fences' b) and the
    // caller fails the group for the batches that are missing one.
    private const string SellingFence =
        "fenced AS (" +
        "UPDATE shard_state AS s SET sold = v.new_sold " +
        "FROM unnest(@f_i::integer[], @f_shard_key::text[], @f_epoch::bigint[], @f_old_sold::bigint[], @f_new_sold::bigint[]) " +
        "AS v(i, shard_key, epoch, old_sold, new_sold) " +
        "WHERE s.shard_key = v.shard_key AND s.epoch = v.epoch AND s.sold = v.old_sold " +
        "RETURNING v.i)";

    // The fence of a batch that changes the inventory: the same conditions, more columns. This and InventoryRows say
    // in arrays what ShardSql.FenceWithInventory, InsertTransferOut, InsertTransferIn, MarkDelivered and InsertRefusal
    // say row by row for the other engines: a change to those tables changes both.
    private const string ChangingFence =
        "changed AS (" +
        "UPDATE shard_state AS s SET sold = v.new_sold, capacity = v.capacity, segments = v.segments, retired = v.retired " +
        "FROM unnest(@c_i::integer[], @c_shard_key::text[], @c_epoch::bigint[], @c_old_sold::bigint[], @c_new_sold::bigint[], " +
        "@c_capacity::bigint[], @c_segments::text[], @c_retired::integer[]) " +
        "AS v(i, shard_key, epoch, old_sold, new_sold, capacity, segments, retired) " +
        "WHERE s.shard_key = v.shard_key AND s.epoch = v.epoch AND s.sold = v.old_sold " +
        "RETURNING v.i)";

    private const string Rows =
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
        "RETURNING r.b) ";

    private const string ForwardedKeyRows =
        // A holder's record of its home's new key (IdempotencyRecord.Home), written only while the home's row has the
        // epoch it forwarded under. The home's row is locked FOR SHARE to the commit, so a newer activation's claim of
        // the home (an UPDATE) waits for this commit and then reads the key; a claim that committed first leaves an
        // epoch that does not match. When the home's own fence is in this group (r.via, its place) that fence is the
        // check: it holds the row already, and a row this statement has updated cannot be locked again in it.
        // SKIP LOCKED: this runs after the fences (it reads the inserts' RETURNING, which the answer reads after the
        // fences), and never waits, so two writers' groups cannot wait on each other in a circle; a home's row that
        // another writer holds is passed over, and the batch is refused and its home commits the key itself.
        ", homes_held AS (" +
        "SELECT v.h FROM unnest(@h_h::integer[], @h_home::text[], @h_epoch::bigint[], @h_via::integer[]) AS v(h, home, epoch, via) " +
        "JOIN shard_state AS s ON s.shard_key = v.home AND s.epoch = v.epoch " +
        "WHERE v.via < 0 FOR SHARE OF s SKIP LOCKED), " +
        "forwarded_keys AS (" +
        "INSERT INTO idempotency_keys (event_id, idem_key, shard_key, fingerprint, order_id) " +
        "SELECT r.event_id, r.idem_key, r.home, r.fingerprint, r.order_id " +
        "FROM unnest(@h_h::integer[], @h_b::integer[], @h_event_id::text[], @h_idem_key::text[], @h_home::text[], @h_fingerprint::text[], " +
        "@h_order_id::text[], @h_via::integer[]) AS r(h, b, event_id, idem_key, home, fingerprint, order_id, via) " +
        "WHERE r.b IN (SELECT i FROM written) " +
        "AND (r.via IN (SELECT i FROM written) OR r.h IN (SELECT h FROM homes_held)) " +
        "RETURNING order_id) ";

    // The rare rows of an inventory change (ShardDatabase.InventoryWrites), kept only for a batch whose changing fence
    // matched. A refusal already recorded changes nothing, as ShardSql's InsertRefusal.
    private const string InventoryRows =
        ", transfers_given AS (" +
        "INSERT INTO transfers_out (transfer_id, donor_key, receiver_key, segments, quantity, delivered) " +
        "SELECT r.transfer_id, r.donor_key, r.receiver_key, r.segments, r.quantity, 0 " +
        "FROM unnest(@xo_b::integer[], @xo_transfer_id::text[], @xo_donor_key::text[], @xo_receiver_key::text[], @xo_segments::text[], @xo_quantity::bigint[]) " +
        "AS r(b, transfer_id, donor_key, receiver_key, segments, quantity) " +
        "WHERE r.b IN (SELECT i FROM changed)), " +
        "transfers_taken AS (" +
        "INSERT INTO transfers_in (transfer_id, receiver_key, donor_key, segments, quantity) " +
        "SELECT r.transfer_id, r.receiver_key, r.donor_key, r.segments, r.quantity " +
        "FROM unnest(@xi_b::integer[], @xi_transfer_id::text[], @xi_receiver_key::text[], @xi_donor_key::text[], @xi_segments::text[], @xi_quantity::bigint[]) " +
        "AS r(b, transfer_id, receiver_key, donor_key, segments, quantity) " +
        "WHERE r.b IN (SELECT i FROM changed)), " +
        "transfers_delivered AS (" +
        "UPDATE transfers_out AS t SET delivered = 1 " +
        "FROM unnest(@xd_b::integer[], @xd_transfer_id::text[], @xd_donor_key::text[]) AS r(b, transfer_id, donor_key) " +
        "WHERE t.transfer_id = r.transfer_id AND t.donor_key = r.donor_key AND r.b IN (SELECT i FROM changed)), " +
        "refusals AS (" +
        "INSERT INTO refused_orders (order_id, shard_key) " +
        "SELECT r.order_id, r.shard_key " +
        "FROM unnest(@xr_b::integer[], @xr_order_id::text[], @xr_shard_key::text[]) AS r(b, order_id, shard_key) " +
        "WHERE r.b IN (SELECT i FROM changed) " +
        "ON CONFLICT (order_id) DO NOTHING) ";

    private const string Answer = "SELECT i FROM written UNION ALL SELECT -1 - b FROM moved_keys";

    // An INSERT returns only its own table's columns: a holder's recorded key is told by its order id, one per key.
    private const string ForwardedKeysAnswer =
        " UNION ALL SELECT -1 - v.b FROM unnest(@h_b::integer[], @h_order_id::text[]) AS v(b, order_id) " +
        "WHERE v.order_id IN (SELECT order_id FROM forwarded_keys)";

    /// <summary>
    /// The group statement's four texts: whether some batch changes the inventory (the end of a sale, operators'
    /// actions), and whether some batch records a home's key (a forward at the end of a sale). Nearly every group
    /// does neither, and its statement carries nothing for them: an INSERT with no rows still opens its table and
    /// indexes at every execution.
    /// </summary>
    private static readonly string[] Texts =
    [
        Text(changesInventory: false, recordsHomesKeys: false), Text(changesInventory: false, recordsHomesKeys: true),
        Text(changesInventory: true, recordsHomesKeys: false), Text(changesInventory: true, recordsHomesKeys: true),
    ];

    private static string Text(bool changesInventory, bool recordsHomesKeys) =>
        "WITH " + SellingFence + ", " +
        (changesInventory ? ChangingFence + ", written AS (SELECT i FROM fenced UNION ALL SELECT i FROM changed), " : "written AS (SELECT i FROM fenced), ") +
        Rows + (changesInventory ? InventoryRows : "") + (recordsHomesKeys ? ForwardedKeyRows : "") +
        Answer + (recordsHomesKeys ? ForwardedKeysAnswer : "");

    /// <summary>
    /// Runs the fences of <paramref name="batches"/> and writes the orders, tickets, keys and inventory changes of
    /// those whose fence matched, inside <paramref name="transaction"/>, in one statement; says which matched. The
    /// others wrote nothing. Returns the batches whose key move found the key changed, or whose record of a home's
    /// key was not written, in <paramref name="stale"/>: the caller must not commit then.
    /// </summary>
    /// <remarks>
    /// <para>
    /// Every group is one round trip and the COMMIT another, whether or not it changes the inventory. Batches that
    /// change it (the end of a sale, operators' actions) once had their fences and their rows sent as two more round
    /// trips, so at a sale's end, where most groups carry a gift, a delivery mark or a refusal, a group commit took
    /// four. Each is a wake-up of the server and of the writer on two cores that are busy then.
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
        var changesInventory = batches.Any(b => b.Changes is not null);
        var recordsHomesKeys = batches.Any(b => b.Keys.Any(k => k.Home is not null));
        await using var command = Compose(batches, changesInventory, recordsHomesKeys, string.Empty, out var moves).ToPositionalCommand(connection, transaction);
        // Moves and holders' keys still owed, per batch. A key is moved or recorded at most once in a group: its home
        // runs one request per key at a time, and only that request moves it or has it recorded.
        var owed = new int[batches.Count];
        foreach (var move in moves) owed[move]++;
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
    /// Has the server parse and plan both group statements on <paramref name="connection"/> (the writer's), with
    /// <c>EXPLAIN</c>: nothing runs and nothing is written. Binding them also has the driver work out, for the
    /// connection's data source, the array types the writer binds (<c>integer[]</c>, <c>bigint[]</c>, <c>text[]</c>).
    /// </summary>
    /// <remarks>
    /// <para>
    /// A server process that has never touched a new database's tables looks each of them, their indexes and the
    /// functions and types the statement names up in the system catalogs the first time it plans a statement over
    /// them. Left to the sale, that was the first group commit's: 42 ms for one database's first group, against 2–7 ms
    /// for the next, in the sale's first 100 ms, while the buyers' first orders waited on it (docs/benchmarks.md,
    /// sixty-seventh session). <c>EXPLAIN</c> is a statement of its own text, so the driver does not count it towards
    /// preparing the group statement, and the server's plan cache for the prepared one starts as it would have.
    /// </para>
    /// <para>
    /// Each data source works its types out on first use, and its first use of arrays was the sale's first group
    /// commit: that was most of the code the JIT compiled in a sale's first second on PostgreSQL (docs/benchmarks.md,
    /// thirty-sixth session). The statements are planned, not run with empty arrays: run, each would be a write (an
    /// UPDATE and INSERTs), on a silo's first claim of a database, where nothing but the claim should write.
    /// </para>
    /// </remarks>
    public static async Task PlanGroupStatementsAsync(DbConnection connection, CancellationToken cancellationToken)
    {
        foreach (var changesInventory in new[] { false, true })
        {
            foreach (var recordsHomesKeys in new[] { false, true })
            {
                await using var command = Compose([], changesInventory, recordsHomesKeys, "EXPLAIN ", out _).ToCommand(connection, null);
                await command.ExecuteNonQueryAsync(cancellationToken);
            }
        }
    }

    /// <summary>
    /// The group statement for <paramref name="batches"/> with every column bound, behind <paramref name="prefix"/>;
    /// <paramref name="moves"/> names the batch of each key move it carries.
    /// </summary>
    private static SqlStatement Compose(
        IReadOnlyList<LedgerBatch> batches, bool changesInventory, bool recordsHomesKeys, string prefix, out List<int> moves)
    {
        var all = Enumerable.Range(0, batches.Count).ToList();
        var changing = all.Where(b => batches[b].Changes is not null).ToList();
        var selling = all.Where(b => batches[b].Changes is null).ToList();

        var orders = all.SelectMany(b => batches[b].Orders.Select(o => (Batch: b, Shard: batches[b].Shard.Key, Order: o))).ToList();
        var tickets = orders.SelectMany(o => o.Order.Tickets.Select(t => (o.Batch, o.Order, Ticket: t))).ToList();
        var keys = all.SelectMany(b => batches[b].Keys.Select(k => (Batch: b, Shard: batches[b].Shard, Key: k))).ToList();
        var moved = keys.Where(k => k.Key.PreviousOrderId is not null).ToList();
        var forwarded = recordsHomesKeys ? keys.Where(k => k.Key.Home is not null).ToList() : [];
        keys.RemoveAll(k => k.Key.PreviousOrderId is not null || k.Key.Home is not null);
        var text = Texts[(changesInventory ? 2 : 0) + (recordsHomesKeys ? 1 : 0)];
        // Without a prefix the text is one of the four held for the process, which PositionalTexts keeps its rewrites by;
        // the EXPLAIN of PlanGroupStatementsAsync is a text of its own, sent with names.
        var statement = new SqlStatement(prefix.Length == 0 ? text : prefix + text)
            .With("@f_i", selling.ToArray())
            .With("@f_shard_key", Column(selling, b => batches[b].Shard.Key))
            .With("@f_epoch", Column(selling, b => batches[b].Epoch))
            .With("@f_old_sold", Column(selling, b => batches[b].OldSold))
            .With("@f_new_sold", Column(selling, b => batches[b].NewSold))
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
            .With("@m_b", Column(moved, k => k.Batch))
            .With("@m_event_id", Column(moved, k => k.Shard.EventId))
            .With("@m_idem_key", Column(moved, k => k.Key.Key))
            .With("@m_shard_key", Column(moved, k => k.Shard.Key))
            .With("@m_previous", Column(moved, k => k.Key.PreviousOrderId!))
            .With("@m_order_id", Column(moved, k => k.Key.OrderId));
        if (recordsHomesKeys)
        {
            // The place of the home's own batch in this group, when it is there with the epoch the holder was given.
            var places = new Dictionary<(string Shard, long Epoch), int>();
            for (var b = 0; b < batches.Count; b++) places.TryAdd((batches[b].Shard.Key, batches[b].Epoch), b);
            int PlaceOfHome(ForwardingHome home) => places.TryGetValue((home.ShardKey, home.Epoch), out var place) ? place : -1;
            statement
                .With("@h_h", Enumerable.Range(0, forwarded.Count).ToArray())
                .With("@h_b", Column(forwarded, k => k.Batch))
                .With("@h_event_id", Column(forwarded, k => k.Shard.EventId))
                .With("@h_idem_key", Column(forwarded, k => k.Key.Key))
                .With("@h_home", Column(forwarded, k => k.Key.Home!.ShardKey))
                .With("@h_epoch", Column(forwarded, k => k.Key.Home!.Epoch))
                .With("@h_fingerprint", Column(forwarded, k => k.Key.Fingerprint))
                .With("@h_order_id", Column(forwarded, k => k.Key.OrderId))
                .With("@h_via", Column(forwarded, k => PlaceOfHome(k.Key.Home!)));
        }
        if (changesInventory) WithInventoryChanges(statement, batches, changing);
        moves = [.. moved.Select(k => k.Batch), .. forwarded.Select(k => k.Batch)];
        return statement;
    }

    /// <summary>The changing batches' fences and inventory rows, for the texts that change the inventory.</summary>
    private static void WithInventoryChanges(SqlStatement statement, IReadOnlyList<LedgerBatch> batches, List<int> changing)
    {
        InventoryChanges ChangesOf(int b) => batches[b].Changes!;
        var given = changing.SelectMany(b => ChangesOf(b).TransfersOut.Select(t => (Batch: b, Donor: batches[b].Shard.Key, Out: t))).ToList();
        var taken = changing.SelectMany(b => ChangesOf(b).TransfersIn.Select(t => (Batch: b, Receiver: batches[b].Shard.Key, In: t))).ToList();
        var delivered = changing.SelectMany(b => ChangesOf(b).Delivered.Select(id => (Batch: b, Donor: batches[b].Shard.Key, Id: id))).ToList();
        var refused = changing.SelectMany(b => ChangesOf(b).Refusals.Select(id => (Batch: b, Shard: batches[b].Shard.Key, Id: id))).ToList();
        statement
            .With("@c_i", changing.ToArray())
            .With("@c_shard_key", Column(changing, b => batches[b].Shard.Key))
            .With("@c_epoch", Column(changing, b => batches[b].Epoch))
            .With("@c_old_sold", Column(changing, b => batches[b].OldSold))
            .With("@c_new_sold", Column(changing, b => batches[b].NewSold))
            .With("@c_capacity", Column(changing, b => ChangesOf(b).Capacity))
            .With("@c_segments", Column(changing, b => ChangesOf(b).Segments))
            .With("@c_retired", Column(changing, b => ChangesOf(b).Retired ? 1 : 0))
            .With("@xo_b", Column(given, g => g.Batch))
            .With("@xo_transfer_id", Column(given, g => g.Out.Transfer.TransferId))
            .With("@xo_donor_key", Column(given, g => g.Donor))
            .With("@xo_receiver_key", Column(given, g => g.Out.ReceiverKey))
            .With("@xo_segments", Column(given, g => SegmentText.Format(g.Out.Transfer.Segments)))
            .With("@xo_quantity", Column(given, g => g.Out.Transfer.Quantity))
            .With("@xi_b", Column(taken, t => t.Batch))
            .With("@xi_transfer_id", Column(taken, t => t.In.TransferId))
            .With("@xi_receiver_key", Column(taken, t => t.Receiver))
            .With("@xi_donor_key", Column(taken, t => t.In.Donor))
            .With("@xi_segments", Column(taken, t => SegmentText.Format(t.In.Segments)))
            .With("@xi_quantity", Column(taken, t => t.In.Quantity))
            .With("@xd_b", Column(delivered, d => d.Batch))
            .With("@xd_transfer_id", Column(delivered, d => d.Id))
            .With("@xd_donor_key", Column(delivered, d => d.Donor))
            .With("@xr_b", Column(refused, r => r.Batch))
            .With("@xr_order_id", Column(refused, r => r.Id))
            .With("@xr_shard_key", Column(refused, r => r.Shard));
    }

    private static TValue[] Column<TRow, TValue>(List<TRow> rows, Func<TRow, TValue> value)
    {
        var column = new TValue[rows.Count];
        for (var i = 0; i < rows.Count; i++) column[i] = value(rows[i]);
        return column;
    }
}
