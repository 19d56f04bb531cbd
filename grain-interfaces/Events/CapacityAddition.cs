namespace OrleansTickets.Events;

/// <summary>The result of adding tickets to a ticket type.</summary>
/// <param name="Status">How it ended.</param>
/// <param name="TransferId">The grant's id, when one was issued.</param>
/// <param name="ShardIndex">The shard that holds (or will hold) the new tickets.</param>
/// <param name="FirstSerial">First new serial.</param>
/// <param name="Quantity">Tickets added.</param>
/// <param name="Repeated">True when this is the grant an earlier request with the same key made, not a new one.</param>
[GenerateSerializer, Immutable]
public sealed record CapacityAddition(
    CapacityStatus Status, string? TransferId = null, int ShardIndex = -1, long FirstSerial = 0, long Quantity = 0, bool Repeated = false);
