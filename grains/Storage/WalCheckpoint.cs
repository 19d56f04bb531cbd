namespace OrleansTickets.Storage;

/// <summary>What a checkpoint of a SQLite write-ahead log found and did (<c>PRAGMA wal_checkpoint</c>'s row).</summary>
/// <param name="Busy">Another connection was checkpointing: nothing was done, and the counts are not known.</param>
/// <param name="LogPages">Pages in the log since it was last started afresh.</param>
/// <param name="CopiedPages">Of those, the pages now copied into the database file.</param>
internal readonly record struct WalCheckpoint(bool Busy, long LogPages, long CopiedPages)
{
    /// <summary>Whether the counts say anything: not when another connection was checkpointing, nor outside WAL mode (-1).</summary>
    public bool Known => !Busy && LogPages >= 0;

    /// <summary>
    /// Pages no checkpoint may copy yet: they were written after a reader still open began, and copying them would
    /// change the database file under it.
    /// </summary>
    public long PagesBehind => Math.Max(0, LogPages - CopiedPages);
}
