namespace OrleansTickets.Storage;

/// <summary>
/// A SQLite shard database's file was removed, renamed or replaced while its writer had it open, or its write-ahead
/// log was removed. The writer's last commit went into files the configured path no longer names, so its orders are
/// not acknowledged: they last only as long as this process keeps those files open, unless someone copies them back.
/// </summary>
public sealed class ShardDatabaseFilesMovedException(int ordinal, string path, string openFiles)
    : IOException(
        $"Shard database {ordinal}: {path} was removed, renamed or replaced under the running service, or its write-ahead log was " +
        "removed. The orders committed to it since it was opened (since its last checkpoint, if only the log was removed) are in " +
        $"files the path no longer names, held open by this process: {openFiles}. Copy them into another folder now, " +
        "under the database's and its log's names; stop the service; then put the copies in place and start it. A stop " +
        "before the copy loses those orders, and copies put in place before the stop lose the log: the last connection to " +
        "close deletes the log at the path. The database takes no more orders until the service restarts.")
{
    /// <summary>The shard database's number in the shard map.</summary>
    public int Ordinal { get; } = ordinal;

    /// <summary>The database file's path, as the service opened it.</summary>
    public string Path { get; } = path;
}
