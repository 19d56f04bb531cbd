using System.Data.Common;
using System.Text.RegularExpressions;

namespace OrleansTickets.Storage;

/// <summary>Reads and runs the SQL scripts embedded in this assembly.</summary>
internal static partial class SqlScripts
{
    // Any fixed number works; it only has to be the same in every process that creates schemas.
    internal const long SchemaLockId = 0x4f54_5343_4845;

    /// <summary>The script file name each engine's scripts use in every folder.</summary>
    public static string FileName(SqlDialect dialect) => dialect switch
    {
        SqlDialect.Sqlite => "Sqlite.sql",
        SqlDialect.PostgreSql => "PostgreSql.sql",
        SqlDialect.SqlServer => "SqlServer.sql",
        _ => throw new ArgumentOutOfRangeException(nameof(dialect)),
    };

    public static string Read(string folder, string fileName)
    {
        var suffix = $".Storage.Sql.{folder}.{fileName}";
        var assembly = typeof(SqlScripts).Assembly;
        var name = assembly.GetManifestResourceNames().SingleOrDefault(n => n.EndsWith(suffix, StringComparison.Ordinal))
            ?? throw new InvalidOperationException($"Embedded resource '*{suffix}' is missing from {assembly.GetName().Name}.");
        using var stream = assembly.GetManifestResourceStream(name)!;
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    /// <summary>
    /// How long one batch of a schema script may run on a database server. Not the drivers' 30 s: an upgrade's steps
    /// grow with the data (the export's index built over a database's orders, marks given to orders restored from
    /// another server), a batch that timed out rolls back whole, and the start's retry would run it again, to the same
    /// end, on every start.
    /// </summary>
    public static readonly TimeSpan BatchTimeout = TimeSpan.FromMinutes(5);

    /// <summary>
    /// Runs an idempotent schema script in one transaction. On PostgreSQL an advisory lock serialises silos that
    /// start together, because concurrent <c>CREATE TABLE IF NOT EXISTS</c> can still collide in the catalog.
    /// SQL Server scripts are split on <c>GO</c> lines.
    /// </summary>
    public static async Task RunAsync(DbConnection connection, SqlDialect dialect, string script, CancellationToken cancellationToken)
    {
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        if (dialect == SqlDialect.PostgreSql)
        {
            script = $"SELECT pg_advisory_xact_lock({SchemaLockId});\n{script}";
        }
        var batches = dialect == SqlDialect.SqlServer
            ? GoLine().Split(script).Where(b => !string.IsNullOrWhiteSpace(b))
            : [script];
        foreach (var batch in batches)
        {
            await using var command = connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = batch;
            // SQLite's timeout is how long it waits for another writer's lock, not for the work: left as it is.
            if (dialect != SqlDialect.Sqlite) command.CommandTimeout = (int)BatchTimeout.TotalSeconds;
            await command.ExecuteNonQueryAsync(cancellationToken);
        }
        await transaction.CommitAsync(cancellationToken);
    }

    /// <summary>
    /// Refuses a PostgreSQL database whose sessions default to an isolation stricter than READ COMMITTED (a database's or
    /// role's <c>default_transaction_isolation</c>). The Orleans queries in these scripts are compare-and-swaps that
    /// rely on it: a write that waited on a concurrent one re-reads the row, matches nothing, and the provider reports a
    /// version conflict. Under REPEATABLE READ or SERIALIZABLE the loser fails with a serialization error instead,
    /// which Orleans passes on as a plain database error: a duplicate activation's write, or a silo's membership
    /// update, would then be taken for an outage instead of a lost race. READ UNCOMMITTED is READ COMMITTED here.
    /// </summary>
    public static async Task RefuseStricterDefaultIsolationAsync(
        DbConnection connection, SqlDialect dialect, string purpose, CancellationToken cancellationToken)
    {
        if (dialect != SqlDialect.PostgreSql) return;
        await using var read = connection.CreateCommand();
        read.CommandText = "SELECT current_setting('default_transaction_isolation')";
        var isolation = (string?)await read.ExecuteScalarAsync(cancellationToken);
        if (isolation is "read committed" or "read uncommitted") return;
        throw new InvalidOperationException(
            $"The {purpose} database's sessions default to default_transaction_isolation = '{isolation}'; Orleans' {purpose} " +
            "queries need 'read committed' to tell a lost race from a failure. Set it back for this database or role " +
            "(ALTER DATABASE ... SET default_transaction_isolation = 'read committed') or leave it out of the connection string's Options.");
    }

    [GeneratedRegex(@"^\s*GO\s*$", RegexOptions.Multiline | RegexOptions.IgnoreCase)]
    private static partial Regex GoLine();
}
