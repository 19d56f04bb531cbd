namespace OrleansTickets.Storage;

/// <summary>How a SQLite shard database's writer connects and keeps its write-ahead log in check.</summary>
/// <param name="ConnectionString">The database file's connection string.</param>
/// <param name="CheckpointPages">The log's size, in pages, at which the writer checkpoints after a commit.</param>
internal sealed record SqliteWriterSettings(string ConnectionString, int CheckpointPages);
