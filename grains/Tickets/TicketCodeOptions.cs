namespace OrleansTickets.Tickets;

/// <summary>The per-deployment secret behind ticket codes. Bound from the <c>Tickets</c> configuration section.</summary>
public sealed class TicketCodeOptions
{
    /// <summary>The configuration section name.</summary>
    public const string SectionName = "Tickets";

    /// <summary>Base64 HMAC key, at least 32 bytes. Every silo of a deployment must share it.</summary>
    public string? SigningKey { get; set; }
}
