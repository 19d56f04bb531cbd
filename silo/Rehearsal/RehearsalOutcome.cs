namespace OrleansTickets.Silo.Rehearsal;

/// <summary>What a rehearsal sold, and whether the sale it read back matches what buyers were told.</summary>
/// <param name="Tickets">Tickets in 201 responses.</param>
/// <param name="Orders">201 responses.</param>
/// <param name="Rejected">409, 503 and other non-201 answers along the way (sold-out types, back-pressure).</param>
/// <param name="Exact">
/// True when <c>/sales</c> reports every type sold out at exactly its capacity, and that total equals
/// <paramref name="Tickets"/>: no oversell, no lost order.
/// </param>
public sealed record RehearsalOutcome(long Tickets, long Orders, long Rejected, bool Exact);
