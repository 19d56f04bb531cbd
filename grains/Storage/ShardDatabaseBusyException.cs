namespace OrleansTickets.Storage;

/// <summary>
/// A lookup (an order page, an export page) waited its longest for one of the shard database's lookup connections
/// (<see cref="ShardDatabase.LookUpAsync{T}"/>): lookups are keeping it busy. Nothing was read; asking again shortly is
/// the answer.
/// </summary>
public sealed class ShardDatabaseBusyException(int ordinal, TimeSpan waited)
    : Exception($"Shard database {ordinal} had no connection free for lookups within {waited.TotalSeconds:0.#} s.");
