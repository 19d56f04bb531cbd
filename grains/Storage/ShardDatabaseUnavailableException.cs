namespace OrleansTickets.Storage;

/// <summary>
/// The group commit failed before its COMMIT was sent: the database could not be reached, or the connection broke
/// while the transaction was still open (the server then rolls it back). Unlike a failure of the COMMIT itself, this
/// is a definite "nothing was written", so the caller may safely route the purchase elsewhere.
/// </summary>
public sealed class ShardDatabaseUnavailableException(int ordinal, Exception inner)
    : Exception($"Shard database {ordinal} is unavailable: {inner.Message}", inner);
