using System.Collections.Immutable;
using System.Text.Json.Serialization;

namespace OrleansTickets.Sales;

/// <summary>Sales of one ticket type, shard by shard.</summary>
/// <param name="Id">The ticket type.</param>
/// <param name="Capacity">The tickets the type holds now: its shards' and those moving between them.</param>
/// <param name="Sold">Tickets sold.</param>
/// <param name="Remaining">Tickets unsold.</param>
/// <param name="Shards">Each shard's own report.</param>
/// <param name="MissesGrants">
/// True when a shard's report counts fewer tickets taken in from operators' grants than the catalog saw it take in
/// (<see cref="ShardSales.GrantedIn"/>). Not in the JSON: <see cref="Known"/> says it.
/// </param>
[GenerateSerializer, Immutable]
public sealed record TicketTypeSales(
    string Id, long Capacity, long Sold, long Remaining, ImmutableArray<ShardSales> Shards, [property: JsonIgnore] bool MissesGrants = false)
{
    /// <summary>
    /// False when a shard's report is not (<see cref="ShardSales.Known"/>: it could not read its database since it
    /// started, or could not learn where it lives, or a newer activation replaced it and it knows so), or when the
    /// reports leave out a grant the catalog saw taken in (<see cref="MissesGrants"/>: a replaced activation that does
    /// not know so yet). The totals then rest on a guess or on counts that may be out of date, and are no statement of
    /// the type's sales.
    /// </summary>
    /// <remarks>
    /// Worked out from the shards, not sent: Orleans fills a record without running its constructor, so a field of
    /// its own, missing from what a silo of an older build sent, would read false, and every type would look uncounted
    /// while two builds ran. <see cref="MissesGrants"/> reads false when missing, which is the old answer.
    /// </remarks>
    public bool Known => !MissesGrants && (Shards.IsDefaultOrEmpty || Shards.All(shard => shard.Known));
}
