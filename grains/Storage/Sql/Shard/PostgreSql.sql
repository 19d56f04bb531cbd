-- One shard database. Shards that share it each own one shard_state row and their own orders.
CREATE TABLE IF NOT EXISTS shard_state (
    shard_key   text   NOT NULL PRIMARY KEY,
    epoch       bigint NOT NULL,
    block_first bigint NOT NULL,
    block_size  bigint NOT NULL,
    sold        bigint NOT NULL,
    -- What the shard may sell now: its block, minus serials it gave away, plus serials it received.
    capacity    bigint NOT NULL,
    -- The serials behind capacity, in selling order: 'first+count;first+count'. Sold ones are a prefix.
    segments    text NOT NULL,
    -- 1 once drained: the shard takes no more tickets in.
    retired     integer NOT NULL,
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
    order_key        text     NOT NULL PRIMARY KEY,
    order_id         text     NOT NULL,
    shard_key        text     NOT NULL,
    event_id         text     NOT NULL,
    ticket_type_id   text     NOT NULL,
    quantity         integer  NOT NULL,
    first_serial     bigint   NOT NULL,
    -- Only when the serials are not one run (an order that used received serials): 'first+count;...'.
    serial_segments  text,
    unit_price_cents bigint   NOT NULL,
    currency         text     NOT NULL,
    buyer_name       text     NOT NULL,
    buyer_email      text     NOT NULL,
    created_at_ms    bigint   NOT NULL,
    -- The writing transaction's id. Transactions commit in any order, so the export reads only marks below the oldest
    -- transaction still running (pg_snapshot_xmin): every order that commits later has a mark at least that high, and
    -- a cursor stopped there misses nothing (keys follow mint time, not commit time).
    save_mark        bigint   NOT NULL DEFAULT CAST(CAST(pg_current_xact_id() AS text) AS bigint)
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
-- A key's homes for the ticket types of one event all live in one database, so keying the table by (event, key)
-- makes the database itself refuse a key that a home of another type already holds: one key, one order, per event.
-- It is the table's only index: a shard reads its keys one at a time by (event, key), never all at once.
CREATE TABLE IF NOT EXISTS idempotency_keys (
    event_id     text NOT NULL,
    idem_key     text NOT NULL,
    shard_key    text NOT NULL,
    fingerprint  text NOT NULL,
    order_id     text NOT NULL,
    CONSTRAINT idempotency_keys_event_key PRIMARY KEY (event_id, idem_key)
);

-- Escrow transfers. The donor records what it gave (and later that it was delivered); the receiver records what it
-- took in. The receiver's primary key makes taking a transfer in idempotent, whatever the redeliveries.
CREATE TABLE IF NOT EXISTS transfers_out (
    transfer_id  text NOT NULL PRIMARY KEY,
    donor_key    text NOT NULL,
    receiver_key text NOT NULL,
    segments     text NOT NULL,
    quantity     bigint NOT NULL,
    delivered    integer NOT NULL
);
CREATE TABLE IF NOT EXISTS transfers_in (
    transfer_id  text NOT NULL PRIMARY KEY,
    receiver_key text NOT NULL,
    donor_key    text NOT NULL,
    segments     text NOT NULL,
    quantity     bigint NOT NULL
);
-- Forwarded order ids a shard refused as sold out. A shard can gain tickets later (transfers, added capacity), so
-- it must remember these: the key's home has moved on, and creating one of them would be a second order.
CREATE TABLE IF NOT EXISTS refused_orders (
    order_id     text NOT NULL PRIMARY KEY,
    shard_key    text NOT NULL
);
-- A shard reads its own transfers and refusals each time it loads (every activation, and every reload after a commit
-- whose outcome it could not know): by these indexes, not by a scan of every shard's rows in the database.
-- Created only when missing: CREATE INDEX IF NOT EXISTS takes a SHARE lock on its table before it finds the index, and
-- keeps it to the end of this transaction, so each silo's first open would hold up the other silos' transfers.
DO $create$
BEGIN
    IF to_regclass('transfers_out_donor') IS NULL THEN
        CREATE INDEX transfers_out_donor ON transfers_out (donor_key, delivered);
    END IF;
    IF to_regclass('transfers_in_receiver') IS NULL THEN
        CREATE INDEX transfers_in_receiver ON transfers_in (receiver_key);
    END IF;
    IF to_regclass('refused_orders_shard') IS NULL THEN
        CREATE INDEX refused_orders_shard ON refused_orders (shard_key);
    END IF;
    -- Databases made before orders had a save mark: their orders take the id of the transaction that adds it, below
    -- every later order's. This script runs under an advisory lock, so two silos do not add it at once.
    -- pg_current_xact_id is stable, so the column is added without rewriting the table. Only the layout just before:
    -- an older one is refused whole after this script (RefuseOlderLayoutAsync), and left as it was.
    IF NOT EXISTS (SELECT 1 FROM information_schema.columns
                   WHERE table_schema = current_schema() AND table_name = 'orders' AND column_name = 'save_mark')
       AND EXISTS (SELECT 1 FROM information_schema.columns
                   WHERE table_schema = current_schema() AND table_name = 'orders' AND column_name = 'order_key')
       AND EXISTS (SELECT 1 FROM information_schema.columns
                   WHERE table_schema = current_schema() AND table_name = 'idempotency_keys' AND column_name = 'event_id') THEN
        ALTER TABLE orders ADD COLUMN save_mark bigint NOT NULL DEFAULT CAST(CAST(pg_current_xact_id() AS text) AS bigint);
    END IF;
    -- The export's pages (see the SQLite script): one event's orders in save order, without other events' rows.
    IF to_regclass('orders_saved') IS NULL THEN
        CREATE INDEX orders_saved ON orders (event_id, save_mark, order_key);
    END IF;
    IF to_regclass('orders_event') IS NOT NULL THEN
        DROP INDEX orders_event;
    END IF;
END
$create$;
-- A database restored onto another server (a dump and restore, a server moved) keeps its orders' save marks: the
-- old server's transaction ids. Where they lie past this server's ids, the export's horizon (the oldest id running
-- here) stays below them, and those orders stay out of every walk until this server's ids pass them. Every such order
-- committed before this script began, so it takes this transaction's id instead, below every order's written later,
-- as the column's addition above does (whose orders hold this id already, and are left alone). On a database that
-- was not moved, only an order another silo commits while this runs can match (every mark committed before is an id
-- this server gave out earlier), and its new mark is still at or past every place a read hands out meanwhile: this
-- transaction, running, holds every read's horizon at or below its id. Event by event through orders_saved, so the
-- check costs one index probe per event.
DO $moved$
DECLARE
    here bigint := CAST(CAST(pg_current_xact_id() AS text) AS bigint);
    moved record;
BEGIN
    FOR moved IN
        WITH RECURSIVE events (id) AS (
            SELECT min(event_id) FROM orders
            UNION ALL
            SELECT (SELECT min(o.event_id) FROM orders o WHERE o.event_id > events.id) FROM events WHERE events.id IS NOT NULL)
        SELECT id FROM events WHERE id IS NOT NULL
    LOOP
        UPDATE orders SET save_mark = here WHERE event_id = moved.id AND save_mark > here;
    END LOOP;
END
$moved$;
