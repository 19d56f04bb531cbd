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
        if (!File.Exists(path))
        {
            // Invariant: one key per file, ever. On Unix a rename that must not replace its target checks first and then
            // renames, which replaces whatever another creator named in between: two silos started together on one data
            // folder each read their own key, and the loser's codes could never be verified once its process ended.
            // Creators take turns instead, and each looks again once it holds the turn.
            using var turn = TakeCreationTurn(path);
            if (!File.Exists(path)) Create(path);
        }
        RefuseIfShared(path);
        return TicketCodeSigner.TryParseKey(File.ReadAllText(path), out var key)
            ? key
            : throw new InvalidOperationException(
                $"The ticket signing key file {path} does not hold {TicketCodeSigner.KeyRule}. " +
                "Restore it if it was changed (codes already issued were signed with it), or set Tickets:SigningKey.");
    }

    private const UnixFileMode OthersAccess = UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute |
                                              UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;

    /// <summary>
    /// Refuses a key file that other users may read or write, as ssh refuses such a private key: a reader can forge
    /// tickets, and a writer could have swapped the key, so starting would sign with a key that is not a secret.
    /// </summary>
    private static void RefuseIfShared(string path)
    {
        if (OperatingSystem.IsWindows()) return;
        var mode = File.GetUnixFileMode(path);
        if ((mode & OthersAccess) == 0 || !KeepsUnixModes(Path.GetDirectoryName(Path.GetFullPath(path))!)) return;
        throw new InvalidOperationException(
            $"The ticket signing key file {path} is open to other users (mode {Convert.ToString((int)mode, 8)}): whoever " +
            $"reads it can forge tickets. If nobody else could have changed it, make it private (chmod 600 {path}); " +
            "otherwise set Tickets:SigningKey to the key the issued codes were signed with.");
    }

    /// <summary>
    /// Whether files in <paramref name="folder"/> keep the mode they are given. Some do not (a Windows drive under WSL, an
    /// SMB share), and show every file open to all: there no mode can be set, so none is asked for.
    /// </summary>
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    private static bool KeepsUnixModes(string folder)
    {
        var probe = Path.Combine(folder, $".mode-probe-{Guid.NewGuid():N}");
        try
        {
            var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Options = FileOptions.DeleteOnClose };
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
            using var file = new FileStream(probe, options);
            // Made private (a umask may take more away, never add): a folder that keeps modes shows no one else's bits.
            return (File.GetUnixFileMode(file.SafeFileHandle) & OthersAccess) == 0;
        }
        catch (Exception)
        {
            // A folder this process cannot write to: the key's mode is then what it says.
            return true;
        }
    }

    /// <summary>
    /// An exclusive hold on <c>path.lock</c> (an advisory lock on Unix, a share mode on Windows), released when the
    /// stream is disposed or the process ends, so a creator that crashed holds nobody up.
    /// </summary>
    private static FileStream TakeCreationTurn(string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        var options = new FileStreamOptions { Mode = FileMode.OpenOrCreate, Access = FileAccess.ReadWrite, Share = FileShare.None };
        if (!OperatingSystem.IsWindows()) options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        var giveUpAt = Environment.TickCount64 + 30_000;
        while (true)
        {
            try
            {
                return new FileStream(path + ".lock", options);
            }
            catch (IOException) when (Environment.TickCount64 < giveUpAt)
            {
                // Another creator holds the turn for as long as writing 44 bytes takes.
                Thread.Sleep(10);
            }
        }
    }

    private static void Create(string path)
    {
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
        File.Move(temporary, path, overwrite: false);
    }
}
