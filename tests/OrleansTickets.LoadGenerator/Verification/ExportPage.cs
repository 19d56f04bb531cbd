namespace OrleansTickets.LoadGenerator.Verification;

/// <summary>
/// A page of the back office's export (<c>GET /api/events/{id}/orders</c>); only what the audit compares.
/// <see cref="TicketsSold"/> and <see cref="Resume"/> are on the last page: the tickets the event had sold when the walk
/// ended, and the cursor that later gives the orders saved since.
/// </summary>
public sealed record ExportPage(string EventId, IReadOnlyList<AcknowledgedOrder> Orders, string? Next, long? TicketsSold = null, string? Resume = null);
