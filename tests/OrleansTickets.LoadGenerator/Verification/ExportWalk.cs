namespace OrleansTickets.LoadGenerator.Verification;

/// <summary>
/// What a walk of the back office's export handed over: its orders, and the tickets its last page says the event's
/// shards had sold (null when the page did not say).
/// </summary>
public sealed record ExportWalk(IReadOnlyList<AcknowledgedOrder> Orders, long? TicketsSold);
