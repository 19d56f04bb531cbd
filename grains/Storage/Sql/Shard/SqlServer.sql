-- UNVERIFIED: SQL Server cannot run on the project's machines. Kept small on purpose.
IF OBJECT_ID(N'dbo.shard_state', N'U') IS NULL
CREATE TABLE dbo.shard_state (
    shard_key   nvarchar(200) NOT NULL PRIMARY KEY,
    epoch       bigint NOT NULL,
    block_first bigint NOT NULL,
    block_size  bigint NOT NULL,
    sold        bigint NOT NULL,
    CHECK (sold >= 0 AND sold <= block_size)
);
IF OBJECT_ID(N'dbo.orders', N'U') IS NULL
CREATE TABLE dbo.orders (
    order_id         nvarchar(200) NOT NULL PRIMARY KEY,
    shard_key        nvarchar(200) NOT NULL,
    event_id         nvarchar(64)  NOT NULL,
    ticket_type_id   nvarchar(64)  NOT NULL,
    quantity         int           NOT NULL,
    first_serial     bigint        NOT NULL,
    unit_price_cents bigint        NOT NULL,
    currency         nchar(3)      NOT NULL,
    buyer_name       nvarchar(200) NOT NULL,
    buyer_email      nvarchar(254) NOT NULL,
    created_at_ms    bigint        NOT NULL
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
IF OBJECT_ID(N'dbo.idempotency_keys', N'U') IS NULL
CREATE TABLE dbo.idempotency_keys (
    shard_key    nvarchar(200) NOT NULL,
    idem_key     nvarchar(100) NOT NULL,
    fingerprint  nchar(64)     NOT NULL,
    order_id     nvarchar(200) NOT NULL,
    PRIMARY KEY (shard_key, idem_key)
);
