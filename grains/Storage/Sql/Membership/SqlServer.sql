-- Cluster membership for Orleans ADO.NET clustering (Microsoft.Orleans.Clustering.AdoNet), SQL Server.
-- UNVERIFIED: no SQL Server is available to the project; review and test before relying on it.
--
-- Run on every startup, inside one transaction (MembershipSchema splits it on GO lines). The app
-- lock is the grain-state script's, so the two scripts, which share OrleansQuery, take turns.
--
-- Contract: see the PostgreSQL script. The cluster's row in OrleansMembershipVersionTable is the
-- only concurrency token: an insert or update succeeds only while Version = @Version, bumps it,
-- and otherwise changes nothing. Each writing query runs its own transaction and returns one bit.

EXEC sp_getapplock @Resource = N'OrleansTickets.GrainStateSchema', @LockMode = N'Exclusive', @LockOwner = N'Transaction';
GO

IF OBJECT_ID(N'dbo.OrleansQuery', N'U') IS NULL
    CREATE TABLE dbo.OrleansQuery
    (
        QueryKey  varchar(64)   NOT NULL CONSTRAINT OrleansQuery_Key PRIMARY KEY,
        QueryText nvarchar(max) NOT NULL
    );
GO

IF OBJECT_ID(N'dbo.OrleansMembershipVersionTable', N'U') IS NULL
    CREATE TABLE dbo.OrleansMembershipVersionTable
    (
        -- A binary collation: the usual default ignores case, which would merge clusters named "Prod" and "prod".
        DeploymentId nvarchar(150) COLLATE Latin1_General_100_BIN2 NOT NULL CONSTRAINT OrleansMembershipVersionTable_Key PRIMARY KEY,
        Version      int           NOT NULL CONSTRAINT OrleansMembershipVersionTable_Version DEFAULT 0,
        ModifiedOn   datetime2(3)  NOT NULL CONSTRAINT OrleansMembershipVersionTable_ModifiedOn DEFAULT SYSUTCDATETIME()
    );
GO

IF OBJECT_ID(N'dbo.OrleansMembershipTable', N'U') IS NULL
    CREATE TABLE dbo.OrleansMembershipTable
    (
        DeploymentId nvarchar(150) COLLATE Latin1_General_100_BIN2 NOT NULL,
        Address      varchar(45)   NOT NULL,
        Port         int           NOT NULL,
        Generation   int           NOT NULL,
        SiloName     nvarchar(150) NOT NULL,
        HostName     nvarchar(150) NOT NULL,
        Status       int           NOT NULL,
        ProxyPort    int           NOT NULL,
        SuspectTimes nvarchar(max) NULL,
        StartTime    datetime2(3)  NOT NULL,
        IAmAliveTime datetime2(3)  NOT NULL,
        CONSTRAINT OrleansMembershipTable_Key PRIMARY KEY (DeploymentId, Address, Port, Generation),
        CONSTRAINT OrleansMembershipTable_Cluster FOREIGN KEY (DeploymentId)
            REFERENCES dbo.OrleansMembershipVersionTable (DeploymentId)
    );
GO

DECLARE @Queries TABLE (QueryKey varchar(64) NOT NULL, QueryText nvarchar(max) NOT NULL);

INSERT INTO @Queries (QueryKey, QueryText) VALUES
(
    'InsertMembershipVersionKey',
    N'SET NOCOUNT ON;
    INSERT INTO dbo.OrleansMembershipVersionTable (DeploymentId)
    SELECT @DeploymentId
    WHERE NOT EXISTS (SELECT 1 FROM dbo.OrleansMembershipVersionTable WITH (UPDLOCK, HOLDLOCK) WHERE DeploymentId = @DeploymentId);
    SELECT CAST(@@ROWCOUNT AS bit) AS Created;'
),
(
    'MembershipReadAllKey',
    N'SELECT v.Version, m.Address, m.Port, m.Generation, m.SiloName, m.HostName, m.Status, m.ProxyPort,
           m.SuspectTimes, m.StartTime, m.IAmAliveTime
    FROM dbo.OrleansMembershipVersionTable AS v
    LEFT JOIN dbo.OrleansMembershipTable AS m ON m.DeploymentId = v.DeploymentId
    WHERE v.DeploymentId = @DeploymentId;'
),
(
    'MembershipReadRowKey',
    N'SELECT v.Version, m.Address, m.Port, m.Generation, m.SiloName, m.HostName, m.Status, m.ProxyPort,
           m.SuspectTimes, m.StartTime, m.IAmAliveTime
    FROM dbo.OrleansMembershipVersionTable AS v
    LEFT JOIN dbo.OrleansMembershipTable AS m ON m.DeploymentId = v.DeploymentId
        AND m.Address = @Address AND m.Port = @Port AND m.Generation = @Generation
    WHERE v.DeploymentId = @DeploymentId;'
),
(
    -- The UPDATE's lock on the version row serialises joiners; the loser re-reads the bumped
    -- Version and matches nothing. UPDLOCK + HOLDLOCK keep the member key range locked.
    'InsertMembershipKey',
    N'SET NOCOUNT, XACT_ABORT ON;
    DECLARE @Done bit = 0;
    BEGIN TRY
        BEGIN TRANSACTION;
        UPDATE dbo.OrleansMembershipVersionTable
        SET Version = Version + 1, ModifiedOn = SYSUTCDATETIME()
        WHERE DeploymentId = @DeploymentId AND Version = @Version
          AND NOT EXISTS
          (
              SELECT 1 FROM dbo.OrleansMembershipTable WITH (UPDLOCK, HOLDLOCK)
              WHERE DeploymentId = @DeploymentId AND Address = @Address AND Port = @Port AND Generation = @Generation
          );
        IF @@ROWCOUNT = 1
        BEGIN
            INSERT INTO dbo.OrleansMembershipTable
                (DeploymentId, Address, Port, Generation, SiloName, HostName, Status, ProxyPort, StartTime, IAmAliveTime)
            VALUES (@DeploymentId, @Address, @Port, @Generation, @SiloName, @HostName, @Status, @ProxyPort, @StartTime, @IAmAliveTime);
            SET @Done = 1;
        END
        COMMIT TRANSACTION;
    END TRY
    BEGIN CATCH
        IF @@TRANCOUNT > 0 ROLLBACK TRANSACTION;
        THROW;
    END CATCH
    SELECT @Done AS Inserted;'
),
(
    -- Version row, then member key, in one statement shaped like the insert's: a writer that took
    -- them in the other order could deadlock with a joiner whose key-range lock falls on this row.
    -- The later heartbeat time is kept (see the PostgreSQL script). XACT_ABORT: a cancelled or
    -- timed-out command skips CATCH, and without it the open transaction would keep the version
    -- row locked on a pooled connection.
    'UpdateMembershipKey',
    N'SET NOCOUNT, XACT_ABORT ON;
    DECLARE @Done bit = 0;
    BEGIN TRY
        BEGIN TRANSACTION;
        UPDATE dbo.OrleansMembershipVersionTable
        SET Version = Version + 1, ModifiedOn = SYSUTCDATETIME()
        WHERE DeploymentId = @DeploymentId AND Version = @Version
          AND EXISTS
          (
              SELECT 1 FROM dbo.OrleansMembershipTable WITH (UPDLOCK, HOLDLOCK)
              WHERE DeploymentId = @DeploymentId AND Address = @Address AND Port = @Port AND Generation = @Generation
          );
        IF @@ROWCOUNT = 1
        BEGIN
            UPDATE dbo.OrleansMembershipTable
            SET Status = @Status, SuspectTimes = @SuspectTimes,
                IAmAliveTime = CASE WHEN IAmAliveTime > @IAmAliveTime THEN IAmAliveTime ELSE @IAmAliveTime END
            WHERE DeploymentId = @DeploymentId AND Address = @Address AND Port = @Port AND Generation = @Generation;
            SET @Done = 1;
        END
        COMMIT TRANSACTION;
    END TRY
    BEGIN CATCH
        IF @@TRANCOUNT > 0 ROLLBACK TRANSACTION;
        THROW;
    END CATCH
    SELECT @Done AS Updated;'
),
(
    'UpdateIAmAlivetimeKey',
    N'UPDATE dbo.OrleansMembershipTable
    SET IAmAliveTime = @IAmAliveTime
    WHERE DeploymentId = @DeploymentId AND Address = @Address AND Port = @Port AND Generation = @Generation;'
),
(
    'GatewaysQueryKey',
    N'SELECT Address, ProxyPort, Generation
    FROM dbo.OrleansMembershipTable
    WHERE DeploymentId = @DeploymentId AND Status = @Status AND ProxyPort > 0;'
),
(
    'DeleteMembershipTableEntriesKey',
    N'DELETE FROM dbo.OrleansMembershipTable WHERE DeploymentId = @DeploymentId;
    DELETE FROM dbo.OrleansMembershipVersionTable WHERE DeploymentId = @DeploymentId;'
),
(
    'CleanupDefunctSiloEntriesKey',
    N'DELETE FROM dbo.OrleansMembershipTable
    WHERE DeploymentId = @DeploymentId AND Status = 6
      AND IAmAliveTime < @IAmAliveTime AND StartTime < @IAmAliveTime;'
),
(
    -- The times come from a read of these rows, but the provider may bind them as datetime, whose
    -- .003/.007 steps would not equal the datetime2(3) values stored; the casts compare them at the
    -- precision of the columns, the way the insert stored them.
    'CleanupDefunctSiloEntryKey',
    N'DELETE FROM dbo.OrleansMembershipTable
    WHERE DeploymentId = @DeploymentId AND Address = @Address AND Port = @Port AND Generation = @Generation
      AND Status = 6 AND StartTime = CAST(@StartTime AS datetime2(3)) AND IAmAliveTime = CAST(@IAmAliveTime AS datetime2(3))
      AND COALESCE(SuspectTimes, N'''') = COALESCE(@SuspectTimes, N'''');'
);

UPDATE q SET QueryText = n.QueryText
FROM dbo.OrleansQuery AS q JOIN @Queries AS n ON n.QueryKey = q.QueryKey;

INSERT INTO dbo.OrleansQuery (QueryKey, QueryText)
SELECT n.QueryKey, n.QueryText FROM @Queries AS n
WHERE NOT EXISTS (SELECT 1 FROM dbo.OrleansQuery AS q WHERE q.QueryKey = n.QueryKey);
GO
