namespace OrleansTickets.Events;

/// <summary>Everything a shard grain needs to know about itself, fixed when its event was created.</summary>
/// <param name="Address">Which shard.</param>
/// <param name="Block">The serials it owns.</param>
/// <param name="DatabaseOrdinal">Which shard database holds its ledger.</param>
/// <param name="UnitPrice">Price per ticket.</param>
/// <param name="Currency">ISO 4217 code.</param>
/// <param name="MaxPerOrder">The most tickets of its type one order may take.</param>
[GenerateSerializer, Immutable]
public sealed record ShardPlacement(
    ShardAddress Address, SerialBlock Block, int DatabaseOrdinal, decimal UnitPrice, string Currency, int MaxPerOrder);
