namespace OrleansTickets.LoadGenerator.Verification;

/// <summary>A page of the back office's export (<c>GET /api/events/{id}/orders</c>); only what the audit compares.</summary>
public sealed record ExportPage(string EventId, IReadOnlyList<AcknowledgedOrder> Orders, string? Next);
