namespace OrleansTickets.Storage;

/// <summary>
/// Whether the write-ahead log a SQLite writer commits into is still the file its path names. SQLite answers that for
/// the database file alone (<c>SQLITE_FCNTL_HAS_MOVED</c>); a log deleted by itself is made again, empty, by the next
/// connection that opens the database, so a file at the log's path proves nothing. On Linux this process's open
/// descriptors tell: a log that was deleted, or renamed over, still open here reads as "<c>path (deleted)</c>".
/// </summary>
/// <remarks>
/// One descriptor on the log is remembered and read back after each commit (one <c>readlink</c>); all of them are
/// looked through only when that one has closed or now names something else. /proc shows paths with symbolic links
/// resolved, so a data path through a link matches no descriptor, and the watch then knows only whether a file is at
/// the log's path. Elsewhere than on Linux the same holds.
/// </remarks>
internal sealed class WriteAheadLogWatch(string databasePath)
{
    private const string Descriptors = "/proc/self/fd";
    private const string DeletedMark = " (deleted)";

    private readonly string _log = Path.GetFullPath(databasePath) + "-wal";
    private string? _descriptor;

    /// <summary>False when the log this process holds open is no longer at its path.</summary>
    public bool InPlace()
    {
        if (!OperatingSystem.IsLinux()) return File.Exists(_log);
        if (_descriptor is not null)
        {
            var target = TargetOf(_descriptor);
            if (target == _log) return true;
            if (target == _log + DeletedMark) return false;
            _descriptor = null;
        }
        foreach (var descriptor in Directory.EnumerateFileSystemEntries(Descriptors))
        {
            var target = TargetOf(descriptor);
            if (target == _log + DeletedMark) return false;
            if (target == _log) _descriptor ??= descriptor;
        }
        return _descriptor is not null || File.Exists(_log);
    }

    /// <summary>
    /// Where this process still holds <paramref name="databasePath"/> or its log open (Linux), for whoever copies them
    /// out: "/proc/&lt;pid&gt;/fd/&lt;n&gt; (target)", or a pointer to the process when none is found.
    /// </summary>
    public static string HeldOpen(string databasePath)
    {
        var database = Path.GetFullPath(databasePath);
        try
        {
            var held = Directory.EnumerateFileSystemEntries(Descriptors)
                .Select(descriptor => (Name: Path.GetFileName(descriptor), Target: TargetOf(descriptor)))
                .Where(open => open.Target is { } target && (target.StartsWith(database, StringComparison.Ordinal)))
                .Select(open => $"/proc/{Environment.ProcessId}/fd/{open.Name} ({open.Target})")
                .ToList();
            if (held.Count > 0) return string.Join(", ", held);
        }
        catch (Exception)
        {
            // Only a hint; the refusal stands without it.
        }
        return $"look through the open descriptors of process {Environment.ProcessId}";
    }

    private static string? TargetOf(string descriptor)
    {
        try
        {
            return new FileInfo(descriptor).LinkTarget;
        }
        catch (IOException)
        {
            // Closed between the listing and the read.
            return null;
        }
    }
}
