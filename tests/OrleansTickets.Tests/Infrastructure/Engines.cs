namespace OrleansTickets.Tests.Infrastructure;

/// <summary>
/// The storage engines a suite runs on, as theory data: SQLite always, PostgreSQL when its binaries are present
/// or when CI=true (where a missing PostgreSQL then fails the tests instead of hiding them).
/// </summary>
public static class Engines
{
    public const string Sqlite = "sqlite";
    public const string Postgres = "postgres";

    public static TheoryData<string> All
    {
        get
        {
            var data = new TheoryData<string> { Sqlite };
            if (PostgresServer.IsAvailable || PostgresServer.IsCi) data.Add(Postgres);
            return data;
        }
    }

    public static TestStorage Storage(string engine, PostgresFixture postgres, int maxShardDatabases = 4) =>
        engine == Postgres ? TestStorage.Postgres(postgres.Server, maxShardDatabases) : TestStorage.Sqlite(maxShardDatabases);
}
