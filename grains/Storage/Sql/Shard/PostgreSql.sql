-- One shard database. Shards that share it each own one shard_state row and their own orders.
CREATE TABLE IF NOT EXISTS shard_state (
    shard_key   text   NOT NULL PRIMARY KEY,
    epoch       bigint NOT NULL,
    block_first bigint NOT NULL,
    block_size  bigint NOT NULL,
    sold        bigint NOT NULL,
    -- The database itself refuses an oversold shard, whatever the grain believes.
    CHECK (sold >= 0 AND sold <= block_size)
);
CREATE TABLE IF NOT EXISTS orders (
    order_id         text     NOT NULL PRIMARY KEY,
    shard_key        text     NOT NULL,
    event_id         text     NOT NULL,
    ticket_type_id   text     NOT NULL,
    quantity         integer  NOT NULL,
    first_serial     bigint   NOT NULL,
    unit_price_cents bigint   NOT NULL,
    currency         text     NOT NULL,
    buyer_name       text     NOT NULL,
    buyer_email      text     NOT NULL,
    created_at_ms    bigint   NOT NULL
);
-- The last line of defence against a double sale: one row per physical ticket. A ticket's code is a function
-- of (event, type, serial), so the primary key makes codes unique too. Orders find their tickets by serial range.
CREATE TABLE IF NOT EXISTS tickets (
    event_id       text   NOT NULL,
    ticket_type_id text   NOT NULL,
    serial         bigint NOT NULL,
    order_id       text   NOT NULL,
    code           text   NOT NULL,
    PRIMARY KEY (event_id, ticket_type_id, serial)
);
CREATE TABLE IF NOT EXISTS idempotency_keys (
    shard_key    text NOT NULL,
    idem_key     text NOT NULL,
    fingerprint  text NOT NULL,
    order_id     text NOT NULL,
    PRIMARY KEY (shard_key, idem_key)
);
