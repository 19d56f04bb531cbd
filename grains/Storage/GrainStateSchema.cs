using System.Data.Common;
namespace OrleansTickets.Storage;
// TEMPORARY until the helper delivers the real one.
public static class GrainStateSchema
{
    public static Task EnsureCreatedAsync(DbConnection openConnection, SqlDialect dialect, CancellationToken cancellationToken = default) => throw new NotSupportedException();
}
