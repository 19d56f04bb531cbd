using System.Security.Cryptography;

namespace OrleansTickets.Tickets;

/// <summary>
/// Development fallback for the ticket signing key: a random key kept in the data folder, so a single embedded
/// node works with no setup and keeps issuing verifiable codes across restarts. A cluster configures
/// <c>Tickets:SigningKey</c> instead, so that every silo signs with the same key.
/// </summary>
public static class SigningKeyFile
{
    /// <summary>Reads the key at <paramref name="path"/>, creating it first if needed.</summary>
    public static byte[] LoadOrCreate(string path)
    {
        if (File.Exists(path)) return Convert.FromBase64String(File.ReadAllText(path).Trim());
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        var key = RandomNumberGenerator.GetBytes(32);
        var temporary = $"{path}.{Guid.NewGuid():N}.tmp";
        File.WriteAllText(temporary, Convert.ToBase64String(key));
        try
        {
            File.Move(temporary, path, overwrite: false);
        }
        catch (IOException) when (File.Exists(path))
        {
            // Another process won the race; use its key.
            File.Delete(temporary);
        }
        return Convert.FromBase64String(File.ReadAllText(path).Trim());
    }
}
