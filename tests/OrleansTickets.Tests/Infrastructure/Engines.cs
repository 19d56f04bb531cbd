namespace OrleansTickets.Tests.Infrastructure;

/// <summary>
/// The storage engines a suite runs on, named in a theory's rows: <c>[InlineData(Engines.Sqlite), PostgresRow]</c>
/// (see <see cref="PostgresRowAttribute"/>, skipped without PostgreSQL outside CI).
/// </summary>
public static class Engines
{
    public const string Sqlite = "sqlite";
    public const string Postgres = "postgres";

    public static TestStorage Storage(string engine, PostgresFixture postgres, int maxShardDatabases = 4) =>
        engine == Postgres ? TestStorage.Postgres(postgres.Server, maxShardDatabases) : TestStorage.Sqlite(maxShardDatabases);
}
