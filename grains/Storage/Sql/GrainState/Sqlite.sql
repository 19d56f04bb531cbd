-- Grain state for Orleans ADO.NET persistence (Microsoft.Orleans.Persistence.AdoNet), SQLite 3.35+
-- (RETURNING). The provider's invariant for Microsoft.Data.Sqlite is "System.Data.SQLite".
--
-- Run on every startup; every statement is idempotent. GrainStateSchema runs it in one
-- immediate transaction so concurrent starters take turns.
--
-- Contract (see AdoNetGrainStorage): the provider reads the query texts from OrleansQuery and
-- binds @GrainIdHash, @GrainIdN0, @GrainIdN1, @GrainTypeHash, @GrainTypeString (the *state name*,
-- not the grain class), @GrainIdExtensionString, @ServiceId, @GrainStateVersion (the ETag as an
-- integer, NULL when the grain has never seen a stored version) and @PayloadBinary.
-- The ETag is Version. A write or clear that changes nothing must return no row: the provider
-- then throws InconsistentStateException.
--
-- The length CHECKs mirror the PostgreSQL and SQL Server column sizes, so a key that works in
-- development does not start failing on a server database.

CREATE TABLE IF NOT EXISTS OrleansQuery
(
    QueryKey  TEXT NOT NULL PRIMARY KEY,
    QueryText TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS OrleansGrainState
(
    GrainIdHash            INTEGER NOT NULL,
    GrainIdN0              INTEGER NOT NULL,
    GrainIdN1              INTEGER NOT NULL,
    GrainTypeHash          INTEGER NOT NULL,
    GrainTypeString        TEXT    NOT NULL CHECK (length(GrainTypeString) <= 128),
    -- NULL (no extension) and '' (key ending in '+') are different grains.
    GrainIdExtensionString TEXT    NULL     CHECK (length(GrainIdExtensionString) <= 512),
    ServiceId              TEXT    NOT NULL CHECK (length(ServiceId) <= 150),
    -- NULL after a clear: the row keeps its version so a stale writer is still caught.
    PayloadBinary          BLOB    NULL,
    Version                INTEGER NOT NULL,
    ModifiedOn             TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

-- The natural key must be unique so that two first writes (both without a version) cannot both
-- insert: the loser hits ON CONFLICT DO NOTHING, returns no row and gets
-- InconsistentStateException. SQLite treats NULLs in a unique index as distinct, so the
-- extension is folded into a never-NULL expression that still tells NULL and '' apart.
CREATE UNIQUE INDEX IF NOT EXISTS OrleansGrainState_NaturalKey
    ON OrleansGrainState (GrainIdHash, GrainTypeHash, GrainIdN0, GrainIdN1, ServiceId, GrainTypeString,
                          ifnull('+' || GrainIdExtensionString, '-'));

INSERT INTO OrleansQuery (QueryKey, QueryText)
VALUES
(
    'ReadFromStorageKey',
    'SELECT PayloadBinary, Version
    FROM OrleansGrainState
    WHERE GrainIdHash = @GrainIdHash AND GrainTypeHash = @GrainTypeHash
      AND GrainIdN0 = @GrainIdN0 AND GrainIdN1 = @GrainIdN1
      AND ServiceId = @ServiceId AND GrainTypeString = @GrainTypeString
      AND GrainIdExtensionString IS @GrainIdExtensionString;'
),
(
    -- Exactly one of the two statements can match, so at most one row comes back. SQLite runs
    -- one writer at a time, so the version check and the update cannot interleave.
    -- The INSERT ... SELECT needs its WHERE clause for SQLite to parse ON CONFLICT as an upsert.
    'WriteToStorageKey',
    'UPDATE OrleansGrainState
    SET PayloadBinary = @PayloadBinary, Version = Version + 1,
        ModifiedOn = strftime(''%Y-%m-%dT%H:%M:%fZ'', ''now'')
    WHERE GrainIdHash = @GrainIdHash AND GrainTypeHash = @GrainTypeHash
      AND GrainIdN0 = @GrainIdN0 AND GrainIdN1 = @GrainIdN1
      AND ServiceId = @ServiceId AND GrainTypeString = @GrainTypeString
      AND GrainIdExtensionString IS @GrainIdExtensionString
      AND Version = @GrainStateVersion
    RETURNING Version AS NewGrainStateVersion;

    INSERT INTO OrleansGrainState
        (GrainIdHash, GrainIdN0, GrainIdN1, GrainTypeHash, GrainTypeString, GrainIdExtensionString, ServiceId, PayloadBinary, Version)
    SELECT @GrainIdHash, @GrainIdN0, @GrainIdN1, @GrainTypeHash, @GrainTypeString, @GrainIdExtensionString, @ServiceId, @PayloadBinary, 1
    WHERE @GrainStateVersion IS NULL
    ON CONFLICT DO NOTHING
    RETURNING Version AS NewGrainStateVersion;'
),
(
    'ClearStorageKey',
    'UPDATE OrleansGrainState
    SET PayloadBinary = NULL, Version = Version + 1,
        ModifiedOn = strftime(''%Y-%m-%dT%H:%M:%fZ'', ''now'')
    WHERE GrainIdHash = @GrainIdHash AND GrainTypeHash = @GrainTypeHash
      AND GrainIdN0 = @GrainIdN0 AND GrainIdN1 = @GrainIdN1
      AND ServiceId = @ServiceId AND GrainTypeString = @GrainTypeString
      AND GrainIdExtensionString IS @GrainIdExtensionString
      AND Version = @GrainStateVersion
    RETURNING Version;'
)
ON CONFLICT (QueryKey) DO UPDATE SET QueryText = excluded.QueryText;

-- No DeleteStorageKey, on purpose: deleting a row lets the next first write start again at version 1, which a
-- stale twin that read the deleted row may still hold as its ETag, and its write would then match. Without the
-- query the provider refuses DeleteStateOnClear=true at start ("not supported") instead of losing updates; a
-- copy stored by an earlier version of this script is removed.
DELETE FROM OrleansQuery WHERE QueryKey = 'DeleteStorageKey';
