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
    /// <summary>Records <paramref name="keyCheck"/> if the catalog has no key yet; throws when it recorded another.</summary>
    public static async Task CheckAsync(TicketStorageOptions storage, string keyCheck, CancellationToken cancellationToken)
    {
        var recorded = await CatalogRecord.RecordOrReadAsync(storage, "ticketing_signing_key", "key_check",
            (_, _) => Task.FromResult(keyCheck), cancellationToken);
        if (recorded is not null && recorded != keyCheck)
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
