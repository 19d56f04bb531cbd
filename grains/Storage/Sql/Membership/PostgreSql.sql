-- Cluster membership for Orleans ADO.NET clustering (Microsoft.Orleans.Clustering.AdoNet), PostgreSQL 15+.
--
-- Run on every startup, inside one transaction (MembershipSchema does this; by hand: psql -1 -f).
-- Every statement is idempotent. The advisory lock is the one the grain-state script takes, so
-- the two scripts, which share OrleansQuery, also take turns with each other.
--
-- Contract (see AdoNetClusteringTable and RelationalOrleansQueries): the provider reads the query
-- texts from OrleansQuery and binds @DeploymentId (the cluster id), @Address, @Port, @Generation
-- (the silo address), @SiloName, @HostName, @Status (SiloStatus as an integer: 3 Active, 6 Dead),
-- @ProxyPort, @SuspectTimes, @StartTime, @IAmAliveTime (UTC) and @Version. The insert stores no
-- votes, whether or not the provider binds @SuspectTimes for it: a silo inserts only its own fresh
-- row, which has none (and an insert naming an unbound @SuspectTimes would fail).
--
-- Optimistic concurrency lives in one place: the cluster's row in OrleansMembershipVersionTable.
-- Every read returns its Version, and the provider uses it both as the table version and as every
-- row's etag. An insert or update binds the Version it read; it succeeds only if that is still the
-- stored one, and then bumps it. Whatever fails, fails whole: no row changes and the version stays.

SELECT pg_advisory_xact_lock(7210486453177512345);

-- Same definition as in the grain-state script; whichever runs first creates it.
CREATE TABLE IF NOT EXISTS OrleansQuery
(
    QueryKey  varchar(64) NOT NULL,
    QueryText text        NOT NULL,
    CONSTRAINT OrleansQuery_Key PRIMARY KEY (QueryKey)
);

CREATE TABLE IF NOT EXISTS OrleansMembershipVersionTable
(
    DeploymentId varchar(150) NOT NULL,
    Version      integer      NOT NULL DEFAULT 0,
    ModifiedOn   timestamptz  NOT NULL DEFAULT now(),
    CONSTRAINT OrleansMembershipVersionTable_Key PRIMARY KEY (DeploymentId)
);

CREATE TABLE IF NOT EXISTS OrleansMembershipTable
(
    DeploymentId varchar(150) NOT NULL,
    Address      varchar(45)  NOT NULL,
    Port         integer      NOT NULL,
    Generation   integer      NOT NULL,
    SiloName     varchar(150) NOT NULL,
    HostName     varchar(150) NOT NULL,
    Status       integer      NOT NULL,
    -- 0 when the silo hosts no gateway; the reader cannot take NULL.
    ProxyPort    integer      NOT NULL,
    -- "silo,date|silo,date…": one death vote per suspecting silo, written by the provider.
    SuspectTimes text         NULL,
    StartTime    timestamptz  NOT NULL,
    IAmAliveTime timestamptz  NOT NULL,
    CONSTRAINT OrleansMembershipTable_Key PRIMARY KEY (DeploymentId, Address, Port, Generation),
    CONSTRAINT OrleansMembershipTable_Cluster FOREIGN KEY (DeploymentId)
        REFERENCES OrleansMembershipVersionTable (DeploymentId)
);

-- Quoted aliases give the reader the exact column names it asks for.
INSERT INTO OrleansQuery (QueryKey, QueryText)
VALUES
(
    -- Every silo calls this at start; only the first creates the row (version 0).
    'InsertMembershipVersionKey',
    $q$
    WITH created AS
    (
        INSERT INTO OrleansMembershipVersionTable (DeploymentId) VALUES (@DeploymentId)
        ON CONFLICT (DeploymentId) DO NOTHING
        RETURNING 1
    )
    SELECT EXISTS (SELECT 1 FROM created) AS "Created";
    $q$
),
(
    -- The version row leads so that a cluster without members still returns its version; a
    -- member-less result row has a NULL StartTime, which the reader takes as "no entry".
    'MembershipReadAllKey',
    $q$
    SELECT v.Version AS "Version", m.Address AS "Address", m.Port AS "Port", m.Generation AS "Generation",
           m.SiloName AS "SiloName", m.HostName AS "HostName", m.Status AS "Status", m.ProxyPort AS "ProxyPort",
           m.SuspectTimes AS "SuspectTimes", m.StartTime AS "StartTime", m.IAmAliveTime AS "IAmAliveTime"
    FROM OrleansMembershipVersionTable v
    LEFT JOIN OrleansMembershipTable m ON m.DeploymentId = v.DeploymentId
    WHERE v.DeploymentId = @DeploymentId;
    $q$
),
(
    'MembershipReadRowKey',
    $q$
    SELECT v.Version AS "Version", m.Address AS "Address", m.Port AS "Port", m.Generation AS "Generation",
           m.SiloName AS "SiloName", m.HostName AS "HostName", m.Status AS "Status", m.ProxyPort AS "ProxyPort",
           m.SuspectTimes AS "SuspectTimes", m.StartTime AS "StartTime", m.IAmAliveTime AS "IAmAliveTime"
    FROM OrleansMembershipVersionTable v
    LEFT JOIN OrleansMembershipTable m ON m.DeploymentId = v.DeploymentId
        AND m.Address = @Address AND m.Port = @Port AND m.Generation = @Generation
    WHERE v.DeploymentId = @DeploymentId;
    $q$
),
(
    -- The version bump comes first and the insert only feeds on its result. Two silos joining
    -- with the same version: the second waits for the first's row lock, READ COMMITTED re-checks
    -- "Version = @Version" against the committed bump, and it matches nothing. An existing row is
    -- checked before bumping, so a duplicate fails without moving the version; any inserter that
    -- could race with that check must hold the version row first. The primary key is the backstop.
    'InsertMembershipKey',
    $q$
    WITH bumped AS
    (
        UPDATE OrleansMembershipVersionTable v
        SET Version = v.Version + 1, ModifiedOn = now()
        WHERE v.DeploymentId = @DeploymentId AND v.Version = @Version
          AND NOT EXISTS
          (
              SELECT 1 FROM OrleansMembershipTable m
              WHERE m.DeploymentId = @DeploymentId AND m.Address = @Address AND m.Port = @Port AND m.Generation = @Generation
          )
        RETURNING v.DeploymentId
    ),
    inserted AS
    (
        INSERT INTO OrleansMembershipTable
            (DeploymentId, Address, Port, Generation, SiloName, HostName, Status, ProxyPort, StartTime, IAmAliveTime)
        SELECT b.DeploymentId, @Address, @Port, @Generation, @SiloName, @HostName, @Status, @ProxyPort, @StartTime, @IAmAliveTime
        FROM bumped b
        RETURNING 1
    )
    SELECT EXISTS (SELECT 1 FROM inserted) AS "Inserted";
    $q$
),
(
    -- The member row is locked before the version row, as every other writer of member rows
    -- does, so there is no lock-order deadlock; the lock also keeps a concurrent cleanup from
    -- deleting the row between the version bump and the update. Heartbeats do not move the
    -- version, so an update (another silo's vote, say) may carry a heartbeat time read before
    -- the latest one: the later of the two is kept, or a live silo would look stale.
    'UpdateMembershipKey',
    $q$
    WITH target AS MATERIALIZED
    (
        SELECT m.DeploymentId FROM OrleansMembershipTable m
        WHERE m.DeploymentId = @DeploymentId AND m.Address = @Address AND m.Port = @Port AND m.Generation = @Generation
        FOR UPDATE
    ),
    bumped AS
    (
        UPDATE OrleansMembershipVersionTable v
        SET Version = v.Version + 1, ModifiedOn = now()
        WHERE v.DeploymentId = @DeploymentId AND v.Version = @Version
          AND EXISTS (SELECT 1 FROM target)
        RETURNING v.DeploymentId
    ),
    updated AS
    (
        UPDATE OrleansMembershipTable m
        SET Status = @Status, SuspectTimes = @SuspectTimes, IAmAliveTime = GREATEST(m.IAmAliveTime, @IAmAliveTime)
        FROM bumped b
        WHERE m.DeploymentId = b.DeploymentId AND m.Address = @Address AND m.Port = @Port AND m.Generation = @Generation
        RETURNING 1
    )
    SELECT EXISTS (SELECT 1 FROM updated) AS "Updated";
    $q$
),
(
    -- A heartbeat: leaves the version alone, so it never invalidates anyone's pending update.
    'UpdateIAmAlivetimeKey',
    $q$
    UPDATE OrleansMembershipTable
    SET IAmAliveTime = @IAmAliveTime
    WHERE DeploymentId = @DeploymentId AND Address = @Address AND Port = @Port AND Generation = @Generation;
    $q$
),
(
    -- Clients call this; @Status is Active. A silo without a gateway has ProxyPort 0.
    'GatewaysQueryKey',
    $q$
    SELECT Address AS "Address", ProxyPort AS "ProxyPort", Generation AS "Generation"
    FROM OrleansMembershipTable
    WHERE DeploymentId = @DeploymentId AND Status = @Status AND ProxyPort > 0;
    $q$
),
(
    -- Members first: the foreign key refuses to drop a version row that still has members.
    'DeleteMembershipTableEntriesKey',
    $q$
    DELETE FROM OrleansMembershipTable WHERE DeploymentId = @DeploymentId;
    DELETE FROM OrleansMembershipVersionTable WHERE DeploymentId = @DeploymentId;
    $q$
),
(
    -- Only used when CleanupDefunctSiloEntryKey (below) is missing. Dead rows whose silo neither
    -- started nor sent a heartbeat since the cut-off go (vote dates are not parsed here). Removing
    -- the dead does not change the cluster's view, so the version stays.
    'CleanupDefunctSiloEntriesKey',
    $q$
    DELETE FROM OrleansMembershipTable
    WHERE DeploymentId = @DeploymentId AND Status = 6
      AND IAmAliveTime < @IAmAliveTime AND StartTime < @IAmAliveTime;
    $q$
),
(
    -- Optional key, preferred by the provider when present: it reads the table, picks dead rows
    -- with nothing (start, heartbeat, vote) newer than the cut-off, and deletes each one only if
    -- it still holds the values it read. A row that changed since is kept for the next round.
    -- Orleans reads an empty vote list as null but may bind it as '', so the two are one value.
    'CleanupDefunctSiloEntryKey',
    $q$
    DELETE FROM OrleansMembershipTable
    WHERE DeploymentId = @DeploymentId AND Address = @Address AND Port = @Port AND Generation = @Generation
      AND Status = 6 AND StartTime = @StartTime AND IAmAliveTime = @IAmAliveTime
      AND COALESCE(SuspectTimes, '') = COALESCE(@SuspectTimes, '');
    $q$
)
ON CONFLICT (QueryKey) DO UPDATE SET QueryText = EXCLUDED.QueryText;
