using Microsoft.Extensions.Configuration;
using OrleansTickets.Storage;

namespace OrleansTickets.Tests.Infrastructure;

/// <summary>Configuration for one test's private storage: a fresh SQLite folder, or a fresh PostgreSQL catalog database.</summary>
public sealed class TestStorage : IDisposable
{
    /// <summary>A fixed signing key, so tests can check codes with a signer of their own.</summary>
    public static readonly string SigningKey = Convert.ToBase64String(Enumerable.Range(1, 32).Select(i => (byte)i).ToArray());

    private TestStorage(Dictionary<string, string?> settings, string? folder)
    {
        Settings = settings;
        Folder = folder;
    }

    public Dictionary<string, string?> Settings { get; }

    /// <summary>The SQLite data folder, when SQLite.</summary>
    public string? Folder { get; }

    public TicketStorageOptions Options => Configuration().GetSection(TicketStorageOptions.SectionName).Get<TicketStorageOptions>()!;

    public static TestStorage Sqlite(int maxShardDatabases = 4)
    {
        var folder = Path.Combine(Path.GetTempPath(), "orleans-tickets-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        return new TestStorage(new Dictionary<string, string?>
        {
            ["Storage:Provider"] = "Sqlite",
            ["Storage:DataPath"] = folder,
            ["Storage:MaxShardDatabases"] = maxShardDatabases.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Tickets:SigningKey"] = SigningKey,
        }, folder);
    }

    public static TestStorage Postgres(PostgresServer server, int maxShardDatabases = 4)
    {
        // Each test gets its own catalog database (and so its own shard databases, named after it).
        var database = "ot_" + Guid.NewGuid().ToString("N")[..12];
        return new TestStorage(new Dictionary<string, string?>
        {
            ["Storage:Provider"] = "PostgreSql",
            ["Storage:ConnectionString"] = server.ConnectionString(database),
            ["Storage:MaxShardDatabases"] = maxShardDatabases.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Tickets:SigningKey"] = SigningKey,
        }, null);
    }

    public IConfiguration Configuration() => new ConfigurationBuilder().AddInMemoryCollection(Settings).Build();

    /// <summary>Runs <paramref name="sql"/> on the catalog database, as an operator (or an older build) would have.</summary>
    public async Task ExecuteCatalogAsync(string sql)
    {
        var connectionString = CatalogDatabase.ConnectionString(Options);
        await using System.Data.Common.DbConnection connection = Options.Provider == SqlDialect.Sqlite
            ? new Microsoft.Data.Sqlite.SqliteConnection(connectionString)
            : new Npgsql.NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        await command.ExecuteNonQueryAsync();
    }

    public void Dispose()
    {
        if (Folder is null)
        {
            // A test's PostgreSQL databases stay on the collection's server until the collection ends, and Npgsql keeps each
            // pool's idle connections open for five minutes: the suite's tests together held the server's 300
            // connections, and a later test's new databases were refused ("too many clients already"). It was seen as the
            // rehearsal test timing out, its private silo's shards unreachable. Npgsql closes only the idle connections
            // here (a busy one is closed when it is given back), so the tests of other PostgreSQL collections, which run
            // meanwhile on servers of their own, just open new ones; the shards' own data sources are not touched.
            Npgsql.NpgsqlConnection.ClearAllPools();
            return;
        }
        try
        {
            Directory.Delete(Folder, recursive: true);
        }
        catch (IOException)
        {
            // A pooled SQLite handle may still be closing; the temp folder is cleaned by the OS eventually.
        }
    }
}
