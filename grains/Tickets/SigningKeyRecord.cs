using OrleansTickets.Storage;

namespace OrleansTickets.Tickets;

/// <summary>
/// The signing key a catalog's tickets were signed with, recorded in the catalog database by its check value
/// (<see cref="TicketCodeSigner.KeyCheck"/>) when a silo first starts on it; a silo that would sign with another key
/// refuses to start.
/// </summary>
/// <remarks>
/// Without a configured <c>Tickets:SigningKey</c> a silo keeps its key in a file of the data folder, and makes a new one
/// when the file is missing. On SQLite the orders live beside it, but on a database server they do not: a silo
/// started from another folder, or redeployed without the old one, signed with a fresh key and said nothing, and every
/// ticket sold before failed at the gates. A key configured anew by mistake did the same. SQL Server catalogs are not
/// checked (that dialect is unverified).
/// </remarks>
internal static class SigningKeyRecord
{
    private const string Table = """
        CREATE TABLE IF NOT EXISTS ticketing_signing_key (
            singleton INTEGER NOT NULL PRIMARY KEY CHECK (singleton = 1),
            key_check TEXT    NOT NULL
        );
        """;

    /// <summary>Records <paramref name="keyCheck"/> if the catalog has no key yet; throws when it recorded another.</summary>
    public static async Task CheckAsync(TicketStorageOptions storage, string keyCheck, CancellationToken cancellationToken)
    {
        if (storage.Provider == SqlDialect.SqlServer) return;
        await using var source = DatabaseServer.CreateDataSource(storage.Provider, CatalogDatabase.ConnectionString(storage));
        await using var connection = await source.OpenConnectionAsync(cancellationToken);
        // In the schema scripts' transaction and lock: silos starting together would otherwise collide creating it.
        await SqlScripts.RunAsync(connection, storage.Provider, Table, cancellationToken);
        await using (var record = new SqlStatement(
            "INSERT INTO ticketing_signing_key (singleton, key_check) VALUES (1, @key_check) ON CONFLICT (singleton) DO NOTHING")
            .With("@key_check", keyCheck).ToCommand(connection, transaction: null))
        {
            await record.ExecuteNonQueryAsync(cancellationToken);
        }
        await using var read = connection.CreateCommand();
        read.CommandText = "SELECT key_check FROM ticketing_signing_key";
        var recorded = (string?)await read.ExecuteScalarAsync(cancellationToken);
        if (recorded != keyCheck)
        {
            var file = Path.GetFullPath(SigningKeyFile.PathIn(storage.DataPath));
            throw new InvalidOperationException(
                "This silo would sign tickets with another key than the one this catalog's tickets were signed with, so tickets sold " +
                $"before would fail at the gates: the key file {file} was lost or replaced (it is made anew when missing), or " +
                "Tickets:SigningKey changed. Put the catalog's key back. To sign with a new key on purpose, knowing that every ticket " +
                "sold before stops verifying, delete the row of ticketing_signing_key in the catalog database.");
        }
    }
}
