namespace OrleansTickets.LoadGenerator.Verification;

/// <summary>An order the service acknowledged (201, or 200 on replay), read straight from its response body.</summary>
public sealed record AcknowledgedOrder(string OrderId, string TicketTypeId, int Quantity, IReadOnlyList<IssuedTicket> Tickets)
{
    /// <summary>
    /// What the buyer asked for, when known: an answer for another type or quantity would agree with <c>/sales</c>
    /// (which counts what was sold) and pass every other check. In the bodies another client saved, the request their
    /// buyer states (<see cref="StatedRequest"/>), or null when it states none.
    /// </summary>
    public OrderRequested? Requested { get; init; }

    /// <summary>
    /// The buyer the answer (or the export) names, which the back office processes after the sale; null in bodies
    /// written without one.
    /// </summary>
    public OrderBuyer? Buyer { get; init; }
}
