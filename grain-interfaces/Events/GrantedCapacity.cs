namespace OrleansTickets.Events;

/// <summary>What operators have granted a ticket type, as the catalog knows it now.</summary>
/// <param name="Pending">Tickets granted that no shard has taken in yet: unsold tickets of the type.</param>
/// <param name="AddedEver">
/// Every ticket ever granted to the type, delivered or not. It only grows, so two answers that differ show that a
/// grant was issued between them.
/// </param>
[GenerateSerializer, Immutable]
public sealed record GrantedCapacity(long Pending, long AddedEver);
