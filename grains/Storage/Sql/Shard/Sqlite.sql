-- One shard database. Shards that share it each own one shard_state row and their own orders.
CREATE TABLE IF NOT EXISTS shard_state (
    shard_key   TEXT    NOT NULL PRIMARY KEY,
    epoch       INTEGER NOT NULL,
    block_first INTEGER NOT NULL,
    block_size  INTEGER NOT NULL,
    sold        INTEGER NOT NULL,
    -- What the shard may sell now: its block, minus serials it gave away, plus serials it received.
    capacity    INTEGER NOT NULL,
    -- The serials behind capacity, in selling order: 'first+count;first+count'. Sold ones are a prefix.
    segments    TEXT NOT NULL,
    -- 1 once drained: the shard takes no more tickets in.
    retired     INTEGER NOT NULL,
    -- The database itself refuses an oversold shard, whatever the grain believes.
    CHECK (sold >= 0 AND sold <= capacity AND capacity >= 0)
);
-- Which database this is: its number in the shard map and the stamp its catalog recorded (ShardDatabaseIdentity).
CREATE TABLE IF NOT EXISTS shard_database_identity (
    singleton INTEGER NOT NULL PRIMARY KEY CHECK (singleton = 1),
    ordinal   INTEGER NOT NULL,
    stamp     TEXT    NOT NULL
);
CREATE TABLE IF NOT EXISTS orders (
    -- The order id's last part (mint time, then random bits; see OrderId). Keyed by it rather than by the id, whose
    -- shard prefix would scatter a commit's orders over one index leaf each, new orders append to the index's end.
    -- The key is part of the id, so a unique key is a unique id too.
    order_key        TEXT    NOT NULL PRIMARY KEY,
    order_id         TEXT    NOT NULL,
    shard_key        TEXT    NOT NULL,
    event_id         TEXT    NOT NULL,
    ticket_type_id   TEXT    NOT NULL,
    quantity         INTEGER NOT NULL,
    first_serial     INTEGER NOT NULL,
    -- Only when the serials are not one run (an order that used received serials): 'first+count;...'.
    serial_segments  TEXT,
    unit_price_cents INTEGER NOT NULL,
    currency         TEXT    NOT NULL,
    buyer_name       TEXT    NOT NULL,
    buyer_email      TEXT    NOT NULL,
    created_at_ms    INTEGER NOT NULL,
    -- Where the order stands in its event's save order in this database: one more than the event's last order here,
    -- taken inside the writing transaction. SQLite writes one transaction at a time, so an order committed later
    -- always has a higher mark than every order a reader could already see, which lets the export's cursor stop at a
    -- mark and miss nothing committed afterwards (keys follow mint time, not commit time).
    save_mark        INTEGER NOT NULL
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
-- A key's homes for the ticket types of one event all live in one database, so keying the table by (event, key)
-- makes the database itself refuse a key that a home of another type already holds: one key, one order, per event.
-- It is the table's only index: the shard owning the key is a plain column, and a shard reads its keys one at a
-- time by (event, key) instead of all at once by shard.
CREATE TABLE IF NOT EXISTS idempotency_keys (
    event_id     TEXT    NOT NULL,
    idem_key     TEXT    NOT NULL,
    shard_key    TEXT    NOT NULL,
    fingerprint  TEXT    NOT NULL,
    order_id     TEXT    NOT NULL,
    CONSTRAINT idempotency_keys_event_key PRIMARY KEY (event_id, idem_key)
);

-- Escrow transfers. The donor records what it gave (and later that it was delivered); the receiver records what it
-- took in. The receiver's primary key makes taking a transfer in idempotent, whatever the redeliveries.
CREATE TABLE IF NOT EXISTS transfers_out (
    transfer_id  TEXT NOT NULL PRIMARY KEY,
    donor_key    TEXT NOT NULL,
    receiver_key TEXT NOT NULL,
    segments     TEXT NOT NULL,
    quantity     INTEGER NOT NULL,
    delivered    INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS transfers_in (
    transfer_id  TEXT NOT NULL PRIMARY KEY,
    receiver_key TEXT NOT NULL,
    donor_key    TEXT NOT NULL,
    segments     TEXT NOT NULL,
    quantity     INTEGER NOT NULL
);
-- Forwarded order ids a shard refused as sold out. A shard can gain tickets later (transfers, added capacity), so
-- it must remember these: the key's home has moved on, and creating one of them would be a second order.
CREATE TABLE IF NOT EXISTS refused_orders (
    order_id     TEXT NOT NULL PRIMARY KEY,
    shard_key    TEXT NOT NULL
);
-- A shard reads its own transfers and refusals each time it loads (every activation, and every reload after a commit
-- whose outcome it could not know): by these indexes, not by a scan of every shard's rows in the database.
CREATE INDEX IF NOT EXISTS transfers_out_donor ON transfers_out (donor_key, delivered);
CREATE INDEX IF NOT EXISTS transfers_in_receiver ON transfers_in (receiver_key);
CREATE INDEX IF NOT EXISTS refused_orders_shard ON refused_orders (shard_key);
-- The back office's export reads one event's orders in save order (save_mark, then key). All events share a
-- database's orders, so without this index a page would scan every earlier event's orders to reach its first and
-- every later event's after its last. The writer finds an event's last mark through it too. A sale's inserts land
-- at the end of its event's range: one hot leaf, not a random one.
CREATE INDEX IF NOT EXISTS orders_saved ON orders (event_id, save_mark, order_key);
-- The key-order index of earlier builds: nothing reads it any more.
DROP INDEX IF EXISTS orders_event;
