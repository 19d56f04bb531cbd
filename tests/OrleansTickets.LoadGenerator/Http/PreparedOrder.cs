using System.Text.Json;

namespace OrleansTickets.LoadGenerator.Http;

/// <summary>
/// One purchase, serialized once: every retry sends the same bytes with the same key, which is what lets the
/// service recognise it and never make a second order.
/// </summary>
public sealed record PreparedOrder(string TicketTypeId, int Quantity, string IdempotencyKey, byte[] Body, BuyerBody? Buyer = null)
{
    public static PreparedOrder Create(string ticketTypeId, int quantity, int buyerNumber)
    {
        var body = new OrderBody(ticketTypeId, quantity, new BuyerBody($"Buyer {buyerNumber}", $"buyer-{buyerNumber}@example.test"));
        return new PreparedOrder(ticketTypeId, quantity, Guid.NewGuid().ToString("N"),
            JsonSerializer.SerializeToUtf8Bytes(body, LoadJsonContext.Default.OrderBody), body.Buyer);
    }
}
