namespace OrleansTickets.Storage;

/// <summary>Where the catalog and the shard ledgers live. Bound from the <c>Storage</c> configuration section.</summary>
public sealed class TicketStorageOptions
{
    /// <summary>The configuration section name.</summary>
    public const string SectionName = "Storage";

    /// <summary>Which SQL engine. SQLite is the embedded default.</summary>
    public SqlDialect Provider { get; set; } = SqlDialect.Sqlite;

    /// <summary>SQLite only: the folder holding the catalog file and one file per shard database.</summary>
    public string DataPath { get; set; } = "data";

    /// <summary>
    /// PostgreSQL and SQL Server: the catalog database. Shard databases are created on the same server,
    /// named after it with a <c>_shard_NNNN</c> suffix.
    /// </summary>
    public string? ConnectionString { get; set; }

    /// <summary>
    /// How many shard databases the shard map spreads shards over. Each is one stream of durable commits
    /// (one fsync per group commit); beyond this number shards share databases, one row each.
    /// </summary>
    public int MaxShardDatabases { get; set; } = 4;

    /// <summary>
    /// PostgreSQL and SQL Server: the size of each shard database's pool for claims, key reads, order pages and the
    /// export, per silo; on every engine, half of it (at least 1) bounds the lookups (order and export pages) that read
    /// at once (ShardDatabase.LookUpAsync). Each database's group-commit writer has one connection of its own besides. Keep
    /// <c>silos × MaxShardDatabases × (MaxConnectionsPerDatabase + 1)</c>, plus each silo's catalog pool, below the
    /// server's connection limit.
    /// </summary>
    public int MaxConnectionsPerDatabase { get; set; } = 8;

    /// <summary>
    /// How long a lookup (an order or export page) waits for one of its database's lookup connections before it is
    /// answered 503 (ShardDatabase.LookUpAsync). Short: a buyer refreshing a page asks again anyway.
    /// </summary>
    public int LookupWaitMilliseconds { get; set; } = 2000;

    /// <summary>Most orders one group commit takes, so one transaction never grows without bound.</summary>
    public int MaxOrdersPerCommit { get; set; } = 4096;

    /// <summary>
    /// How long a database's writer waits, once batches from several shards are arriving, for more of them to share
    /// the commit. 0 commits at once. A longer wait means fewer fsyncs per order, and that much more latency per
    /// commit; a lone buyer never waits. See docs/benchmarks.md for the measurements behind the default.
    /// </summary>
    public double CommitGatherMilliseconds { get; set; } = 1;

    /// <summary>The largest accepted <see cref="CommitGatherMilliseconds"/>: beyond this a buyer would notice the wait.</summary>
    public const double MaxCommitGatherMilliseconds = 1000;

    /// <summary>
    /// SQLite only: a database's writer copies its write-ahead log into the database file (a checkpoint) after a commit
    /// once the log holds this many pages, as SQLite's <c>wal_autocheckpoint</c> would, and reports a checkpoint that
    /// fails or is held back (ShardDatabase.WatchCheckpoints). More pages mean fewer copies of the same hot pages during
    /// a sale, and a larger log file on disk. See docs/benchmarks.md for the measurements behind the default.
    /// </summary>
    public int SqliteCheckpointPages { get; set; } = 8192;
}
