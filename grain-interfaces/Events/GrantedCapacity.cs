namespace OrleansTickets.Events;

/// <summary>What operators have granted a ticket type, as the catalog knows it now.</summary>
/// <param name="Pending">Tickets granted that no shard has taken in yet: unsold tickets of the type.</param>
/// <param name="AddedEver">
/// Every ticket ever granted to the type, delivered or not. It only grows, so two answers that differ show that a
/// grant was issued between them.
/// </param>
/// <param name="Delivered">
/// Tickets of the grants the catalog saw a shard take in. Each was taken in before the catalog heard so, so shards'
/// reports asked after this answer count at least this many in their <see cref="Sales.ShardSales.GrantedIn"/>;
/// reports that count fewer include one from before a take-in. An older catalog sends none: 0, which asks nothing.
/// </param>
[GenerateSerializer, Immutable]
public sealed record GrantedCapacity(long Pending, long AddedEver, long Delivered = 0);
