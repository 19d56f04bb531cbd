-- Grain state for Orleans ADO.NET persistence (Microsoft.Orleans.Persistence.AdoNet), SQL Server.
-- UNVERIFIED: no SQL Server is available to the project; review and test before relying on it.
--
-- Run on every startup, inside one transaction (GrainStateSchema splits it on GO lines and runs
-- the batches in one transaction). The app lock makes silos that start together take turns.
--
-- Contract (see AdoNetGrainStorage): the provider reads the query texts from OrleansQuery and
-- binds @GrainIdHash, @GrainIdN0, @GrainIdN1, @GrainTypeHash, @GrainTypeString (the *state name*,
-- not the grain class), @GrainIdExtensionString, @ServiceId, @GrainStateVersion (the ETag as an
-- integer, NULL when the grain has never seen a stored version) and @PayloadBinary.
-- The ETag is Version. A write or clear that changes nothing must return no row: the provider
-- then throws InconsistentStateException.

EXEC sp_getapplock @Resource = N'OrleansTickets.GrainStateSchema', @LockMode = N'Exclusive', @LockOwner = N'Transaction';
GO

IF OBJECT_ID(N'dbo.OrleansQuery', N'U') IS NULL
    CREATE TABLE dbo.OrleansQuery
    (
        QueryKey  varchar(64)   NOT NULL CONSTRAINT OrleansQuery_Key PRIMARY KEY,
        QueryText nvarchar(max) NOT NULL
    );
GO

-- Column sizes keep the unique index key under SQL Server's 1,700-byte limit. Identifying strings compare by their
-- code points (a binary collation), as Orleans and the other engines do: the usual default collation ignores case,
-- which would make two grains or two services one. Tables made before this keep their collation.
IF OBJECT_ID(N'dbo.OrleansGrainState', N'U') IS NULL
    CREATE TABLE dbo.OrleansGrainState
    (
        GrainIdHash            int            NOT NULL,
        GrainIdN0              bigint         NOT NULL,
        GrainIdN1              bigint         NOT NULL,
        GrainTypeHash          int            NOT NULL,
        GrainTypeString        nvarchar(128)  COLLATE Latin1_General_100_BIN2 NOT NULL,
        -- NULL (no extension) and '' (key ending in '+') are different grains.
        GrainIdExtensionString nvarchar(512)  COLLATE Latin1_General_100_BIN2 NULL,
        ServiceId              nvarchar(150)  COLLATE Latin1_General_100_BIN2 NOT NULL,
        -- NULL after a clear: the row keeps its version so a stale writer is still caught.
        PayloadBinary          varbinary(max) NULL,
        Version                int            NOT NULL,
        ModifiedOn             datetime2(3)   NOT NULL CONSTRAINT OrleansGrainState_ModifiedOn DEFAULT SYSUTCDATETIME()
    );
GO

-- SQL Server's unique indexes treat NULLs as equal, which is what two NULL extensions need.
IF NOT EXISTS (SELECT 1 FROM sys.indexes WHERE name = N'OrleansGrainState_NaturalKey' AND object_id = OBJECT_ID(N'dbo.OrleansGrainState'))
    CREATE UNIQUE INDEX OrleansGrainState_NaturalKey
        ON dbo.OrleansGrainState (GrainIdHash, GrainTypeHash, GrainIdN0, GrainIdN1, ServiceId, GrainTypeString, GrainIdExtensionString);
GO

-- An upsert keyed by QueryKey; MERGE is avoided for its concurrency pitfalls, and the app lock
-- above already serialises schema runs.
DECLARE @Queries TABLE (QueryKey varchar(64) NOT NULL, QueryText nvarchar(max) NOT NULL);

INSERT INTO @Queries (QueryKey, QueryText) VALUES
(
    'ReadFromStorageKey',
    N'SELECT PayloadBinary, Version
    FROM dbo.OrleansGrainState
    WHERE GrainIdHash = @GrainIdHash AND GrainTypeHash = @GrainTypeHash
      AND GrainIdN0 = @GrainIdN0 AND GrainIdN1 = @GrainIdN1
      AND ServiceId = @ServiceId AND GrainTypeString = @GrainTypeString
      AND (GrainIdExtensionString = @GrainIdExtensionString OR (GrainIdExtensionString IS NULL AND @GrainIdExtensionString IS NULL));'
),
(
    -- UPDLOCK + HOLDLOCK keep the key range locked from the existence check to the insert, so
    -- the second of two first writers waits, then sees the row and inserts nothing. The unique
    -- index is the backstop should that ever fail.
    'WriteToStorageKey',
    N'IF @GrainStateVersion IS NULL
    BEGIN
        INSERT INTO dbo.OrleansGrainState
            (GrainIdHash, GrainIdN0, GrainIdN1, GrainTypeHash, GrainTypeString, GrainIdExtensionString, ServiceId, PayloadBinary, Version)
        OUTPUT INSERTED.Version AS NewGrainStateVersion
        SELECT @GrainIdHash, @GrainIdN0, @GrainIdN1, @GrainTypeHash, @GrainTypeString, @GrainIdExtensionString, @ServiceId, @PayloadBinary, 1
        WHERE NOT EXISTS
        (
            SELECT 1 FROM dbo.OrleansGrainState WITH (UPDLOCK, HOLDLOCK)
            WHERE GrainIdHash = @GrainIdHash AND GrainTypeHash = @GrainTypeHash
              AND GrainIdN0 = @GrainIdN0 AND GrainIdN1 = @GrainIdN1
              AND ServiceId = @ServiceId AND GrainTypeString = @GrainTypeString
              AND (GrainIdExtensionString = @GrainIdExtensionString OR (GrainIdExtensionString IS NULL AND @GrainIdExtensionString IS NULL))
        );
    END
    ELSE
    BEGIN
        UPDATE dbo.OrleansGrainState
        SET PayloadBinary = @PayloadBinary, Version = Version + 1, ModifiedOn = SYSUTCDATETIME()
        OUTPUT INSERTED.Version AS NewGrainStateVersion
        WHERE GrainIdHash = @GrainIdHash AND GrainTypeHash = @GrainTypeHash
          AND GrainIdN0 = @GrainIdN0 AND GrainIdN1 = @GrainIdN1
          AND ServiceId = @ServiceId AND GrainTypeString = @GrainTypeString
          AND (GrainIdExtensionString = @GrainIdExtensionString OR (GrainIdExtensionString IS NULL AND @GrainIdExtensionString IS NULL))
          AND Version = @GrainStateVersion;
    END'
),
(
    'ClearStorageKey',
    N'UPDATE dbo.OrleansGrainState
    SET PayloadBinary = NULL, Version = Version + 1, ModifiedOn = SYSUTCDATETIME()
    OUTPUT INSERTED.Version
    WHERE GrainIdHash = @GrainIdHash AND GrainTypeHash = @GrainTypeHash
      AND GrainIdN0 = @GrainIdN0 AND GrainIdN1 = @GrainIdN1
      AND ServiceId = @ServiceId AND GrainTypeString = @GrainTypeString
      AND (GrainIdExtensionString = @GrainIdExtensionString OR (GrainIdExtensionString IS NULL AND @GrainIdExtensionString IS NULL))
      AND Version = @GrainStateVersion;'
);

UPDATE q SET QueryText = n.QueryText
FROM dbo.OrleansQuery AS q JOIN @Queries AS n ON n.QueryKey = q.QueryKey;

INSERT INTO dbo.OrleansQuery (QueryKey, QueryText)
SELECT n.QueryKey, n.QueryText FROM @Queries AS n
WHERE NOT EXISTS (SELECT 1 FROM dbo.OrleansQuery AS q WHERE q.QueryKey = n.QueryKey);

-- No DeleteStorageKey, on purpose: deleting a row lets the next first write start again at version 1, which a
-- stale twin that read the deleted row may still hold as its ETag, and its write would then match. Without the
-- query the provider refuses DeleteStateOnClear=true at start ("not supported") instead of losing updates; a
-- copy stored by an earlier version of this script is removed.
DELETE FROM dbo.OrleansQuery WHERE QueryKey = N'DeleteStorageKey';
GO
