using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace OrleansTickets.Storage;

/// <summary>
/// Binds a cluster id to one deployment: its service id, its catalog database (and with it every shard database,
/// which are named after the catalog) and its signing key. The first silo of a cluster records them in the
/// membership database; a silo that would join with any of them different refuses to start, and so does a silo of
/// another cluster id, or a silo in Localhost mode, while a cluster recorded on the same catalog runs.
/// </summary>
/// <remarks>
/// A silo added for the rush with a typo in its storage connection string would otherwise create empty databases of
/// its own and join: a shard moved onto it reads no row there, claims one afresh and sells its serials a second time.
/// With another signing key it would sell tickets the gates turn away; with another service id its catalog grains
/// would read nothing. Moving a cluster to other storage or another key is a new deployment: a new
/// <c>Cluster:ClusterId</c>. PostgreSQL catalogs only; SQL Server catalogs are not checked (that dialect is unverified).
/// Each step takes the schema scripts' advisory lock (<see cref="SqlScripts.SchemaLockId"/>), so silos starting
/// together create these tables one after the other.
/// </remarks>
public static partial class ClusterBinding
{
    private const string ReadCatalogId = "SELECT catalog_id FROM ticketing_catalog_identity";

    /// <summary>
    /// What one silo brings to its cluster, and how recently a silo of another cluster on the same catalog must have
    /// written that it is alive to count as running: three of the periods between those writes
    /// (<c>Cluster:Liveness:IAmAliveTablePublishTimeout</c>, Orleans' default 30 s), the other cluster taken to be set
    /// as this one is. One set to write less often may be missed, and then the silo starts as it did before the check.
    /// </summary>
    public sealed record Deployment(string ClusterId, string ServiceId, TicketStorageOptions Storage, byte[] SigningKey, TimeSpan OtherClusterLiveFor);

    /// <summary>
    /// Records <paramref name="deployment"/> for its cluster if none is recorded yet; otherwise throws
    /// <see cref="InvalidOperationException"/> naming what differs from the recorded one.
    /// </summary>
    public static async Task CheckAsync(string membershipConnectionString, Deployment deployment, CancellationToken cancellationToken = default)
    {
        if (deployment.Storage.Provider != SqlDialect.PostgreSql) return;
        var catalogConnectionString = CatalogDatabase.ConnectionString(deployment.Storage);
        var keyCheck = KeyCheck(deployment.SigningKey);
        await using var membership = DatabaseServer.CreateDataSourceEndingIdleTransactions(SqlDialect.PostgreSql, membershipConnectionString);
        string catalogId;
        if (await ReadRecordAsync(membership, deployment.ClusterId, cancellationToken) is { } recorded)
        {
            // A joining silo: its catalog must already be the cluster's. A database that does not exist is not made
            // (a typo would leave it behind); it simply is not the cluster's.
            catalogId = await TryReadCatalogIdAsync(catalogConnectionString, cancellationToken) ?? "(none)";
            Compare(deployment, recorded, catalogId, keyCheck, catalogConnectionString);
            // Clusters recorded before the catalog kept their membership database's id get it recorded here.
            await CheckMembershipDatabaseAsync(membership, catalogConnectionString, deployment.ClusterId, membershipConnectionString, cancellationToken);
            await RefuseWhileAnotherClusterRunsAsync(membership, deployment.ClusterId, catalogId, deployment.OtherClusterLiveFor, cancellationToken);
            return;
        }
        // Only the database: its grain-storage schema is the catalog's initializer's to create, when the silo starts.
        await DatabaseServer.EnsureDatabaseExistsAsync(SqlDialect.PostgreSql, catalogConnectionString, cancellationToken);
        catalogId = await ReadOrMintCatalogIdAsync(catalogConnectionString, cancellationToken);
        // Before recording: a refused cluster id, or a membership database that is not the cluster's, leaves no record of the
        // cluster in the membership database (the catalog's record of a new cluster's membership is made here, first).
        await RefuseWhileAnotherClusterRunsAsync(membership, deployment.ClusterId, catalogId, deployment.OtherClusterLiveFor, cancellationToken);
        await CheckMembershipDatabaseAsync(membership, catalogConnectionString, deployment.ClusterId, membershipConnectionString, cancellationToken);
        // Silos of a new cluster starting together: whichever records first is the cluster, and the others compare.
        var first = await RecordAsync(membership, new Record(deployment.ClusterId, deployment.ServiceId, catalogId, keyCheck), cancellationToken);
        Compare(deployment, first, catalogId, keyCheck, catalogConnectionString);
    }

    /// <summary>
    /// For a silo in Localhost mode (a cluster of one, which records nothing): throws when any cluster recorded on this
    /// silo's catalog runs, judged as for a silo of another cluster id, whatever that cluster's id. The membership
    /// database is where such a cluster would keep its table (<c>Cluster:ConnectionString</c>, else the catalog
    /// database). Creates nothing: a catalog or membership database without the records has no cluster to find. A
    /// Localhost silo needs nothing else of a membership database named apart from the catalog
    /// (<paramref name="membershipApart"/>), so when that one cannot be read the silo starts without this check, and says
    /// so, rather than wait for a database it does not use.
    /// </summary>
    public static async Task RefuseLocalSiloWhileAClusterRunsAsync(string membershipConnectionString, bool membershipApart,
        TicketStorageOptions storage, TimeSpan liveFor, ILogger logger, CancellationToken cancellationToken = default)
    {
        if (storage.Provider != SqlDialect.PostgreSql) return;
        if (await TryReadCatalogIdAsync(CatalogDatabase.ConnectionString(storage), cancellationToken) is not { } catalogId) return;
        await using var membership = DatabaseServer.CreateDataSourceEndingIdleTransactions(SqlDialect.PostgreSql, membershipConnectionString);
        try
        {
            await RefuseWhileAnotherClusterRunsAsync(membership, clusterId: null, catalogId, liveFor, cancellationToken);
        }
        catch (PostgresException exception) when (exception.SqlState is PostgresErrorCodes.InvalidCatalogName or PostgresErrorCodes.UndefinedTable)
        {
            // No membership database, or no cluster ever recorded in it.
        }
        catch (NpgsqlException exception) when (membershipApart && !cancellationToken.IsCancellationRequested)
        {
            LogMembershipUnread(logger, exception.Message);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning,
        Message = "This Localhost silo could not read the membership database Cluster:ConnectionString names, to see whether a cluster runs on its catalog, and starts without that check: {Reason}")]
    private static partial void LogMembershipUnread(ILogger logger, string reason);

    private sealed record Record(string ClusterId, string ServiceId, string CatalogId, string KeyCheck);

    /// <summary>
    /// Throws when a cluster with another id than <paramref name="clusterId"/> (any cluster, for a silo in Localhost mode:
    /// null), recorded on this catalog, has a silo joining or active that said it was alive within
    /// <paramref name="liveFor"/>. Each silo writes that time from its own clock, and it is compared with the database's:
    /// a silo host whose clock runs ahead counts as alive for longer, one far behind may not count at all.
    /// </summary>
    /// <remarks>
    /// A silo started with a mistyped <c>Cluster:ClusterId</c> forms a cluster of its own over the same catalog and
    /// shard databases. No ticket is sold twice (each shard's claim fences the other cluster's activation of it), but
    /// the two clusters' shards take each other's claims in turn, and buyers on both get 503s for as long as both run.
    /// A new deployment on the same catalog (a new cluster id, as Orleans advises) starts once the old one has stopped:
    /// its silos leave the membership table as dead, or stop writing that they are alive.
    /// </remarks>
    private static async Task RefuseWhileAnotherClusterRunsAsync(System.Data.Common.DbDataSource membership, string? clusterId, string catalogId,
        TimeSpan liveFor, CancellationToken cancellationToken)
    {
        await using var connection = (NpgsqlConnection)await membership.OpenConnectionAsync(cancellationToken);
        // Silo status 2 is Joining and 3 Active (Orleans' SiloStatus); a silo shutting down is on its way out.
        await using var running = new NpgsqlCommand(
            """
            SELECT c.cluster_id, count(*), max(m.iamalivetime)
            FROM ticketing_clusters c JOIN orleansmembershiptable m ON m.deploymentid = c.cluster_id
            WHERE c.catalog_id = @catalog AND c.cluster_id <> @cluster AND m.status IN (2, 3) AND m.iamalivetime > now() - @live
            GROUP BY c.cluster_id ORDER BY c.cluster_id LIMIT 1
            """, connection);
        running.Parameters.AddWithValue("catalog", catalogId);
        // No cluster id is empty (Orleans refuses one), so a silo in Localhost mode finds every cluster.
        running.Parameters.AddWithValue("cluster", clusterId ?? "");
        running.Parameters.AddWithValue("live", liveFor);
        await using var reader = await running.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken)) return;
        var other = reader.GetString(0);
        var silos = reader.GetInt64(1);
        var lastAlive = reader.GetFieldValue<DateTime>(2);
        var thisSilo = clusterId is null
            ? "this silo runs in Localhost mode (Cluster:Membership=Localhost), a cluster of its own"
            : $"this silo's Cluster:ClusterId is '{clusterId}'";
        var join = clusterId is null ? "Cluster:Membership=AdoNet with its Cluster:ClusterId" : "its Cluster:ClusterId";
        throw new InvalidOperationException(
            $"Cluster '{other}' is running on this silo's catalog ({silos} silo(s), the last alive at {lastAlive:O}), and {thisSilo}: " +
            $"two clusters on one catalog take each other's shards and both answer 503. To join that cluster, use {join}; to " +
            $"deploy a new one on this catalog, stop it first (a silo that crashed counts as running for {liveFor.TotalSeconds:0} s " +
            "after it last said it was alive).");
    }

    private static void Compare(Deployment deployment, Record recorded, string catalogId, string keyCheck, string catalogConnectionString)
    {
        var differences = new List<string>();
        if (recorded.ServiceId != deployment.ServiceId) differences.Add($"Cluster:ServiceId is '{deployment.ServiceId}', the cluster's is '{recorded.ServiceId}'");
        if (recorded.CatalogId != catalogId)
        {
            differences.Add($"Storage:ConnectionString names catalog database '{DatabaseServer.DatabaseName(SqlDialect.PostgreSql,
                catalogConnectionString)}', which is not the catalog the cluster's other silos use");
        }
        if (recorded.KeyCheck != keyCheck) differences.Add("Tickets:SigningKey is not the cluster's key");
        if (differences.Count > 0)
        {
            throw new InvalidOperationException(
                $"This silo would join cluster '{deployment.ClusterId}' with settings of another deployment: {string.Join("; ", differences)}. " +
                "Use the cluster's settings, or a new Cluster:ClusterId for a new deployment.");
        }
    }

    private const string CreateRecords = """
        CREATE TABLE IF NOT EXISTS ticketing_clusters (
            cluster_id        text PRIMARY KEY,
            service_id        text NOT NULL,
            catalog_id        text NOT NULL,
            signing_key_check text NOT NULL,
            recorded_at       timestamptz NOT NULL DEFAULT now()
        );
        """;

    private static async Task<Record?> ReadRecordAsync(System.Data.Common.DbDataSource membership, string clusterId, CancellationToken cancellationToken)
    {
        await using var connection = (NpgsqlConnection)await membership.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using (var create = new NpgsqlCommand($"SELECT pg_advisory_xact_lock({SqlScripts.SchemaLockId}); {CreateRecords}", connection, transaction))
        {
            await create.ExecuteNonQueryAsync(cancellationToken);
        }
        var record = await SelectRecordAsync(connection, transaction, clusterId, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return record;
    }

    private static async Task<Record> RecordAsync(System.Data.Common.DbDataSource membership, Record mine, CancellationToken cancellationToken)
    {
        await using var connection = (NpgsqlConnection)await membership.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using (var insert = new NpgsqlCommand(
            $"""
            SELECT pg_advisory_xact_lock({SqlScripts.SchemaLockId});
            INSERT INTO ticketing_clusters (cluster_id, service_id, catalog_id, signing_key_check)
            VALUES (@cluster, @service, @catalog, @key) ON CONFLICT (cluster_id) DO NOTHING;
            """, connection, transaction))
        {
            insert.Parameters.AddWithValue("cluster", mine.ClusterId);
            insert.Parameters.AddWithValue("service", mine.ServiceId);
            insert.Parameters.AddWithValue("catalog", mine.CatalogId);
            insert.Parameters.AddWithValue("key", mine.KeyCheck);
            await insert.ExecuteNonQueryAsync(cancellationToken);
        }
        var recorded = await SelectRecordAsync(connection, transaction, mine.ClusterId, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return recorded!;
    }

    private static async Task<Record?> SelectRecordAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string clusterId, CancellationToken cancellationToken)
    {
        await using var read = new NpgsqlCommand(
            "SELECT service_id, catalog_id, signing_key_check FROM ticketing_clusters WHERE cluster_id = @cluster", connection, transaction);
        read.Parameters.AddWithValue("cluster", clusterId);
        await using var reader = await read.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken)
            ? new Record(clusterId, reader.GetString(0), reader.GetString(1), reader.GetString(2))
            : null;
    }

    /// <summary>The catalog's id, or null when the database or its id does not exist.</summary>
    private static async Task<string?> TryReadCatalogIdAsync(string catalogConnectionString, CancellationToken cancellationToken)
    {
        try
        {
            await using var dataSource = DatabaseServer.CreateDataSourceEndingIdleTransactions(SqlDialect.PostgreSql, catalogConnectionString);
            await using var connection = (NpgsqlConnection)await dataSource.OpenConnectionAsync(cancellationToken);
            await using var read = new NpgsqlCommand(ReadCatalogId, connection);
            return (string?)await read.ExecuteScalarAsync(cancellationToken);
        }
        catch (PostgresException exception) when (exception.SqlState is PostgresErrorCodes.InvalidCatalogName or PostgresErrorCodes.UndefinedTable)
        {
            return null;
        }
    }

    /// <summary>A random id the catalog database is given once, by whichever silo asks first.</summary>
    private static async Task<string> ReadOrMintCatalogIdAsync(string catalogConnectionString, CancellationToken cancellationToken)
    {
        await using var dataSource = DatabaseServer.CreateDataSourceEndingIdleTransactions(SqlDialect.PostgreSql, catalogConnectionString);
        return await ReadOrMintIdAsync(dataSource, "ticketing_catalog_identity", "catalog_id", cancellationToken);
    }

    /// <summary>
    /// A random id a database is given once, by whichever silo asks first, kept in the one row of <paramref name="table"/>:
    /// a database dropped and made again under the same name is another one.
    /// </summary>
    private static async Task<string> ReadOrMintIdAsync(System.Data.Common.DbDataSource database, string table, string column, CancellationToken cancellationToken)
    {
        await using var connection = (NpgsqlConnection)await database.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using (var mint = new NpgsqlCommand(
            $"""
            SELECT pg_advisory_xact_lock({SqlScripts.SchemaLockId});
            CREATE TABLE IF NOT EXISTS {table} (
                singleton integer PRIMARY KEY CHECK (singleton = 1),
                {column} text NOT NULL
            );
            INSERT INTO {table} (singleton, {column}) VALUES (1, @minted) ON CONFLICT (singleton) DO NOTHING;
            """, connection, transaction))
        {
            mint.Parameters.AddWithValue("minted", Guid.NewGuid().ToString("N"));
            await mint.ExecuteNonQueryAsync(cancellationToken);
        }
        await using var read = new NpgsqlCommand($"SELECT {column} FROM {table}", connection, transaction);
        var id = (string)(await read.ExecuteScalarAsync(cancellationToken))!;
        await transaction.CommitAsync(cancellationToken);
        return id;
    }

    /// <summary>
    /// Records in the catalog database which membership database the cluster <paramref name="clusterId"/> keeps its
    /// records and silos in, if none is recorded yet; otherwise throws when this silo's is another.
    /// </summary>
    /// <remarks>
    /// The binding's record lives in the membership database, so a silo whose <c>Cluster:ConnectionString</c> names
    /// another database (a typo in a silo added for the rush) finds no record there, takes itself for the first silo of
    /// a new cluster, and looks for running clusters only among that database's silos: it would form a second cluster
    /// over the same catalog and shard databases, whose shards would take each other's claims while buyers on both got
    /// 503s. The catalog, which every silo of the deployment shares, says which membership database is the cluster's.
    /// Each database's id is minted once (<c>ticketing_membership_identity</c>), so a database dropped and made again
    /// under the same name is another one too.
    /// </remarks>
    private static async Task CheckMembershipDatabaseAsync(System.Data.Common.DbDataSource membership, string catalogConnectionString,
        string clusterId, string membershipConnectionString, CancellationToken cancellationToken)
    {
        var membershipId = await ReadOrMintIdAsync(membership, "ticketing_membership_identity", "membership_id", cancellationToken);
        await using var catalog = DatabaseServer.CreateDataSourceEndingIdleTransactions(SqlDialect.PostgreSql, catalogConnectionString);
        await using var catalogConnection = (NpgsqlConnection)await catalog.OpenConnectionAsync(cancellationToken);
        await using var catalogTransaction = await catalogConnection.BeginTransactionAsync(cancellationToken);
        await using (var record = new NpgsqlCommand(
            $"""
            SELECT pg_advisory_xact_lock({SqlScripts.SchemaLockId});
            CREATE TABLE IF NOT EXISTS ticketing_cluster_membership (
                cluster_id    text PRIMARY KEY,
                membership_id text NOT NULL,
                recorded_at   timestamptz NOT NULL DEFAULT now()
            );
            INSERT INTO ticketing_cluster_membership (cluster_id, membership_id) VALUES (@cluster, @membership) ON CONFLICT (cluster_id) DO NOTHING;
            """, catalogConnection, catalogTransaction))
        {
            record.Parameters.AddWithValue("cluster", clusterId);
            record.Parameters.AddWithValue("membership", membershipId);
            await record.ExecuteNonQueryAsync(cancellationToken);
        }
        await using var recorded = new NpgsqlCommand("SELECT membership_id FROM ticketing_cluster_membership WHERE cluster_id = @cluster",
            catalogConnection, catalogTransaction);
        recorded.Parameters.AddWithValue("cluster", clusterId);
        var clusters = (string)(await recorded.ExecuteScalarAsync(cancellationToken))!;
        await catalogTransaction.CommitAsync(cancellationToken);
        if (clusters != membershipId)
        {
            throw new InvalidOperationException(
                $"This silo would join cluster '{clusterId}' with Cluster:ConnectionString naming membership database " +
                $"'{DatabaseServer.DatabaseName(SqlDialect.PostgreSql, membershipConnectionString)}', which is not the one the cluster's catalog " +
                "records for it: it would start a second cluster over the same catalog and shard databases. Use the cluster's " +
                "Cluster:ConnectionString, or a new Cluster:ClusterId for a new deployment. If the cluster's membership database was " +
                "made anew on purpose, delete the catalog's record of the old one while no silo of the cluster runs: " +
                $"DELETE FROM ticketing_cluster_membership WHERE cluster_id = '{clusterId}' in the catalog database.");
        }
    }

    /// <summary>Tells keys apart without storing them: an HMAC of a fixed text under the key.</summary>
    private static string KeyCheck(byte[] key) =>
        Convert.ToBase64String(HMACSHA256.HashData(key, Encoding.UTF8.GetBytes("orleans-tickets/cluster-binding")));
}
