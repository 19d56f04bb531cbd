-- Grain state for Orleans ADO.NET persistence (Microsoft.Orleans.Persistence.AdoNet), PostgreSQL 15+.
--
-- Run on every startup, inside one transaction (GrainStateSchema does this; by hand: psql -1 -f).
-- Every statement is idempotent, and the advisory lock below makes silos that start together
-- take turns: concurrent CREATE ... IF NOT EXISTS can otherwise fail on the catalog's own
-- unique indexes.
--
-- Contract (see AdoNetGrainStorage): the provider reads the query texts from OrleansQuery and
-- binds @GrainIdHash, @GrainIdN0, @GrainIdN1, @GrainTypeHash, @GrainTypeString (the *state name*,
-- not the grain class), @GrainIdExtensionString, @ServiceId, @GrainStateVersion (the ETag as an
-- integer, NULL when the grain has never seen a stored version) and @PayloadBinary.
-- The ETag is Version. A write or clear that changes nothing must return no row (or the same
-- version): the provider then throws InconsistentStateException.

SELECT pg_advisory_xact_lock(7210486453177512345);

-- Unquoted on purpose: the provider selects "QueryKey, QueryText FROM OrleansQuery" unquoted, so
-- the names fold to lower case. Other Orleans ADO.NET components share this table.
CREATE TABLE IF NOT EXISTS OrleansQuery
(
    QueryKey  varchar(64) NOT NULL,
    QueryText text        NOT NULL,
    CONSTRAINT OrleansQuery_Key PRIMARY KEY (QueryKey)
);

CREATE TABLE IF NOT EXISTS OrleansGrainState
(
    GrainIdHash            integer      NOT NULL,
    GrainIdN0              bigint       NOT NULL,
    GrainIdN1              bigint       NOT NULL,
    GrainTypeHash          integer      NOT NULL,
    GrainTypeString        varchar(128) NOT NULL,
    -- NULL (no extension) and '' (key ending in '+') are different grains.
    GrainIdExtensionString varchar(512) NULL,
    ServiceId              varchar(150) NOT NULL,
    -- NULL after a clear: the row keeps its version so a stale writer is still caught.
    PayloadBinary          bytea        NULL,
    Version                integer      NOT NULL,
    ModifiedOn             timestamptz  NOT NULL DEFAULT now()
);

-- The natural key must be unique so that two first writes (both without a version) cannot both
-- insert: the loser hits ON CONFLICT DO NOTHING, returns no row and gets
-- InconsistentStateException. NULLS NOT DISTINCT makes two NULL extensions collide as well.
-- The hashes lead because they are the most selective columns the queries filter on.
-- Created only when missing: CREATE INDEX IF NOT EXISTS takes a SHARE lock on the table before it finds the index
-- there, and keeps it to the end of this transaction, so each silo's start would wait for the catalog writes in
-- flight and hold up the ones after it.
DO $create$
BEGIN
    IF to_regclass('orleansgrainstate_naturalkey') IS NULL THEN
        CREATE UNIQUE INDEX OrleansGrainState_NaturalKey
            ON OrleansGrainState (GrainIdHash, GrainTypeHash, GrainIdN0, GrainIdN1, ServiceId, GrainTypeString, GrainIdExtensionString)
            NULLS NOT DISTINCT;
    END IF;
END
$create$;

INSERT INTO OrleansQuery (QueryKey, QueryText)
VALUES
(
    'ReadFromStorageKey',
    $q$
    SELECT PayloadBinary AS "PayloadBinary", Version AS "Version"
    FROM OrleansGrainState
    WHERE GrainIdHash = @GrainIdHash AND GrainTypeHash = @GrainTypeHash
      AND GrainIdN0 = @GrainIdN0 AND GrainIdN1 = @GrainIdN1
      AND ServiceId = @ServiceId AND GrainTypeString = @GrainTypeString
      AND GrainIdExtensionString IS NOT DISTINCT FROM @GrainIdExtensionString;
    $q$
),
(
    -- Exactly one of the two statements can match, so at most one row comes back.
    -- READ COMMITTED re-checks "Version = @GrainStateVersion" after waiting for a concurrent
    -- writer's row lock, so only one of two writers holding the same version wins.
    'WriteToStorageKey',
    $q$
    UPDATE OrleansGrainState
    SET PayloadBinary = @PayloadBinary, Version = Version + 1, ModifiedOn = now()
    WHERE GrainIdHash = @GrainIdHash AND GrainTypeHash = @GrainTypeHash
      AND GrainIdN0 = @GrainIdN0 AND GrainIdN1 = @GrainIdN1
      AND ServiceId = @ServiceId AND GrainTypeString = @GrainTypeString
      AND GrainIdExtensionString IS NOT DISTINCT FROM @GrainIdExtensionString
      AND Version = @GrainStateVersion
    RETURNING Version AS "NewGrainStateVersion";

    INSERT INTO OrleansGrainState
        (GrainIdHash, GrainIdN0, GrainIdN1, GrainTypeHash, GrainTypeString, GrainIdExtensionString, ServiceId, PayloadBinary, Version)
    SELECT @GrainIdHash, @GrainIdN0, @GrainIdN1, @GrainTypeHash, @GrainTypeString, @GrainIdExtensionString, @ServiceId, @PayloadBinary, 1
    WHERE @GrainStateVersion IS NULL
    ON CONFLICT DO NOTHING
    RETURNING Version AS "NewGrainStateVersion";
    $q$
),
(
    'ClearStorageKey',
    $q$
    UPDATE OrleansGrainState
    SET PayloadBinary = NULL, Version = Version + 1, ModifiedOn = now()
    WHERE GrainIdHash = @GrainIdHash AND GrainTypeHash = @GrainTypeHash
      AND GrainIdN0 = @GrainIdN0 AND GrainIdN1 = @GrainIdN1
      AND ServiceId = @ServiceId AND GrainTypeString = @GrainTypeString
      AND GrainIdExtensionString IS NOT DISTINCT FROM @GrainIdExtensionString
      AND Version = @GrainStateVersion
    RETURNING Version;
    $q$
)
ON CONFLICT (QueryKey) DO UPDATE SET QueryText = EXCLUDED.QueryText;

-- No DeleteStorageKey, on purpose: deleting a row lets the next first write start again at version 1, which a
-- stale twin that read the deleted row may still hold as its ETag, and its write would then match. Without the
-- query the provider refuses DeleteStateOnClear=true at start ("not supported") instead of losing updates; a
-- copy stored by an earlier version of this script is removed.
DELETE FROM OrleansQuery WHERE QueryKey = 'DeleteStorageKey';
