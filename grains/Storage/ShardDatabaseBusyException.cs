namespace OrleansTickets.Storage;

/// <summary>
/// A lookup (an order page, an export page) found the shard database's lookup connections taken and too many lookups
/// already waiting for them, or waited its longest for one (<see cref="ShardDatabase.LookUpAsync{T}"/>). Nothing was
/// read; asking again shortly is the answer.
/// </summary>
public sealed class ShardDatabaseBusyException(int ordinal, string reason)
    : Exception($"Shard database {ordinal} is busy with lookups: {reason}.");
