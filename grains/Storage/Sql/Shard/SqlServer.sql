-- UNVERIFIED: SQL Server cannot run on the project's machines. Kept small on purpose.
IF OBJECT_ID(N'dbo.shard_state', N'U') IS NULL
CREATE TABLE dbo.shard_state (
    shard_key   nvarchar(200) NOT NULL PRIMARY KEY,
    epoch       bigint NOT NULL,
    block_first bigint NOT NULL,
    block_size  bigint NOT NULL,
    sold        bigint NOT NULL,
    -- What the shard may sell now: its block, minus serials it gave away, plus serials it received.
    capacity    bigint NOT NULL,
    -- The serials behind capacity, in selling order: 'first+count;first+count'. Sold ones are a prefix.
    segments    nvarchar(max) NOT NULL,
    -- 1 once drained: the shard takes no more tickets in.
    retired     int NOT NULL,
    CHECK (sold >= 0 AND sold <= capacity AND capacity >= 0)
);
IF OBJECT_ID(N'dbo.orders', N'U') IS NULL
CREATE TABLE dbo.orders (
    -- The order id's last part (mint time, then random bits): new orders append to the clustered index. Binary
    -- collation: the key is case-sensitive base64url, and a case-insensitive default would fold distinct keys.
    order_key        nvarchar(32)  COLLATE Latin1_General_100_BIN2 NOT NULL PRIMARY KEY,
    order_id         nvarchar(200) NOT NULL,
    shard_key        nvarchar(200) NOT NULL,
    event_id         nvarchar(64)  NOT NULL,
    ticket_type_id   nvarchar(64)  NOT NULL,
    quantity         int           NOT NULL,
    first_serial     bigint        NOT NULL,
    -- Only when the serials are not one run (an order that used received serials): 'first+count;...'.
    serial_segments  nvarchar(max),
    unit_price_cents bigint        NOT NULL,
    currency         nchar(3)      NOT NULL,
    buyer_name       nvarchar(200) NOT NULL,
    buyer_email      nvarchar(254) NOT NULL,
    created_at_ms    bigint        NOT NULL,
    -- Set by the server on insert. The export reads only versions below MIN_ACTIVE_ROWVERSION(), the oldest a
    -- running transaction holds, so an order that commits later has a higher one (see the PostgreSQL script).
    save_mark        rowversion    NOT NULL
);
IF OBJECT_ID(N'dbo.tickets', N'U') IS NULL
CREATE TABLE dbo.tickets (
    event_id       nvarchar(64)  NOT NULL,
    ticket_type_id nvarchar(64)  NOT NULL,
    serial         bigint        NOT NULL,
    order_id       nvarchar(200) NOT NULL,
    code           nvarchar(200) NOT NULL,
    PRIMARY KEY (event_id, ticket_type_id, serial)
);
-- A key's homes for the ticket types of one event all live in one database, so keying the table by (event, key)
-- makes the database itself refuse a key that a home of another type already holds: one key, one order, per event.
-- Binary collation: keys compare as the other engines compare them, case and all.
IF OBJECT_ID(N'dbo.idempotency_keys', N'U') IS NULL
CREATE TABLE dbo.idempotency_keys (
    event_id     nvarchar(64)  COLLATE Latin1_General_100_BIN2 NOT NULL,
    idem_key     nvarchar(100) COLLATE Latin1_General_100_BIN2 NOT NULL,
    shard_key    nvarchar(200) NOT NULL,
    fingerprint  nchar(64)     NOT NULL,
    order_id     nvarchar(200) NOT NULL,
    CONSTRAINT idempotency_keys_event_key PRIMARY KEY (event_id, idem_key)
);

-- Escrow transfers. The donor records what it gave (and later that it was delivered); the receiver records what it
-- took in. The receiver's primary key makes taking a transfer in idempotent, whatever the redeliveries.
IF OBJECT_ID(N'dbo.transfers_out', N'U') IS NULL
CREATE TABLE dbo.transfers_out (
    transfer_id  nvarchar(200) NOT NULL PRIMARY KEY,
    donor_key    nvarchar(200) NOT NULL,
    receiver_key nvarchar(200) NOT NULL,
    segments     nvarchar(max) NOT NULL,
    quantity     bigint NOT NULL,
    delivered    int NOT NULL
);
IF OBJECT_ID(N'dbo.transfers_in', N'U') IS NULL
CREATE TABLE dbo.transfers_in (
    transfer_id  nvarchar(200) NOT NULL PRIMARY KEY,
    receiver_key nvarchar(200) NOT NULL,
    donor_key    nvarchar(200) NOT NULL,
    segments     nvarchar(max) NOT NULL,
    quantity     bigint NOT NULL
);
-- Forwarded order ids a shard refused as sold out. A shard can gain tickets later (transfers, added capacity), so
-- it must remember these: the key's home has moved on, and creating one of them would be a second order.
IF OBJECT_ID(N'dbo.refused_orders', N'U') IS NULL
CREATE TABLE dbo.refused_orders (
    order_id     nvarchar(200) NOT NULL PRIMARY KEY,
    shard_key    nvarchar(200) NOT NULL
);
-- A shard reads its own transfers and refusals each time it loads: by these indexes, not by a scan.
IF NOT EXISTS (SELECT 1 FROM sys.indexes WHERE name = N'transfers_out_donor' AND object_id = OBJECT_ID(N'dbo.transfers_out'))
    CREATE INDEX transfers_out_donor ON dbo.transfers_out (donor_key, delivered);
IF NOT EXISTS (SELECT 1 FROM sys.indexes WHERE name = N'transfers_in_receiver' AND object_id = OBJECT_ID(N'dbo.transfers_in'))
    CREATE INDEX transfers_in_receiver ON dbo.transfers_in (receiver_key);
IF NOT EXISTS (SELECT 1 FROM sys.indexes WHERE name = N'refused_orders_shard' AND object_id = OBJECT_ID(N'dbo.refused_orders'))
    CREATE INDEX refused_orders_shard ON dbo.refused_orders (shard_key);
-- Databases made before orders had a save mark get one (the server numbers the rows it has).
-- Only the layout just before: an older one is refused whole after this script, and left as it was.
IF COL_LENGTH(N'dbo.orders', N'save_mark') IS NULL AND COL_LENGTH(N'dbo.orders', N'order_key') IS NOT NULL
    AND COL_LENGTH(N'dbo.idempotency_keys', N'event_id') IS NOT NULL
    ALTER TABLE dbo.orders ADD save_mark rowversion NOT NULL;
GO
-- The export's pages (see the SQLite script): one event's orders in save order, without other events' rows.
IF NOT EXISTS (SELECT 1 FROM sys.indexes WHERE name = N'orders_saved' AND object_id = OBJECT_ID(N'dbo.orders'))
    CREATE INDEX orders_saved ON dbo.orders (event_id, save_mark, order_key);
IF EXISTS (SELECT 1 FROM sys.indexes WHERE name = N'orders_event' AND object_id = OBJECT_ID(N'dbo.orders'))
    DROP INDEX orders_event ON dbo.orders;
