namespace OrleansTickets.Storage;

/// <summary>
/// The few statements whose text differs between engines. Everything else in the shard ledger is plain SQL
/// that all three accept. Parameters are named <c>@name</c>, which every driver here understands.
/// </summary>
internal sealed class ShardSql
{
    /// <summary>Bumps the shard's epoch (creating its row on first use) and returns the row.</summary>
    public required string Claim { get; init; }

    /// <summary>Records an idempotency key, or points an existing one at a new order id.</summary>
    public required string UpsertKey { get; init; }

    public const string Fence =
        "UPDATE shard_state SET sold = @new_sold WHERE shard_key = @shard_key AND epoch = @epoch AND sold = @old_sold";

    public const string InsertOrder =
        "INSERT INTO orders (order_id, shard_key, event_id, ticket_type_id, quantity, first_serial, unit_price_cents, currency, buyer_name, buyer_email, created_at_ms) " +
        "VALUES (@order_id, @shard_key, @event_id, @ticket_type_id, @quantity, @first_serial, @unit_price_cents, @currency, @buyer_name, @buyer_email, @created_at_ms)";

    public const string InsertTicketsPrefix = "INSERT INTO tickets (event_id, ticket_type_id, serial, order_id, code) VALUES ";

    public const string InsertTicket = InsertTicketsPrefix + "(@e, @t, @s, @o, @c)";

    public const string ReadOrder =
        "SELECT event_id, ticket_type_id, quantity, unit_price_cents, currency, buyer_name, buyer_email, created_at_ms, first_serial " +
        "FROM orders WHERE order_id = @order_id AND shard_key = @shard_key";

    /// <summary>An order's serials are consecutive, so its tickets are one primary-key range (no index on order_id).</summary>
    public const string ReadTickets =
        "SELECT serial, code FROM tickets WHERE event_id = @event_id AND ticket_type_id = @ticket_type_id " +
        "AND serial >= @first_serial AND serial < @end_serial AND order_id = @order_id ORDER BY serial";

    public const string ReadKeys = "SELECT idem_key, fingerprint, order_id FROM idempotency_keys WHERE shard_key = @shard_key";

    public const string CountSoldTickets =
        "SELECT COUNT(*) FROM tickets t JOIN orders o ON o.order_id = t.order_id WHERE o.shard_key = @shard_key";

    private const string ClaimWithUpsert =
        "INSERT INTO shard_state (shard_key, epoch, block_first, block_size, sold) VALUES (@shard_key, 1, @block_first, @block_size, 0) " +
        "ON CONFLICT (shard_key) DO UPDATE SET epoch = shard_state.epoch + 1 " +
        "RETURNING epoch, sold, block_first, block_size";

    private const string UpsertKeyOnConflict =
        "INSERT INTO idempotency_keys (shard_key, idem_key, fingerprint, order_id) VALUES (@shard_key, @idem_key, @fingerprint, @order_id) " +
        "ON CONFLICT (shard_key, idem_key) DO UPDATE SET order_id = excluded.order_id";

    public static ShardSql For(SqlDialect dialect) => dialect switch
    {
        SqlDialect.Sqlite => new ShardSql { Claim = ClaimWithUpsert, UpsertKey = UpsertKeyOnConflict },
        SqlDialect.PostgreSql => new ShardSql { Claim = ClaimWithUpsert, UpsertKey = UpsertKeyOnConflict },
        SqlDialect.SqlServer => new ShardSql
        {
            // Unverified: written for SQL Server 2019+/Azure SQL, never run here.
            Claim =
                "UPDATE shard_state WITH (UPDLOCK, HOLDLOCK) SET epoch = epoch + 1 " +
                "OUTPUT inserted.epoch, inserted.sold, inserted.block_first, inserted.block_size WHERE shard_key = @shard_key; " +
                "IF @@ROWCOUNT = 0 INSERT INTO shard_state (shard_key, epoch, block_first, block_size, sold) " +
                "OUTPUT inserted.epoch, inserted.sold, inserted.block_first, inserted.block_size VALUES (@shard_key, 1, @block_first, @block_size, 0);",
            UpsertKey =
                "UPDATE idempotency_keys SET order_id = @order_id WHERE shard_key = @shard_key AND idem_key = @idem_key; " +
                "IF @@ROWCOUNT = 0 INSERT INTO idempotency_keys (shard_key, idem_key, fingerprint, order_id) VALUES (@shard_key, @idem_key, @fingerprint, @order_id);",
        },
        _ => throw new ArgumentOutOfRangeException(nameof(dialect)),
    };
}
