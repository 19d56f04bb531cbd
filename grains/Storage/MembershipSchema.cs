using System.Data.Common;

namespace OrleansTickets.Storage;

/// <summary>
/// Creates the tables and query rows that Orleans' ADO.NET clustering (<c>UseAdoNetClustering</c>) needs, from the
/// scripts embedded under <c>Storage/Sql/Membership</c>: our own schema, written from the provider's query contract,
/// because the NuGet package ships no SQL.
/// </summary>
/// <remarks>
/// The scripts are idempotent and share the <c>OrleansQuery</c> table with <see cref="GrainStateSchema"/>; the two can
/// run in either order, including from several processes at once. This must finish before a silo or client starts:
/// the provider loads its query texts when it initialises. SQLite has no script, because a membership table only
/// makes sense on a database that every silo reaches.
/// </remarks>
public static class MembershipSchema
{
    /// <summary>Creates or updates the membership schema on <paramref name="openConnection"/>, in one transaction.</summary>
    /// <param name="openConnection">An open connection to the database that clustering will use.</param>
    /// <param name="dialect">The SQL engine behind <paramref name="openConnection"/>.</param>
    /// <param name="cancellationToken">Cancels the work; the transaction is then rolled back.</param>
    /// <exception cref="NotSupportedException"><paramref name="dialect"/> is SQLite.</exception>
    /// <exception cref="InvalidOperationException">
    /// The connection is not open, or a PostgreSQL database defaults to an isolation stricter than READ COMMITTED.
    /// </exception>
    public static async Task EnsureCreatedAsync(DbConnection openConnection, SqlDialect dialect, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(openConnection);
        var script = ReadScript(dialect);
        if (openConnection.State != System.Data.ConnectionState.Open)
        {
            throw new InvalidOperationException("MembershipSchema needs an open connection.");
        }
        await SqlScripts.RefuseStricterDefaultIsolationAsync(openConnection, dialect, "membership", cancellationToken);
        await SqlScripts.RunAsync(openConnection, dialect, script, cancellationToken);
    }

    /// <summary>Returns the embedded schema script for <paramref name="dialect"/>.</summary>
    /// <exception cref="NotSupportedException"><paramref name="dialect"/> is SQLite.</exception>
    public static string ReadScript(SqlDialect dialect) => dialect == SqlDialect.Sqlite
        ? throw new NotSupportedException(
            "Orleans ADO.NET clustering does not support SQLite: every silo must reach one shared membership table. " +
            "Use PostgreSQL (or SQL Server, unverified) for clustering, or a single silo with localhost clustering.")
        : SqlScripts.Read("Membership", SqlScripts.FileName(dialect));
}
