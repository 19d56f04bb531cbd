using System.Buffers;
using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Unicode;

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
    /// <remarks>
    /// The hex SHA-256 of the UTF-8 text <c>type\nquantity\nname\nemail</c>. Keys store it, so it must never change.
    /// Every keyed purchase computes it, so the text is encoded straight into one buffer instead of joined into a
    /// string and encoded again. The parts are encoded one by one, as Encoding.UTF8 would (an unpaired surrogate becomes
    /// U+FFFD), and the separators keep them apart, so the bytes are those of the joined text.
    /// </remarks>
    public string Fingerprint()
    {
        var length = Encoding.UTF8.GetMaxByteCount(TicketTypeId.Length + Buyer.Name.Length + Buyer.Email.Length) + MaxQuantityBytes + 3;
        var rented = length > StackBytes ? ArrayPool<byte>.Shared.Rent(length) : null;
        Span<byte> canonical = rented is null ? stackalloc byte[StackBytes] : rented;
        try
        {
            // The buffer was sized for the longest text, so a failure here is a sizing bug, not a value to hash short.
            if (!Utf8.TryWrite(canonical, CultureInfo.InvariantCulture, $"{TicketTypeId}\n{Quantity}\n{Buyer.Name}\n{Buyer.Email}", out var at))
            {
                throw new UnreachableException();
            }
            Span<byte> digest = stackalloc byte[SHA256.HashSizeInBytes];
            SHA256.HashData(canonical[..at], digest);
            return Convert.ToHexString(digest);
        }
        finally
        {
            if (rented is not null) ArrayPool<byte>.Shared.Return(rented);
        }
    }

    // The longest an int is written in (int.MinValue), and the text that fits on the stack.
    private const int MaxQuantityBytes = 11;
    private const int StackBytes = 512;
}
