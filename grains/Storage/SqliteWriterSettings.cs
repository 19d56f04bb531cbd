namespace OrleansTickets.Storage;

/// <summary>How a SQLite shard database's writer connects and keeps its write-ahead log in check.</summary>
/// <param name="ConnectionString">The database file's connection string.</param>
/// <param name="CheckpointPages">The log's size, in pages, at which a commit also checkpoints (<c>wal_autocheckpoint</c>).</param>
/// <param name="CheckpointCheckInterval">At most how often the writer checks that checkpoints still succeed.</param>
internal sealed record SqliteWriterSettings(string ConnectionString, int CheckpointPages, TimeSpan CheckpointCheckInterval);
