using System.Data.Common;
using System.Globalization;
using System.Text;
using Microsoft.Data.SqlClient;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace OrleansTickets.Storage;

/// <summary>Engine-specific plumbing: connection strings for named databases, and creating them on first use.</summary>
internal static class DatabaseServer
{
    /// <summary>The connection string of database <paramref name="name"/> on the server of <paramref name="baseConnectionString"/>.</summary>
    /// <remarks>
    /// <paramref name="maxPoolSize"/> bounds each database's pool: with many shard databases on one server, the
    /// drivers' default of 100 connections each would exceed the server's connection limit.
    /// </remarks>
    public static string WithDatabase(SqlDialect dialect, string baseConnectionString, string name, int? maxPoolSize = null) => dialect switch
    {
        SqlDialect.PostgreSql => WithAutoPrepare(new NpgsqlConnectionStringBuilder(baseConnectionString)
        {
            Database = name,
            MaxPoolSize = maxPoolSize ?? new NpgsqlConnectionStringBuilder(baseConnectionString).MaxPoolSize,
        }, baseConnectionString).ConnectionString,
        SqlDialect.SqlServer => new SqlConnectionStringBuilder(baseConnectionString)
        {
            InitialCatalog = name,
            MaxPoolSize = maxPoolSize ?? new SqlConnectionStringBuilder(baseConnectionString).MaxPoolSize,
        }.ConnectionString,
        _ => throw new ArgumentOutOfRangeException(nameof(dialect)),
    };

    /// <summary>
    /// Turns on Npgsql's automatic preparation unless the configured connection string sets it. The ledger sends the
    /// same few statement texts all day; prepared once per connection, the server stops parsing and planning them in
    /// every group commit. A pooler that cannot keep prepared statements (PgBouncer in transaction mode before 1.21)
    /// needs <c>Max Auto Prepare=0</c> in <c>Storage:ConnectionString</c>.
    /// </summary>
    private static NpgsqlConnectionStringBuilder WithAutoPrepare(NpgsqlConnectionStringBuilder builder, string configured)
    {
        if (Sets(configured, "Max Auto Prepare", "MaxAutoPrepare")) return builder;
        builder.MaxAutoPrepare = 32;
        builder.AutoPrepareMinUsages = 2;
        return builder;
    }

    /// <summary>
    /// A shard database's connection string (<paramref name="connectionString"/>) without Npgsql's session reset on
    /// every return to the pool, unless the configured one (<paramref name="configured"/>) sets it. The reset (seven
    /// statements, sent ahead of the next use) undoes session state, and the ledger leaves none: its only locks are
    /// transaction-scoped, and it never sets a setting, listens, or makes temporary tables. An open transaction is
    /// rolled back on return whatever this says. Other engines' strings are returned as they are.
    /// </summary>
    public static string WithoutSessionReset(SqlDialect dialect, string connectionString, string configured)
    {
        if (dialect != SqlDialect.PostgreSql || Sets(configured, "No Reset On Close", "NoResetOnClose")) return connectionString;
        return new NpgsqlConnectionStringBuilder(connectionString) { NoResetOnClose = true }.ConnectionString;
    }

    /// <summary>Whether the operator's connection string <paramref name="configured"/> gives a setting, under either of its names.</summary>
    private static bool Sets(string configured, string name, string compactName)
    {
        var given = new System.Data.Common.DbConnectionStringBuilder { ConnectionString = configured };
        return given.ContainsKey(name) || given.ContainsKey(compactName);
    }

    /// <summary>How long PostgreSQL lets a shard database's transaction sit idle before it ends it (see <see cref="EndingIdleTransactions"/>).</summary>
    public const string IdleTransactionLimit = "10s";

    /// <summary>
    /// A shard database's connection string (its writer's or the shared pool's) with which PostgreSQL ends a transaction
    /// left idle for <see cref="IdleTransactionLimit"/>; the other engines' unchanged.
    /// </summary>
    /// <remarks>
    /// Both pools hold row locks across a round trip: the writer's group from its statement to its COMMIT (see
    /// <see cref="ForWriter"/>), and a shard's claim on the shared pool from its upsert of the shard's row to its COMMIT.
    /// A silo that froze or lost its network in between (a stopped process keeps its connection open, and a vanished
    /// host's is kept by TCP for hours) would hold the row from the shard's next activation on another silo, whose claim
    /// would wait, time out and retry for as long: the shard's tickets and every key homed on it out of reach long after
    /// membership declared the silo dead. Ended by the server, the frozen claim's COMMIT fails and the new claim goes on.
    /// </remarks>
    public static string EndingIdleTransactions(SqlDialect dialect, string connectionString)
    {
        if (dialect != SqlDialect.PostgreSql) return connectionString;
        var builder = new NpgsqlConnectionStringBuilder(connectionString);
        builder.Options = (builder.Options + " -c idle_in_transaction_session_timeout=" + IdleTransactionLimit).Trim();
        return builder.ConnectionString;
    }

    /// <summary>
    /// The connection string of a shard database's group-commit writer: the database's own, in a pool of one connection
    /// named for operators (<c>application_name</c> ends in <see cref="ShardDatabases.WriterApplicationSuffix"/>).
    /// </summary>
    /// <remarks>
    /// The writer commits one group at a time, and renting from the shared pool handed it each idle connection in turn
    /// (Npgsql's idle list is first in, first out): every one of them then prepared and planned the group statement
    /// for itself while the sale had begun. With a pool of its own, the writer reuses one connection, warm after its
    /// first few commits, and its commits never wait behind readers for a slot. The pool keeps that connection when
    /// idle (a minimum of one), so a lull does not close it and the next sale's first commits do not prepare again.
    /// <para>
    /// On PostgreSQL the server ends a writer's transaction left idle for <see cref="IdleTransactionLimit"/>: a
    /// group holds row locks from its statement to its COMMIT, including, since a forward's holder records its home's
    /// key, a shared lock on a home's row that another silo's writer and a newer activation's claim wait for. A silo
    /// that froze between the two (a stopped process keeps its connection open) would otherwise hold them until its
    /// connection died. Its COMMIT then fails, an unknown outcome, after which its shards reload.
    /// </para>
    /// </remarks>
    public static string ForWriter(SqlDialect dialect, string connectionString) => dialect switch
    {
        SqlDialect.PostgreSql => new NpgsqlConnectionStringBuilder(EndingIdleTransactions(dialect, connectionString))
        {
            MaxPoolSize = 1,
            MinPoolSize = 1,
            ApplicationName = WriterApplicationName(new NpgsqlConnectionStringBuilder(connectionString).ApplicationName),
        }.ConnectionString,
        SqlDialect.SqlServer => new SqlConnectionStringBuilder(connectionString)
        {
            MaxPoolSize = 1,
            MinPoolSize = 1,
            ApplicationName = WriterApplicationName(new SqlConnectionStringBuilder(connectionString).ApplicationName),
        }.ConnectionString,
        _ => throw new ArgumentOutOfRangeException(nameof(dialect)),
    };

    /// <summary>
    /// The configured application name (or the project's) with the writer's suffix, shortened so that the whole fits
    /// PostgreSQL's 63 bytes: the server would otherwise cut the suffix off, which is the part operators look for.
    /// </summary>
    /// <remarks>
    /// Shortened by whole text elements: cut one UTF-16 unit at a time, a name could end in half a surrogate pair (an
    /// emoji at the cut), which UTF-8 cannot carry. Npgsql's strict encoder then could not write its start-up message,
    /// and the writer's connection failed to open (seen against a stub server that answered the TLS request "no").
    /// </remarks>
    private static string WriterApplicationName(string? configured)
    {
        var name = string.IsNullOrEmpty(configured) || configured == "Core Microsoft SqlClient Data Provider" ? "OrleansTickets" : configured;
        var suffix = " " + ShardDatabases.WriterApplicationSuffix;
        return Utf8Start(name, MaxPostgresNameBytes - Encoding.UTF8.GetByteCount(suffix)) + suffix;
    }

    /// <summary>PostgreSQL keeps at most NAMEDATALEN - 1 bytes of a name (a database's, an application_name) and drops the rest without a word.</summary>
    internal const int MaxPostgresNameBytes = 63;

    /// <summary>
    /// The longest start of <paramref name="text"/> that is at most <paramref name="maxBytes"/> in UTF-8, cut between
    /// whole text elements (never inside a surrogate pair or a character with its combining marks).
    /// </summary>
    internal static string Utf8Start(string text, int maxBytes)
    {
        var (bytes, end) = (0, 0);
        var elements = StringInfo.GetTextElementEnumerator(text);
        while (elements.MoveNext())
        {
            var element = elements.GetTextElement();
            var size = Encoding.UTF8.GetByteCount(element);
            if (bytes + size > maxBytes) break;
            bytes += size;
            end += element.Length;
        }
        return text[..end];
    }

    /// <summary>The database a connection string names.</summary>
    public static string DatabaseName(SqlDialect dialect, string connectionString) => dialect switch
    {
        SqlDialect.PostgreSql => new NpgsqlConnectionStringBuilder(connectionString).Database
            ?? throw new InvalidOperationException("The PostgreSQL connection string must name a database."),
        SqlDialect.SqlServer => new SqlConnectionStringBuilder(connectionString).InitialCatalog,
        _ => throw new ArgumentOutOfRangeException(nameof(dialect)),
    };

    /// <summary>The SQLite connection string for a database file.</summary>
    public static string SqliteFile(string path) =>
        new SqliteConnectionStringBuilder { DataSource = path, Pooling = true, DefaultTimeout = 30 }.ConnectionString;

    /// <summary>A pooled data source for any of the engines.</summary>
    public static DbDataSource CreateDataSource(SqlDialect dialect, string connectionString) => dialect switch
    {
        SqlDialect.Sqlite => SqliteFactory.Instance.CreateDataSource(connectionString),
        SqlDialect.PostgreSql => NpgsqlDataSource.Create(connectionString),
        SqlDialect.SqlServer => SqlClientFactory.Instance.CreateDataSource(connectionString),
        _ => throw new ArgumentOutOfRangeException(nameof(dialect)),
    };

    /// <summary>
    /// A data source whose connections PostgreSQL ends when a transaction is left idle for
    /// <see cref="IdleTransactionLimit"/> (<see cref="EndingIdleTransactions"/>): for every connection that holds locks
    /// across round trips. A shard database's shared pool holds a claim's row lock; a start-up step (the schema scripts,
    /// the cluster and catalog records) holds the schema's advisory lock, which a silo host that froze or vanished inside
    /// one would otherwise keep until TCP gave its connection up, hours later, while every other silo's start waited on
    /// it and gave up.
    /// </summary>
    public static DbDataSource CreateDataSourceEndingIdleTransactions(SqlDialect dialect, string connectionString) =>
        CreateDataSource(dialect, EndingIdleTransactions(dialect, connectionString));

    /// <summary>Creates the database a connection string names, unless it exists. Safe when several processes race.</summary>
    public static async Task EnsureDatabaseExistsAsync(SqlDialect dialect, string connectionString, CancellationToken cancellationToken)
    {
        switch (dialect)
        {
            case SqlDialect.Sqlite:
                var path = new SqliteConnectionStringBuilder(connectionString).DataSource;
                var folder = Path.GetDirectoryName(Path.GetFullPath(path));
                if (folder is not null) Directory.CreateDirectory(folder);
                return;
            case SqlDialect.PostgreSql:
                await EnsurePostgresDatabaseAsync(connectionString, cancellationToken);
                return;
            case SqlDialect.SqlServer:
                await EnsureSqlServerDatabaseAsync(connectionString, cancellationToken);
                return;
        }
    }

    private static async Task EnsurePostgresDatabaseAsync(string connectionString, CancellationToken cancellationToken)
    {
        var target = new NpgsqlConnectionStringBuilder(connectionString) { Pooling = false };
        var name = target.Database ?? throw new InvalidOperationException("The PostgreSQL connection string must name a database.");
        if (await OpensAsync(new NpgsqlConnection(target.ConnectionString),
                e => e is PostgresException { SqlState: PostgresErrorCodes.InvalidCatalogName }, cancellationToken))
        {
            return;
        }
        var admin = new NpgsqlConnectionStringBuilder(connectionString) { Database = "postgres", Pooling = false };
        await using var connection = new NpgsqlConnection(admin.ConnectionString);
        await connection.OpenAsync(cancellationToken);
        await using (var exists = new NpgsqlCommand("SELECT 1 FROM pg_database WHERE datname = @name", connection))
        {
            exists.Parameters.AddWithValue("name", name);
            if (await exists.ExecuteScalarAsync(cancellationToken) is not null) return;
        }
        try
        {
            // Database names cannot be parameters; QuoteIdentifier-style quoting keeps any name safe. UTF-8 whatever the
            // server's default: buyers' names are any Unicode text, and a narrower encoding would refuse some of them in
            // the middle of a group commit (shard databases that are not UTF-8 are refused at open). template0, because a
            // database can only take another encoding than its template's from that one; a server whose default locale
            // cannot hold UTF-8 refuses this, and its operator creates the databases with a locale that can.
            await using var create = new NpgsqlCommand(
                $"CREATE DATABASE \"{name.Replace("\"", "\"\"")}\" ENCODING 'UTF8' TEMPLATE template0", connection);
            await create.ExecuteNonQueryAsync(cancellationToken);
        }
        catch (PostgresException e) when (e.SqlState is PostgresErrorCodes.DuplicateDatabase or PostgresErrorCodes.UniqueViolation)
        {
            // Another process created it between our check and our CREATE: that is what we wanted.
        }
    }

    /// <summary>
    /// Opens (and closes) <paramref name="connection"/> to the database itself; false when the server says the database
    /// does not exist (<paramref name="missing"/>). Tried before the maintenance database: a managed server, or one whose
    /// operators revoked CONNECT on it, may let this role reach its own databases and nothing else, and most opens find
    /// the database there.
    /// </summary>
    private static async Task<bool> OpensAsync(DbConnection connection, Func<DbException, bool> missing, CancellationToken cancellationToken)
    {
        await using (connection)
        {
            try
            {
                await connection.OpenAsync(cancellationToken);
                return true;
            }
            catch (DbException e) when (missing(e))
            {
                return false;
            }
        }
    }

    // SQL Server's error numbers: "Cannot open database requested by the login", and "Database already exists".
    private const int CannotOpenDatabase = 4060;
    private const int DatabaseAlreadyExists = 1801;

    private static async Task EnsureSqlServerDatabaseAsync(string connectionString, CancellationToken cancellationToken)
    {
        // Unverified (no SQL Server here). As for PostgreSQL, the database itself first: Azure SQL's contained users
        // cannot open master at all.
        var name = new SqlConnectionStringBuilder(connectionString).InitialCatalog;
        // Missing, or not open to this login: made below, from master.
        if (await OpensAsync(new SqlConnection(new SqlConnectionStringBuilder(connectionString) { Pooling = false }.ConnectionString),
                e => e is SqlException { Number: CannotOpenDatabase }, cancellationToken))
        {
            return;
        }
        var admin = new SqlConnectionStringBuilder(connectionString) { InitialCatalog = "master" };
        await using var connection = new SqlConnection(admin.ConnectionString);
        await connection.OpenAsync(cancellationToken);
        await using var create = new SqlCommand(
            $"IF DB_ID(@name) IS NULL CREATE DATABASE [{name.Replace("]", "]]")}]", connection);
        create.Parameters.AddWithValue("@name", name);
        try
        {
            await create.ExecuteNonQueryAsync(cancellationToken);
        }
        catch (SqlException e) when (e.Number == DatabaseAlreadyExists)
        {
            // Another process created it between the check and the CREATE: that is what we wanted.
        }
    }
}
