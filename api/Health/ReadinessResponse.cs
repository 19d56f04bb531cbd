namespace OrleansTickets.Api.Health;

/// <summary>A server that takes purchases: <c>status</c> is <c>ready</c>.</summary>
public sealed record ReadinessResponse(string Status);
