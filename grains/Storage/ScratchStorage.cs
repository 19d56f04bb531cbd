using System.Security.Cryptography;
using System.Text;
using Npgsql;

namespace OrleansTickets.Storage;

/// <summary>
/// Storage of the configured engine that shares nothing with the real catalog and shard databases: a fresh
/// folder for SQLite, freshly named databases on the same server for PostgreSQL. Disposing it deletes them.
/// </summary>
/// <remarks>
/// It holds the on-sale rehearsal's sale, which must exercise the same storage code as a real sale and yet leave
/// no trace in the catalog, the shard databases or what the back office reads afterwards.
/// </remarks>
public sealed class ScratchStorage : IAsyncDisposable
{
    private readonly SqlDialect _dialect;
    private readonly string _location;

    private ScratchStorage(SqlDialect dialect, string location, IReadOnlyDictionary<string, string?> settings)
    {
        _dialect = dialect;
        _location = location;
        Settings = settings;
    }

    /// <summary>The <c>Storage</c> settings that point a silo at this scratch storage instead of the real one.</summary>
    public IReadOnlyDictionary<string, string?> Settings { get; }

    /// <summary>Where it is, for people: the SQLite folder, or the PostgreSQL databases' common name stem.</summary>
    public string Description => _dialect == SqlDialect.Sqlite
        ? _location
        : new NpgsqlConnectionStringBuilder(_location).Database + "*";

    /// <summary>True when the engine of <paramref name="options"/> can hold scratch storage.</summary>
    /// <remarks>SQL Server cannot run on the project's machines, so dropping its databases was never tested.</remarks>
    public static bool IsSupported(TicketStorageOptions options) => options.Provider is SqlDialect.Sqlite or SqlDialect.PostgreSql;

    /// <summary>
    /// Names new scratch storage for the engine of <paramref name="options"/>: for SQLite a new folder under
    /// <paramref name="sqliteParent"/> (default: the system's temporary folder), for PostgreSQL new databases on
    /// the same server. Nothing is created yet.
    /// </summary>
    public static ScratchStorage For(TicketStorageOptions options, string? sqliteParent = null, DateTimeOffset? now = null)
    {
        // When it was made, then random: a silo killed mid-rehearsal leaves its scratch storage behind, and the next
        // rehearsal tells such leftovers by their age (SweepLeftoversAsync).
        var minutes = (now ?? DateTimeOffset.UtcNow).ToUnixTimeSeconds() / 60;
        var suffix = string.Create(SuffixLength, minutes, static (chars, minutes) =>
        {
            for (var i = TimeDigits - 1; i >= 0; i--, minutes /= 36) chars[i] = Base36[(int)(minutes % 36)];
            for (var i = TimeDigits; i < SuffixLength; i++) chars[i] = Base36[RandomNumberGenerator.GetInt32(36)];
        });
        switch (options.Provider)
        {
            case SqlDialect.Sqlite:
                // By default the system's temporary folder, not the data folder: a crash mid-rehearsal leaves nothing
                // beside the real databases.
                var folder = Path.Combine(sqliteParent ?? Path.GetTempPath(), FolderPrefix + suffix);
                return new ScratchStorage(SqlDialect.Sqlite, folder, new Dictionary<string, string?>
                {
                    ["Storage:DataPath"] = folder,
                });
            case SqlDialect.PostgreSql:
                var real = options.ConnectionString ?? throw new InvalidOperationException(
                    "Storage:ConnectionString is required when Storage:Provider is PostgreSql.");
                // Shard databases are named after the catalog (ShardDatabases), so they share this unique stem and
                // are found by it when dropped. PostgreSQL truncates names past 63 bytes, which could merge two.
                var catalog = DatabasePrefix(real) + suffix;
                if (ShardDatabases.TooLongServerName(catalog, options.MaxShardDatabases) is not null)
                {
                    throw new InvalidOperationException($"The catalog database name is too long to derive scratch databases from: '{catalog}'.");
                }
                var connectionString = DatabaseServer.WithDatabase(SqlDialect.PostgreSql, real, catalog);
                return new ScratchStorage(SqlDialect.PostgreSql, connectionString, new Dictionary<string, string?>
                {
                    ["Storage:ConnectionString"] = connectionString,
                });
            default:
                throw new NotSupportedException($"Scratch storage is not supported on {options.Provider}.");
        }
    }

    /// <summary>
    /// Deletes the scratch storage. Call it only after the silo that used it has stopped: its connections must be
    /// closed (PostgreSQL's <c>WITH (FORCE)</c> ends any that are not).
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        if (_dialect == SqlDialect.Sqlite)
        {
            // SQLite's pool keeps idle connections open, and with them the files.
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            if (Directory.Exists(_location)) Directory.Delete(_location, recursive: true);
            return;
        }
        // The server may be restarting, or a connection may still be closing: a few tries before giving up.
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await DropPostgresDatabasesAsync();
                return;
            }
            catch (NpgsqlException) when (attempt < 5)
            {
                await Task.Delay(TimeSpan.FromSeconds(attempt));
            }
        }
    }

    private async Task DropPostgresDatabasesAsync()
    {
        var catalog = new NpgsqlConnectionStringBuilder(_location).Database!;
        // Idle pooled connections to the scratch catalog would otherwise stay open until they time out.
        using (var pooled = new NpgsqlConnection(_location)) NpgsqlConnection.ClearPool(pooled);
        await using var connection = await OpenAdminAsync(_location);
        await DropPostgresStemAsync(connection, catalog);
    }

    /// <summary>
    /// Drops the scratch catalog <paramref name="catalog"/> and the shard databases named after it. With
    /// <paramref name="force"/> false a database someone is connected to is not dropped (PostgreSQL refuses), and the
    /// catalog goes first: a rehearsal holds it open from start to end, while a shard database of it may have no
    /// connection yet, so a rehearsal still running (on a silo whose clock is far behind) stops the sweep before any of
    /// its databases goes. The shards named after a dropped catalog still share its stem, so a later sweep finds them.
    /// </summary>
    private static async Task DropPostgresStemAsync(NpgsqlConnection admin, string catalog, bool force = true, CancellationToken cancellationToken = default)
    {
        var names = (await ListDatabasesAsync(admin, catalog, cancellationToken))
            .Where(name => name == catalog || name.StartsWith(catalog + "_shard_", StringComparison.Ordinal))
            .OrderBy(name => force ? -name.Length : name.Length);
        foreach (var name in names)
        {
            // Database names cannot be parameters; doubling quotes keeps any name a single identifier.
            await using var drop = new NpgsqlCommand(
                $"DROP DATABASE IF EXISTS \"{name.Replace("\"", "\"\"")}\"{(force ? " WITH (FORCE)" : "")}", admin);
            await drop.ExecuteNonQueryAsync(cancellationToken);
        }
    }

    private static async Task<List<string>> ListDatabasesAsync(NpgsqlConnection admin, string prefix, CancellationToken cancellationToken = default)
    {
        var names = new List<string>();
        await using var list = new NpgsqlCommand("SELECT datname FROM pg_database WHERE starts_with(datname, @prefix)", admin);
        list.Parameters.AddWithValue("prefix", prefix);
        await using var reader = await list.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken)) names.Add(reader.GetString(0));
        return names;
    }

    private static async Task<NpgsqlConnection> OpenAdminAsync(string connectionString, CancellationToken cancellationToken = default)
    {
        var admin = new NpgsqlConnectionStringBuilder(connectionString) { Database = "postgres", Pooling = false };
        var connection = new NpgsqlConnection(admin.ConnectionString);
        await connection.OpenAsync(cancellationToken);
        return connection;
    }

    /// <summary>
    /// Deletes scratch storage that rehearsals of this deployment left behind (a silo killed mid-rehearsal, a delete
    /// that failed): whatever was made more than <see cref="LeftoverAge"/> ago. Returns what it deleted.
    /// </summary>
    /// <remarks>
    /// No rehearsal runs that long (its time limit is at most an hour), so nothing in use is touched, even on a
    /// server that other silos share whose clocks are up to an hour apart; and on PostgreSQL a database someone is
    /// still connected to is not dropped anyway. What cannot be deleted (in use, another user's) is left for the next
    /// rehearsal. Scratch storage named by builds before its names carried their time is left.
    /// </remarks>
    public static async Task<IReadOnlyList<string>> SweepLeftoversAsync(
        TicketStorageOptions options, string? sqliteParent, DateTimeOffset now, CancellationToken cancellationToken = default)
    {
        var swept = new List<string>();
        switch (options.Provider)
        {
            case SqlDialect.Sqlite:
                var parent = sqliteParent ?? Path.GetTempPath();
                if (!Directory.Exists(parent)) break;
                foreach (var folder in Directory.EnumerateDirectories(parent, FolderPrefix + "*"))
                {
                    if (!IsLeftover(Path.GetFileName(folder)[FolderPrefix.Length..], now)) continue;
                    try
                    {
                        Directory.Delete(folder, recursive: true);
                        swept.Add(folder);
                    }
                    catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
                    {
                        // Another user's, or gone meanwhile: the next rehearsal tries again.
                    }
                }
                break;
            case SqlDialect.PostgreSql:
                var real = options.ConnectionString ?? throw new InvalidOperationException(
                    "Storage:ConnectionString is required when Storage:Provider is PostgreSql.");
                var prefix = DatabasePrefix(real);
                await using (var admin = await OpenAdminAsync(real, cancellationToken))
                {
                    var stems = (await ListDatabasesAsync(admin, prefix, cancellationToken))
                        .Where(name => name.Length >= prefix.Length + SuffixLength)
                        .Select(name => name[..(prefix.Length + SuffixLength)])
                        .Distinct()
                        .Where(stem => IsLeftover(stem[prefix.Length..], now))
                        .ToList();
                    foreach (var stem in stems)
                    {
                        try
                        {
                            await DropPostgresStemAsync(admin, stem, force: false, cancellationToken);
                            swept.Add(stem);
                        }
                        catch (PostgresException)
                        {
                            // In use (a rehearsal after all, on a machine whose clock is far behind), or not ours to
                            // drop: left for the next rehearsal, and the others are still swept.
                        }
                    }
                }
                break;
        }
        return swept;
    }

    /// <summary>Scratch storage made longer ago than this is a leftover.</summary>
    public static readonly TimeSpan LeftoverAge = TimeSpan.FromHours(2);

    private const string FolderPrefix = "orleans-tickets-rehearsal-";

    // Six base-36 digits of minutes since 1970 (enough for four thousand years), then six random ones (31 bits, so
    // silos rehearsing in the same minute do not meet in one scratch database).
    private const int TimeDigits = 6;
    private const int SuffixLength = 12;
    private const string Base36 = "0123456789abcdefghijklmnopqrstuvwxyz";

    private const string RehearsalInfix = "_rehearsal_";

    // Room, in PostgreSQL's 63 bytes, for the rest of the longest name made from the stem: the infix, the suffix, and a
    // shard database's "_shard_NNNN" (more digits only past 10,000 databases, which the check in For refuses).
    private static readonly int MaxStemBytes = DatabaseServer.MaxPostgresNameBytes - RehearsalInfix.Length - SuffixLength - "_shard_0000".Length;

    private static string DatabasePrefix(string realConnectionString)
    {
        var name = DatabaseServer.DatabaseName(SqlDialect.PostgreSql, realConnectionString);
        if (Encoding.UTF8.GetByteCount(name) > MaxStemBytes)
        {
            // Cut to fit, with a hash of the whole name, so that two long names with the same start still differ. Made the
            // same way every time: the sweep finds a killed rehearsal's databases by this prefix.
            var hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(name)))[..8];
            name = DatabaseServer.Utf8Start(name, MaxStemBytes - 1 - hash.Length) + "_" + hash;
        }
        return name + RehearsalInfix;
    }

    private static bool IsLeftover(string suffix, DateTimeOffset now)
    {
        if (suffix.Length != SuffixLength || !suffix.All(c => Base36.Contains(c))) return false;
        long minutes = 0;
        foreach (var digit in suffix.AsSpan(0, TimeDigits)) minutes = minutes * 36 + Base36.IndexOf(digit);
        return now - DateTimeOffset.FromUnixTimeSeconds(minutes * 60) > LeftoverAge;
    }
}
