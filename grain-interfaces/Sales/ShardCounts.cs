using System.Collections.Immutable;

namespace OrleansTickets.Sales;

/// <summary>The unsold tickets of one ticket type, from its shards' reports.</summary>
public static class ShardCounts
{
    /// <summary>
    /// What the type's shards hold unsold, counting gifts between shards exactly once although the reports were
    /// taken at different moments.
    /// </summary>
    /// <remarks>
    /// <para>
    /// A gift of q tickets from donor D to receiver R passes through three moments: D records it (from then on it is
    /// in D's <c>InTransit</c>, not its <c>Remaining</c>), R takes it in (R's <c>Remaining</c> and <c>TakenIn</c> grow
    /// by q), and D hears so (q leaves D's <c>InTransit</c> and joins its <c>Settled</c>). Reports are asked of all
    /// shards at once but answered one by one, so D's report may come from after the gift settled while R's comes from
    /// before R took it in: then neither counts q. Or R's from after and D's from before: both count it.
    /// </para>
    /// <para>
    /// For each gift, the error of the plain sum (<c>Remaining + InTransit</c>) is exactly q times (R's report after
    /// the take-in) minus (D's report after the settling): −q, 0 or +q in every combination. Summed over gifts, the
    /// error is the reports' total <c>TakenIn</c> minus their total <c>Settled</c>, so subtracting that gives the
    /// count at no single moment's cost. A gift taken back is its donor's own take-in and settling, in one commit, so
    /// it cancels out. Tickets added by operators are not gifts between shards and are not in either total.
    /// </para>
    /// </remarks>
    public static long Unsold(IEnumerable<ShardSales> shards)
    {
        long unsold = 0;
        foreach (var shard in shards) unsold += shard.Remaining + shard.InTransit - shard.TakenIn + shard.Settled;
        return unsold;
    }

    /// <summary>
    /// The reports whose <see cref="ShardSales.GrantedIn"/> is below what the catalog saw their shard take in from
    /// operators' grants (<paramref name="deliveredByShard"/>, by shard index; empty or default when it sent none).
    /// Each is from before a take-in, which <see cref="Unsold"/> cannot correct for: no count may rest on it.
    /// </summary>
    public static List<ShardSales> BehindGrants(IEnumerable<ShardSales> shards, ImmutableArray<long> deliveredByShard) =>
        deliveredByShard.IsDefaultOrEmpty
            ? []
            : [.. shards.Where(shard => shard.Index >= 0 && shard.Index < deliveredByShard.Length && shard.GrantedIn < deliveredByShard[shard.Index])];
}
