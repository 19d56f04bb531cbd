using System.Collections.Immutable;

namespace OrleansTickets.Events;

/// <summary>What operators have granted a ticket type, as the catalog knows it now.</summary>
/// <param name="Pending">Tickets granted that no shard has taken in yet: unsold tickets of the type.</param>
/// <param name="AddedEver">
/// Every ticket ever granted to the type, delivered or not. It only grows, so two answers that differ show that a
/// grant was issued between them.
/// </param>
/// <param name="DeliveredByShard">
/// By shard index, tickets of the grants the catalog saw that shard take in. Each was taken in before the catalog heard
/// so, so a shard's report asked after this answer counts at least as many in its <see cref="Sales.ShardSales.GrantedIn"/>;
/// one that counts fewer is from before a take-in. Empty from an older catalog, which asks nothing.
/// </param>
[GenerateSerializer, Immutable]
public sealed record GrantedCapacity(long Pending, long AddedEver, ImmutableArray<long> DeliveredByShard = default)
{
    /// <summary>What the catalog saw shard <paramref name="index"/> take in (0 when it sent no count).</summary>
    public long DeliveredTo(int index) =>
        !DeliveredByShard.IsDefault && index >= 0 && index < DeliveredByShard.Length ? DeliveredByShard[index] : 0;
}
