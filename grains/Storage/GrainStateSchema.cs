using System.Data.Common;
using System.Reflection;
using System.Text.RegularExpressions;

namespace OrleansTickets.Storage;

/// <summary>
/// Creates the tables and query rows that Orleans' ADO.NET grain storage
/// (<c>AddAdoNetGrainStorage</c>) needs, from the scripts embedded under <c>Storage/Sql/GrainState</c>.
/// </summary>
/// <remarks>
/// The scripts are idempotent, so calling this on every start is safe, including from several
/// processes at once. It must finish before the silo starts: the provider loads its query texts
/// from the <c>OrleansQuery</c> table when it initialises.
/// </remarks>
public static partial class GrainStateSchema
{
    /// <summary>Creates or updates the grain-state schema on <paramref name="openConnection"/>.</summary>
    /// <param name="openConnection">An open connection to the database that grain storage will use.</param>
    /// <param name="dialect">The SQL engine behind <paramref name="openConnection"/>.</param>
    /// <param name="cancellationToken">Cancels the work; the transaction is then rolled back.</param>
    /// <exception cref="InvalidOperationException">The connection is not open.</exception>
    public static async Task EnsureCreatedAsync(DbConnection openConnection, SqlDialect dialect, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(openConnection);
        if (openConnection.State != System.Data.ConnectionState.Open)
        {
            throw new InvalidOperationException("GrainStateSchema needs an open connection.");
        }

        var script = ReadScript(dialect);

        // One transaction for the whole script: a half-created schema never becomes visible, and the
        // PostgreSQL advisory lock and SQL Server app lock taken by the scripts last until commit.
        // SQLite's BeginTransaction is BEGIN IMMEDIATE, which takes the write lock up front.
        await using var transaction = await openConnection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        foreach (var batch in SplitBatches(script, dialect))
        {
            await using var command = openConnection.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = batch;
            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Returns the embedded schema script for <paramref name="dialect"/>.</summary>
    /// <param name="dialect">The SQL engine whose script is wanted.</param>
    /// <returns>The script text, as shipped in the grains assembly.</returns>
    public static string ReadScript(SqlDialect dialect)
    {
        var fileName = dialect switch
        {
            SqlDialect.Sqlite => "Sqlite.sql",
            SqlDialect.PostgreSql => "PostgreSql.sql",
            SqlDialect.SqlServer => "SqlServer.sql",
            _ => throw new ArgumentOutOfRangeException(nameof(dialect), dialect, "Unknown SQL dialect."),
        };

        // Matching on the suffix keeps this independent of how the SDK spells the resource prefix.
        var assembly = typeof(GrainStateSchema).Assembly;
        var suffix = ".Storage.Sql.GrainState." + fileName;
        var resourceName = assembly.GetManifestResourceNames().SingleOrDefault(n => n.EndsWith(suffix, StringComparison.Ordinal))
            ?? throw new InvalidOperationException($"Embedded resource '*{suffix}' is missing from {assembly.GetName().Name}.");

        using var stream = assembly.GetManifestResourceStream(resourceName)!;
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    private static IEnumerable<string> SplitBatches(string script, SqlDialect dialect)
    {
        // GO is a client-side separator that SQL Server itself rejects; the other engines take
        // the whole multi-statement script in one command.
        if (dialect != SqlDialect.SqlServer)
        {
            return [script];
        }

        return GoLine().Split(script).Where(batch => !string.IsNullOrWhiteSpace(batch));
    }

    [GeneratedRegex(@"^\s*GO\s*$", RegexOptions.Multiline | RegexOptions.IgnoreCase)]
    private static partial Regex GoLine();
}
