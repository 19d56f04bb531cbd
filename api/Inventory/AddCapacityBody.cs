namespace OrleansTickets.Api.Inventory;

/// <summary>The body of <c>POST /api/events/{eventId}/ticket-types/{typeId}/capacity</c>.</summary>
/// <param name="Quantity">Tickets to add.</param>
/// <param name="Shard">The shard to give them to; omitted, the catalog rotates over the type's shards.</param>
public sealed record AddCapacityBody(long? Quantity, int? Shard);
