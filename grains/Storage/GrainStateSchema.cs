using System.Data.Common;

namespace OrleansTickets.Storage;

/// <summary>
/// Creates the tables and query rows that Orleans' ADO.NET grain storage (<c>AddAdoNetGrainStorage</c>) needs, from
/// the scripts embedded under <c>Storage/Sql/GrainState</c>: our own schema, written from the provider's query
/// contract (query keys, parameters and result columns), because the NuGet package ships no SQL.
/// </summary>
/// <remarks>
/// The scripts are idempotent, so calling this on every start is safe, including from several processes at once.
/// It must finish before the silo starts: the provider loads its query texts from the <c>OrleansQuery</c> table
/// when it initialises.
/// </remarks>
public static class GrainStateSchema
{
    /// <summary>Creates or updates the grain-state schema on <paramref name="openConnection"/>, in one transaction.</summary>
    /// <param name="openConnection">An open connection to the database that grain storage will use.</param>
    /// <param name="dialect">The SQL engine behind <paramref name="openConnection"/>.</param>
    /// <param name="cancellationToken">Cancels the work; the transaction is then rolled back.</param>
    /// <exception cref="InvalidOperationException">
    /// The connection is not open, or a PostgreSQL database defaults to an isolation stricter than READ COMMITTED.
    /// </exception>
    public static async Task EnsureCreatedAsync(DbConnection openConnection, SqlDialect dialect, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(openConnection);
        if (openConnection.State != System.Data.ConnectionState.Open)
        {
            throw new InvalidOperationException("GrainStateSchema needs an open connection.");
        }
        await SqlScripts.RefuseStricterDefaultIsolationAsync(openConnection, dialect, "grain storage", cancellationToken);
        await SqlScripts.RunAsync(openConnection, dialect, ReadScript(dialect), cancellationToken);
    }

    /// <summary>Returns the embedded schema script for <paramref name="dialect"/>.</summary>
    public static string ReadScript(SqlDialect dialect) => SqlScripts.Read("GrainState", SqlScripts.FileName(dialect));
}
