using System.Security.Cryptography;

namespace OrleansTickets.Tickets;

/// <summary>
/// Development fallback for the ticket signing key: a random key kept in the data folder, so a single embedded
/// node works with no setup and keeps issuing verifiable codes across restarts. A cluster configures
/// <c>Tickets:SigningKey</c> instead, so that every silo signs with the same key.
/// </summary>
public static class SigningKeyFile
{
    /// <summary>Where a silo without a configured key keeps its key: a file in the data folder.</summary>
    public static string PathIn(string dataPath) => Path.Combine(dataPath, "ticket-signing.key");

    /// <summary>Reads the key at <paramref name="path"/>, creating it first if needed.</summary>
    /// <exception cref="InvalidOperationException">The file does not hold a usable key.</exception>
    public static byte[] LoadOrCreate(string path)
    {
        if (!File.Exists(path)) Create(path);
        return TicketCodeSigner.TryParseKey(File.ReadAllText(path), out var key)
            ? key
            : throw new InvalidOperationException(
                $"The ticket signing key file {path} does not hold {TicketCodeSigner.KeyRule}. " +
                "Restore it if it was changed (codes already issued were signed with it), or set Tickets:SigningKey.");
    }

    private static void Create(string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        var temporary = $"{path}.{Guid.NewGuid():N}.tmp";
        // Whoever reads the key can forge tickets: only this user may. On disk before it is named, so a crash cannot
        // leave an empty key file behind.
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows()) options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        using (var file = new FileStream(temporary, options))
        {
            file.Write(System.Text.Encoding.ASCII.GetBytes(Convert.ToBase64String(RandomNumberGenerator.GetBytes(TicketCodeSigner.MinKeyBytes))));
            file.Flush(flushToDisk: true);
        }
        try
        {
            File.Move(temporary, path, overwrite: false);
        }
        catch (IOException) when (File.Exists(path))
        {
            // Another process won the race; use its key.
            File.Delete(temporary);
        }
    }
}
