using System.Collections.Concurrent;
using System.Globalization;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OrleansTickets.Diagnostics;

namespace OrleansTickets.Storage;

/// <summary>
/// The silo's open shard databases, one <see cref="ShardDatabase"/> (pool + group-commit writer) per ordinal,
/// shared by every shard grain on this silo that maps to it.
/// </summary>
public sealed class ShardDatabases(IOptions<TicketStorageOptions> options, SaleMetrics metrics, ILoggerFactory loggerFactory) : IAsyncDisposable
{
    private readonly ConcurrentDictionary<int, Lazy<ShardDatabase>> _open = new();
    private readonly TicketStorageOptions _options = options.Value;

    /// <summary>The database with <paramref name="ordinal"/>, opened on first use.</summary>
    public ShardDatabase Get(int ordinal) =>
        _open.GetOrAdd(ordinal, o => new Lazy<ShardDatabase>(() => Open(o))).Value;

    /// <summary>Where database <paramref name="ordinal"/> lives: a file path or a connection string.</summary>
    public string ConnectionStringFor(int ordinal)
    {
        var name = ShardName(ordinal);
        return _options.Provider switch
        {
            SqlDialect.Sqlite => DatabaseServer.SqliteFile(Path.Combine(_options.DataPath, "shards", name + ".db")),
            _ => OnServer(name),
        };
    }

    private static string ShardName(int ordinal) => string.Create(CultureInfo.InvariantCulture, $"shard_{ordinal:D4}");

    /// <summary>
    /// The name of the last shard database <paramref name="options"/> allow on PostgreSQL when it is longer than the
    /// server keeps, or null when every name fits (or there is no server name to check yet). Cut short, the names of
    /// several shard databases become one database: the first to open it stamps it, every other is refused by its
    /// identity check, and their shards answer 503 for good while the silo reports itself ready.
    /// </summary>
    public static string? TooLongServerName(TicketStorageOptions options)
    {
        if (options.Provider != SqlDialect.PostgreSql || string.IsNullOrEmpty(options.ConnectionString)) return null;
        string catalog;
        try
        {
            catalog = DatabaseServer.DatabaseName(options.Provider, options.ConnectionString);
        }
        catch (Exception exception) when (exception is ArgumentException or InvalidOperationException)
        {
            return null; // Refused with its own message where the connection string is used.
        }
        return TooLongServerName(catalog, options.MaxShardDatabases);
    }

    /// <summary>The name of the last of <paramref name="databases"/> shard databases named after <paramref name="catalog"/>, when PostgreSQL would cut it; else null.</summary>
    internal static string? TooLongServerName(string catalog, int databases)
    {
        var last = catalog + "_" + ShardName(Math.Max(0, databases - 1));
        return System.Text.Encoding.UTF8.GetByteCount(last) > DatabaseServer.MaxPostgresNameBytes ? last : null;
    }

    /// <summary>Shard database <paramref name="name"/> on the configured server, with the shard databases' pool and session settings.</summary>
    private string OnServer(string name)
    {
        var configured = RequireConnectionString();
        var database = DatabaseServer.DatabaseName(_options.Provider, configured) + "_" + name;
        return DatabaseServer.WithoutSessionReset(_options.Provider,
            DatabaseServer.WithDatabase(_options.Provider, configured, database, _options.MaxConnectionsPerDatabase), configured);
    }

    /// <summary>What ends the <c>application_name</c> of a shard database's group-commit writer on a database server.</summary>
    public const string WriterApplicationSuffix = "shard writer";

    /// <summary>
    /// The connection string of database <paramref name="ordinal"/>'s group-commit writer on a database server: a pool
    /// of one connection of its own (SQLite's writer keeps one connection by itself).
    /// </summary>
    public string WriterConnectionStringFor(int ordinal) => DatabaseServer.ForWriter(_options.Provider, ConnectionStringFor(ordinal));

    private ShardDatabase Open(int ordinal)
    {
        var connectionString = ConnectionStringFor(ordinal);
        var dialect = _options.Provider;
        return new ShardDatabase(
            ordinal,
            dialect,
            DatabaseServer.CreateDataSourceEndingIdleTransactions(dialect, connectionString),
            dialect == SqlDialect.Sqlite ? null : DatabaseServer.CreateDataSource(dialect, WriterConnectionStringFor(ordinal)),
            ct => DatabaseServer.EnsureDatabaseExistsAsync(dialect, connectionString, ct),
            (connection, ct) => ShardDatabaseIdentity.CheckAsync(dialect, CatalogDatabase.ConnectionString(_options), ordinal, connection, ct),
            _options.MaxOrdersPerCommit,
            TimeSpan.FromMilliseconds(_options.CommitGatherMilliseconds),
            metrics,
            loggerFactory.CreateLogger<ShardDatabase>(),
            _options.MaxConnectionsPerDatabase,
            TimeSpan.FromMilliseconds(_options.LookupWaitMilliseconds),
            dialect == SqlDialect.Sqlite ? new SqliteWriterSettings(connectionString, _options.SqliteCheckpointPages) : null);
    }

    private string RequireConnectionString() =>
        _options.ConnectionString ?? throw new InvalidOperationException(
            $"Storage:ConnectionString is required when Storage:Provider is {_options.Provider}.");

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        foreach (var database in _open.Values.Where(l => l.IsValueCreated))
        {
            await database.Value.DisposeAsync();
        }
    }
}
