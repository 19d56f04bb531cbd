namespace OrleansTickets.Api.Inventory;

/// <summary>A drained shard: how many unsold tickets moved to other shards and how many stayed.</summary>
public sealed record DrainResponse(string EventId, string TicketTypeId, int Shard, long Moved, long Left);
