using Npgsql;
using OrleansTickets.Storage;
using OrleansTickets.Tests.Infrastructure;

namespace OrleansTickets.Tests.Rehearsal;

/// <summary>
/// Scratch storage a rehearsal left behind (its silo killed mid-rehearsal) is found by its age and deleted by a later
/// rehearsal; scratch storage that may still be in use, and anything else, is left alone.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class ScratchStorageTests(PostgresFixture postgres)
{
    private static readonly DateTimeOffset Now = DateTimeOffset.UtcNow;

    [Theory]
    [InlineData("ticketing")]
    // Long enough that the plain stem would pass PostgreSQL's 63 bytes with the suffix and _shard_0000, which merged
    // scratch databases and failed every rehearsal, so such a silo always opened cold.
    [InlineData("a_catalog_database_named_at_some_length_by_operators")]
    [InlineData("каталог_билетов_фестиваля_2026")]
    public void Scratch_databases_of_any_real_name_fit_postgres_names_and_keep_two_names_apart(string database)
    {
        var names = new[] { database, database + "_2" }.Select(name =>
        {
            var real = new NpgsqlConnectionStringBuilder { Host = "127.0.0.1", Database = name }.ConnectionString;
            var scratch = ScratchStorage.For(new TicketStorageOptions { Provider = SqlDialect.PostgreSql, ConnectionString = real });
            return new NpgsqlConnectionStringBuilder(scratch.Settings["Storage:ConnectionString"]).Database!;
        }).ToList();

        Assert.All(names, name => Assert.InRange(System.Text.Encoding.UTF8.GetByteCount(name + "_shard_0000"), 1, 63));
        // Stems differ, not only the random suffixes: a sweep by one silo's stem never meets the other's databases.
        Assert.NotEqual(names[0][..^12], names[1][..^12]);
    }

    [Fact]
    public async Task Old_sqlite_scratch_folders_are_swept_and_recent_ones_kept()
    {
        var parent = Path.Combine(Path.GetTempPath(), "orleans-tickets-tests", Guid.NewGuid().ToString("N"));
        using var storage = TestStorage.Sqlite();
        var options = storage.Options;
        var left = Folder(ScratchStorage.For(options, parent, Now - TimeSpan.FromHours(3)));
        var recent = Folder(ScratchStorage.For(options, parent, Now - TimeSpan.FromMinutes(10)));
        // Named by a build before names carried their time: its age cannot be told, so it stays.
        var unstamped = Path.Combine(parent, "orleans-tickets-rehearsal-0a1b2c3d");
        var unrelated = Path.Combine(parent, "something-else");
        foreach (var folder in new[] { left, recent, unstamped, unrelated })
        {
            Directory.CreateDirectory(folder);
            await File.WriteAllTextAsync(Path.Combine(folder, "shard_0000.db"), "scratch");
        }

        var swept = await ScratchStorage.SweepLeftoversAsync(options, parent, Now);

        Assert.Equal([left], swept);
        Assert.False(Directory.Exists(left));
        Assert.All(new[] { recent, unstamped, unrelated }, folder => Assert.True(Directory.Exists(folder), folder));
        Directory.Delete(parent, recursive: true);
    }

    [PostgresFact]
    public async Task Old_postgres_scratch_databases_are_swept_with_their_shards_and_recent_ones_kept()
    {
        var options = TestStorage.Postgres(postgres.Server).Options;
        var left = Catalog(ScratchStorage.For(options, now: Now - TimeSpan.FromHours(3)));
        var recent = Catalog(ScratchStorage.For(options, now: Now - TimeSpan.FromMinutes(10)));
        // Old by its name, but someone is connected to it: a rehearsal on a machine whose clock is far behind. Its
        // catalog is connected for the whole rehearsal; a shard database may not be yet (its writer has not connected),
        // and must be kept too.
        var inUse = Catalog(ScratchStorage.For(options, now: Now - TimeSpan.FromHours(4)));
        foreach (var name in new[] { left, left + "_shard_0000", left + "_shard_0001", recent, recent + "_shard_0000", inUse, inUse + "_shard_0000" })
        {
            await postgres.Server.CreateDatabaseAsync(name);
        }
        await using var connected = new NpgsqlConnection(postgres.Server.ConnectionString(inUse));
        await connected.OpenAsync();

        var swept = await ScratchStorage.SweepLeftoversAsync(options, sqliteParent: null, Now);

        Assert.Equal([left], swept);
        Assert.Equal(new[] { recent, recent + "_shard_0000", inUse, inUse + "_shard_0000" }.Order(StringComparer.Ordinal),
            await postgres.Server.DatabasesStartingWithAsync(recent[..^12]));
    }

    private static string Folder(ScratchStorage scratch) => scratch.Settings["Storage:DataPath"]!;

    private static string Catalog(ScratchStorage scratch) =>
        new NpgsqlConnectionStringBuilder(scratch.Settings["Storage:ConnectionString"]).Database!;
}
