namespace OrleansTickets.Storage;

/// <summary>
/// The few statements whose text differs between engines. Everything else in the shard ledger is plain SQL
/// that all three accept. Parameters are named <c>@name</c>, which every driver here understands.
/// </summary>
internal sealed class ShardSql
{
    /// <summary>Bumps the shard's epoch (creating its row only on a first claim of a shard the database has no trace of) and returns the row.</summary>
    public required string Claim { get; init; }

    /// <summary>
    /// Points this shard's key at a new order id, only if it still points at <c>@previous_order_id</c>; changes no
    /// row otherwise (SQL Server: raises an error naming <see cref="EventKeyIndex"/> instead).
    /// </summary>
    public required string MoveKey { get; init; }

    /// <summary>Remembers a refused forwarded order id; a second refusal of the same id changes nothing.</summary>
    public required string InsertRefusal { get; init; }

    /// <summary>
    /// Records a new key for its home <c>@shard_key</c> from a holder's batch on the home's database, only while the
    /// home's row has epoch <c>@home_epoch</c>; changes no row otherwise (SQL Server: raises an error naming
    /// <see cref="EventKeyIndex"/> instead). Fails on <see cref="EventKeyIndex"/> when the event already has the key.
    /// PostgreSQL writes these rows in its group statement instead (<see cref="PostgresLedgerWrites"/>).
    /// </summary>
    public string InsertForwardedKey { get; private init; } = ForwardedKeyWhileHomeHolds;

    /// <summary>
    /// The next <c>@limit</c> orders of an event in this database after (<c>@after_mark</c>, <c>@after_key</c>) in save
    /// order, among those whose save mark is below <c>@horizon</c> (<see cref="ReadSaveHorizon"/>): a range of the index
    /// <c>orders_saved</c> (event, mark, key), so a page neither sorts nor passes over other events' orders. Columns as
    /// <see cref="OrderColumns"/>, then the mark and the key.
    /// </summary>
    public string ReadOrderPage { get; private init; } = "";

    /// <summary>
    /// The save mark below which no order of <c>@event_id</c> can commit any more in this database: every order that
    /// commits after this read has a mark at least as high. SQLite: one past the event's last mark, as its writer takes
    /// marks one transaction at a time; PostgreSQL: the oldest transaction id still running anywhere on the server, or one
    /// past the event's last mark if lower; SQL Server: the oldest row version a running transaction holds. Then the key
    /// of the event's last order at or before (<c>@after_mark</c>, <c>@after_key</c>), null for none: the order a
    /// cursor's place comes after.
    /// </summary>
    public string ReadSaveHorizon { get; private init; } = "";

    /// <summary>Inserts one order row (PostgreSQL writes its rows in its group statement instead).</summary>
    public string InsertOrder { get; private init; } = InsertOrderColumns + InsertOrderValues + ")";

    /// <summary>An order row's columns, in the order <see cref="StoredOrders"/> reads them.</summary>
    public const string OrderColumns =
        "order_id, event_id, ticket_type_id, quantity, unit_price_cents, currency, buyer_name, buyer_email, created_at_ms, first_serial, serial_segments";

    /// <summary>
    /// The tickets every shard of an event in this database has sold (<c>@shard_prefix</c> is <c>event/%</c>; event
    /// ids are slugs, so they hold no LIKE wildcard). Cast because PostgreSQL sums a bigint as numeric.
    /// </summary>
    public const string ReadEventSold = "SELECT CAST(COALESCE(SUM(sold), 0) AS BIGINT) FROM shard_state WHERE shard_key LIKE @shard_prefix";

    // Row values where the engine has them: PostgreSQL reads the index range from (mark, key) on only so.
    private const string OrderPageColumns = "SELECT " + OrderColumns + ", save_mark, order_key FROM orders WHERE event_id = @event_id ";
    private const string OrderPageAfter = "AND (save_mark, order_key) > (@after_mark, @after_key) AND save_mark < @horizon ORDER BY save_mark, order_key";

    // Keys are never empty, so a place with the key "" comes after the orders below its mark only.
    private const string LastGiven =
        "(SELECT order_key FROM orders WHERE event_id = @event_id AND (save_mark, order_key) <= (@after_mark, @after_key) " +
        "ORDER BY save_mark DESC, order_key DESC LIMIT 1)";

    public const string Fence =
        "UPDATE shard_state SET sold = @new_sold WHERE shard_key = @shard_key AND epoch = @epoch AND sold = @old_sold";

    /// <summary>What a batch's fence compares: the shard's epoch and sold count.</summary>
    public const string ReadFence = "SELECT epoch, sold FROM shard_state WHERE shard_key = @shard_key";

    /// <summary>The fence for a batch that also changes the inventory: same conditions, more columns.</summary>
    public const string FenceWithInventory =
        "UPDATE shard_state SET sold = @new_sold, capacity = @capacity, segments = @segments, retired = @retired " +
        "WHERE shard_key = @shard_key AND epoch = @epoch AND sold = @old_sold";

    public const string InsertTransferOut =
        "INSERT INTO transfers_out (transfer_id, donor_key, receiver_key, segments, quantity, delivered) " +
        "VALUES (@transfer_id, @donor_key, @receiver_key, @segments, @quantity, 0)";

    public const string InsertTransferIn =
        "INSERT INTO transfers_in (transfer_id, receiver_key, donor_key, segments, quantity) " +
        "VALUES (@transfer_id, @receiver_key, @donor_key, @segments, @quantity)";

    public const string MarkDelivered = "UPDATE transfers_out SET delivered = 1 WHERE transfer_id = @transfer_id AND donor_key = @donor_key";

    public const string ReadUndelivered =
        "SELECT transfer_id, receiver_key, segments FROM transfers_out WHERE donor_key = @shard_key AND delivered = 0";

    public const string ReadTakenIn = "SELECT transfer_id, donor_key, quantity FROM transfers_in WHERE receiver_key = @shard_key";

    /// <summary>How many serials of the shard's gifts were settled (taken in by their receiver, or taken back).</summary>
    public const string ReadSettled =
        "SELECT COALESCE(SUM(quantity), 0) FROM transfers_out WHERE donor_key = @shard_key AND delivered = 1";

    public const string ReadRefused = "SELECT order_id FROM refused_orders WHERE shard_key = @shard_key";

    private const string InsertOrderColumns =
        "INSERT INTO orders (order_key, order_id, shard_key, event_id, ticket_type_id, quantity, first_serial, serial_segments, unit_price_cents, currency, buyer_name, buyer_email, created_at_ms";

    private const string InsertOrderValues =
        ") VALUES (@order_key, @order_id, @shard_key, @event_id, @ticket_type_id, @quantity, @first_serial, @serial_segments, @unit_price_cents, @currency, @buyer_name, @buyer_email, @created_at_ms";

    // One past the event's last mark in this database, read by the index's last entry for it. SQLite's writer takes it
    // as the new order's mark (one write transaction at a time, so no other writer can take the same one: see the
    // SQLite script); both engines' horizons are no higher.
    private const string NextMark =
        "COALESCE((SELECT save_mark FROM orders WHERE event_id = @event_id ORDER BY save_mark DESC LIMIT 1), 0) + 1";

    public const string InsertTicketsPrefix = "INSERT INTO tickets (event_id, ticket_type_id, serial, order_id, code) VALUES ";

    public const string InsertTicket = InsertTicketsPrefix + "(@e, @t, @s, @o, @c)";

    public const string ReadOrder = "SELECT " + OrderColumns + " FROM orders WHERE order_key = @order_key AND order_id = @order_id";

    /// <summary>
    /// One run of an order's serials, a primary-key range (no index on order_id). Most orders are one run; an order that
    /// used serials taken in from other shards has one per segment of <c>serial_segments</c>, each read with this.
    /// </summary>
    public const string ReadTickets =
        "SELECT serial, code FROM tickets WHERE event_id = @event_id AND ticket_type_id = @ticket_type_id " +
        "AND serial >= @first_serial AND serial < @end_serial AND order_id = @order_id ORDER BY serial";

    /// <summary>The keys' primary key, which allows one key per event in a database (see the shard schema scripts).</summary>
    public const string EventKeyIndex = "idempotency_keys_event_key";

    /// <summary>Records a new key; fails on <see cref="EventKeyIndex"/> when the event already has it, on any shard.</summary>
    public const string InsertKey =
        "INSERT INTO idempotency_keys (event_id, idem_key, shard_key, fingerprint, order_id) " +
        "VALUES (@event_id, @idem_key, @shard_key, @fingerprint, @order_id)";

    public const string ReadKey =
        "SELECT shard_key, fingerprint, order_id FROM idempotency_keys WHERE event_id = @event_id AND idem_key = @idem_key";

    /// <summary>Tests' independent count of a shard's ticket rows. Nothing indexes <c>orders.order_id</c>; fine for a check.</summary>
    public const string CountSoldTickets =
        "SELECT COUNT(*) FROM tickets t JOIN orders o ON o.order_id = t.order_id WHERE o.shard_key = @shard_key";

    // Only in the database this silo checked (ShardDatabaseIdentity, whose stamp is @stamp): one dropped and made again
    // while a silo that checked it before still writes to it has tables but no stamp, and one swapped for another
    // deployment's has another stamp; a claim in either returns no row instead of starting the shard's block again at
    // sold 0. Every claim checks, on every silo, not only each silo's first open.
    // @held_epoch is 0 for an activation's first claim, which takes the shard whoever held it. A later claim (a reload
    // after a commit whose outcome was unknown) takes a new epoch only from the one it holds: if a newer activation
    // claimed the shard meanwhile, the row is left alone and no row comes back. Taking it back would let the stale
    // activation commit what it decided before its reload (a forwarded order the newer one had refused, say).
    private const string ClaimWithUpsert =
        "INSERT INTO shard_state (shard_key, epoch, block_first, block_size, sold, capacity, segments, retired) " +
        "SELECT @shard_key, 1, @block_first, @block_size, 0, @block_size, @segments, 0 " +
        "WHERE EXISTS (SELECT 1 FROM shard_database_identity WHERE stamp = @stamp) " +
        // A row that exists is updated below. One that does not is inserted only by a first claim of a shard that
        // left no trace here: an activation claiming again held the row, and a sold ticket of the block or a gift
        // to or from the shard means a row existed; either way it is gone (deleted from a database that kept its
        // stamp), and a fresh one would sell the block again from sold 0.
        "AND (EXISTS (SELECT 1 FROM shard_state WHERE shard_key = @shard_key) OR (@held_epoch = 0 AND " + NoTraceOfTheShard + ")) " +
        "ON CONFLICT (shard_key) DO UPDATE SET epoch = shard_state.epoch + 1 " +
        "WHERE @held_epoch = 0 OR shard_state.epoch = @held_epoch " +
        "RETURNING epoch, sold, block_first, block_size, capacity, segments, retired";

    /// <summary>Nothing in the database shows that the shard ever had a row: no sold ticket of its block, no gift it made or received.</summary>
    private const string NoTraceOfTheShard =
        "NOT EXISTS (SELECT 1 FROM tickets WHERE event_id = @event_id AND ticket_type_id = @ticket_type_id " +
        "AND serial >= @block_first AND serial < @block_first + @block_size) " +
        "AND NOT EXISTS (SELECT 1 FROM transfers_out WHERE donor_key = @shard_key) " +
        "AND NOT EXISTS (SELECT 1 FROM transfers_in WHERE receiver_key = @shard_key)";

    private const string RefusalOnConflict =
        "INSERT INTO refused_orders (order_id, shard_key) VALUES (@order_id, @shard_key) ON CONFLICT (order_id) DO NOTHING";

    // SQLite runs one write transaction at a time per database file, so a newer activation's claim of the home cannot
    // land between this check and the commit.
    private const string ForwardedKeyWhileHomeHolds =
        "INSERT INTO idempotency_keys (event_id, idem_key, shard_key, fingerprint, order_id) " +
        "SELECT @event_id, @idem_key, @shard_key, @fingerprint, @order_id " +
        "WHERE EXISTS (SELECT 1 FROM shard_state WHERE shard_key = @shard_key AND epoch = @home_epoch)";

    private const string MoveKeyIfUnchanged =
        "UPDATE idempotency_keys SET order_id = @order_id " +
        "WHERE event_id = @event_id AND idem_key = @idem_key AND shard_key = @shard_key AND order_id = @previous_order_id";

    public static ShardSql For(SqlDialect dialect) => dialect switch
    {
        SqlDialect.Sqlite => new ShardSql
        {
            ReadOrderPage = OrderPageColumns + OrderPageAfter + " LIMIT @limit",
            ReadSaveHorizon = "SELECT " + NextMark + ", " + LastGiven,
            InsertOrder = InsertOrderColumns + ", save_mark" + InsertOrderValues + ", " + NextMark + ")",
            Claim = ClaimWithUpsert, MoveKey = MoveKeyIfUnchanged, InsertRefusal = RefusalOnConflict,
        },
        SqlDialect.PostgreSql => new ShardSql
        {
            ReadOrderPage = OrderPageColumns + OrderPageAfter + " LIMIT @limit",
            // xid8 has no cast to bigint; its text is its number. Marks stay far below 2^63. No higher than one past the
            // event's last mark here: after a crash the server may hand out again ids that left nothing durable (a
            // transaction that rolled back just before it), but never one at or below a commit it made durable and visible,
            // as that order's was (synchronous_commit is on), so no order saved after a crash sorts behind this horizon.
            ReadSaveHorizon =
                "SELECT LEAST(CAST(CAST(pg_snapshot_xmin(pg_current_snapshot()) AS text) AS bigint), " + NextMark + "), " + LastGiven,
            Claim = ClaimWithUpsert, MoveKey = MoveKeyIfUnchanged, InsertRefusal = RefusalOnConflict,
        },
        SqlDialect.SqlServer => new ShardSql
        {
            // Unverified: written for SQL Server 2019+/Azure SQL, never run here.
            // No row values: the same range spelt out. Marks are rowversions (binary(8)), cast for the cursor's numbers.
            ReadOrderPage =
                "SELECT TOP (@limit) " + OrderColumns + ", CAST(save_mark AS bigint), order_key FROM orders WHERE event_id = @event_id " +
                "AND (save_mark > CAST(@after_mark AS binary(8)) OR (save_mark = CAST(@after_mark AS binary(8)) AND order_key > @after_key)) " +
                "AND save_mark < CAST(@horizon AS binary(8)) ORDER BY save_mark, order_key",
            ReadSaveHorizon =
                "SELECT CAST(MIN_ACTIVE_ROWVERSION() AS bigint), (SELECT TOP (1) order_key FROM orders WHERE event_id = @event_id " +
                "AND save_mark <= CAST(@after_mark AS binary(8)) " +
                "AND (save_mark < CAST(@after_mark AS binary(8)) OR (save_mark = CAST(@after_mark AS binary(8)) AND order_key <= @after_key)) " +
                "ORDER BY save_mark DESC, order_key DESC)",
            Claim =
                "UPDATE shard_state WITH (UPDLOCK, HOLDLOCK) SET epoch = epoch + 1 " +
                "OUTPUT inserted.epoch, inserted.sold, inserted.block_first, inserted.block_size, inserted.capacity, inserted.segments, inserted.retired " +
                "WHERE shard_key = @shard_key AND (@held_epoch = 0 OR epoch = @held_epoch); " +
                "IF @@ROWCOUNT = 0 AND @held_epoch = 0 AND " + NoTraceOfTheShard + " " +
                "INSERT INTO shard_state (shard_key, epoch, block_first, block_size, sold, capacity, segments, retired) " +
                "OUTPUT inserted.epoch, inserted.sold, inserted.block_first, inserted.block_size, inserted.capacity, inserted.segments, inserted.retired " +
                "VALUES (@shard_key, 1, @block_first, @block_size, 0, @block_size, @segments, 0);",
            InsertRefusal =
                "IF NOT EXISTS (SELECT 1 FROM refused_orders WHERE order_id = @order_id) " +
                "INSERT INTO refused_orders (order_id, shard_key) VALUES (@order_id, @shard_key);",
            // A move that matched nothing fails the batch the way a second home's insert does: by naming the key index.
            MoveKey =
                MoveKeyIfUnchanged + "; " +
                "IF @@ROWCOUNT = 0 THROW 50000, N'" + EventKeyIndex + ": the key no longer points at the previous order', 1;",
            // REPEATABLEREAD keeps the shared lock on the home's row to the end of the transaction, so a newer
            // activation's claim of the home (an UPDATE) waits for this commit, and then reads the key it wrote.
            // READPAST passes over a row another writer holds instead of waiting, as PostgreSQL's SKIP LOCKED: two silos'
            // groups could otherwise each hold a home's row the other waits for.
            InsertForwardedKey =
                "INSERT INTO idempotency_keys (event_id, idem_key, shard_key, fingerprint, order_id) " +
                "SELECT @event_id, @idem_key, @shard_key, @fingerprint, @order_id " +
                "WHERE EXISTS (SELECT 1 FROM shard_state WITH (REPEATABLEREAD, READPAST, ROWLOCK) WHERE shard_key = @shard_key AND epoch = @home_epoch); " +
                "IF @@ROWCOUNT = 0 THROW 50000, N'" + EventKeyIndex + ": the home of the key was claimed again since it forwarded', 1;",
        },
        _ => throw new ArgumentOutOfRangeException(nameof(dialect)),
    };
}
