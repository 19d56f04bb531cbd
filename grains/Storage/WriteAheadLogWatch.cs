namespace OrleansTickets.Storage;

/// <summary>
/// Whether the write-ahead log a SQLite writer commits into is still the file its path names. SQLite answers that for
/// the database file alone (<c>SQLITE_FCNTL_HAS_MOVED</c>); a log deleted by itself is made again, empty, by the next
/// connection that opens the database, so a file at the log's path proves nothing. On Linux this process's open
/// descriptors tell: a log that was deleted, or renamed over, still open here reads as "<c>path (deleted)</c>".
/// </summary>
/// <remarks>
/// Every descriptor found on the log is remembered and read back after each commit (a <c>readlink</c> each: the
/// writer's, and those of the readers the pool keeps open); all of them are looked through again when one has closed
/// or names something else. Remembering one alone was not enough: a reader's descriptor could close and its number go
/// to a reader opened after the log was deleted, which holds the new log, while the writer still commits into the old.
/// /proc shows paths with symbolic links resolved, so a data path through a link matches no descriptor, and the watch
/// then knows only whether a file is at the log's path. Elsewhere than on Linux the same holds.
/// </remarks>
internal sealed class WriteAheadLogWatch(string databasePath)
{
    private const string Descriptors = "/proc/self/fd";
    private const string DeletedMark = " (deleted)";

    private readonly string _log = Path.GetFullPath(databasePath) + "-wal";
    private readonly string _deletedLog = Path.GetFullPath(databasePath) + "-wal" + DeletedMark;
    private List<string> _onLog = [];

    /// <summary>False when a log this process holds open is no longer at its path.</summary>
    public bool InPlace()
    {
        if (!OperatingSystem.IsLinux()) return File.Exists(_log);
        var stillOnLog = _onLog.Count > 0;
        foreach (var descriptor in _onLog)
        {
            var target = TargetOf(descriptor);
            if (target == _deletedLog) return false;
            if (target != _log) stillOnLog = false;
        }
        if (stillOnLog) return true;
        var found = new List<string>();
        foreach (var descriptor in Directory.EnumerateFileSystemEntries(Descriptors))
        {
            var target = TargetOf(descriptor);
            if (target == _deletedLog) return false;
            if (target == _log) found.Add(descriptor);
        }
        _onLog = found;
        return found.Count > 0 || File.Exists(_log);
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
                .Where(open => open.Target is { } target && target.StartsWith(database, StringComparison.Ordinal))
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
