namespace OrleansTickets.Storage;

/// <summary>
/// A SQLite shard database's file was removed, renamed or replaced while its writer had it open, or its write-ahead
/// log was removed. The writer's last commit went into files the configured path no longer names, so its orders are
/// not acknowledged: they last only as long as this process keeps those files open, unless someone copies them back.
/// </summary>
public sealed class ShardDatabaseFilesMovedException(int ordinal, string path, string openFiles)
    : IOException(
        $"Shard database {ordinal}: {path} was removed, renamed or replaced under the running service, or its write-ahead log was " +
        "removed. Orders committed to this database since it was opened are in files the path no longer names, and are lost when " +
        $"this process ends unless those files are put back first. This process still holds them open: {openFiles}. " +
        "The database takes no more orders until the service restarts.")
{
    /// <summary>The shard database's number in the shard map.</summary>
    public int Ordinal { get; } = ordinal;
}
