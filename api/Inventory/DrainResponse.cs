namespace OrleansTickets.Api.Inventory;

/// <summary>
/// A drained shard: how many unsold tickets moved to other shards, how many are on their way to one that has not
/// confirmed them yet, and how many stayed. The shard is empty once <c>inTransit</c> and <c>left</c> are both 0.
/// </summary>
public sealed record DrainResponse(string EventId, string TicketTypeId, int Shard, long Moved, long InTransit, long Left);
