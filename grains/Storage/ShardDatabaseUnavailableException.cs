namespace OrleansTickets.Storage;

/// <summary>
/// The shard database could not be reached before anything was sent to it. Unlike other commit failures, this one
/// is a definite "nothing was written", so the caller may safely route the purchase elsewhere.
/// </summary>
public sealed class ShardDatabaseUnavailableException(int ordinal, Exception inner)
    : Exception($"Shard database {ordinal} is unavailable: {inner.Message}", inner);
