-- One shard database. Shards that share it each own one shard_state row and their own orders.
CREATE TABLE IF NOT EXISTS shard_state (
    shard_key   TEXT    NOT NULL PRIMARY KEY,
    epoch       INTEGER NOT NULL,
    block_first INTEGER NOT NULL,
    block_size  INTEGER NOT NULL,
    sold        INTEGER NOT NULL,
    -- The database itself refuses an oversold shard, whatever the grain believes.
    CHECK (sold >= 0 AND sold <= block_size)
);
CREATE TABLE IF NOT EXISTS orders (
    order_id         TEXT    NOT NULL PRIMARY KEY,
    shard_key        TEXT    NOT NULL,
    event_id         TEXT    NOT NULL,
    ticket_type_id   TEXT    NOT NULL,
    quantity         INTEGER NOT NULL,
    first_serial     INTEGER NOT NULL,
    unit_price_cents INTEGER NOT NULL,
    currency         TEXT    NOT NULL,
    buyer_name       TEXT    NOT NULL,
    buyer_email      TEXT    NOT NULL,
    created_at_ms    INTEGER NOT NULL
);
-- The last line of defence against a double sale: one row per physical ticket. A ticket's code is a function
-- of (event, type, serial), so the primary key makes codes unique too. Orders find their tickets by serial range.
CREATE TABLE IF NOT EXISTS tickets (
    event_id       TEXT    NOT NULL,
    ticket_type_id TEXT    NOT NULL,
    serial         INTEGER NOT NULL,
    order_id       TEXT    NOT NULL,
    code           TEXT    NOT NULL,
    PRIMARY KEY (event_id, ticket_type_id, serial)
);
CREATE TABLE IF NOT EXISTS idempotency_keys (
    shard_key    TEXT    NOT NULL,
    idem_key     TEXT    NOT NULL,
    fingerprint  TEXT    NOT NULL,
    order_id     TEXT    NOT NULL,
    PRIMARY KEY (shard_key, idem_key)
);
