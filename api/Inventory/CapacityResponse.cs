namespace OrleansTickets.Api.Inventory;

/// <summary>
/// Tickets added to a type: which serials, and which shard holds them. <c>Status</c> is <c>added</c> (on sale now)
/// or <c>pending</c> (granted durably; a shard takes them in once its database is back).
/// </summary>
public sealed record CapacityResponse(
    string EventId, string TicketTypeId, string Status, string GrantId, int Shard, long FirstSerial, long LastSerial, long Quantity);
