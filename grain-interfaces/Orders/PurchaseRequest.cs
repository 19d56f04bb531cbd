using System.Security.Cryptography;
using System.Text;

namespace OrleansTickets.Orders;

/// <summary>A buyer's validated request for tickets of one type.</summary>
/// <param name="EventId">The event.</param>
/// <param name="TicketTypeId">The ticket type.</param>
/// <param name="Quantity">How many tickets, 1..MaxPerOrder.</param>
/// <param name="Buyer">Who buys.</param>
/// <param name="IdempotencyKey">The client's retry key, or null for a one-shot request.</param>
[GenerateSerializer, Immutable]
public sealed record PurchaseRequest(string EventId, string TicketTypeId, int Quantity, Buyer Buyer, string? IdempotencyKey)
{
    /// <summary>
    /// A digest of everything that makes two requests "the same body". A retry with the same idempotency
    /// key must carry the same fingerprint, otherwise it is refused as a conflict.
    /// </summary>
    public string Fingerprint()
    {
        var canonical = string.Join('\n', TicketTypeId, Quantity.ToString(System.Globalization.CultureInfo.InvariantCulture), Buyer.Name, Buyer.Email);
        return Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(canonical)));
    }
}
