using OrleansTickets.Sales;

namespace OrleansTickets.Dispatch;

/// <summary>
/// What a refresh that heard every shard of a ticket type learned when each of them said it was drained: such
/// tickets can never come together again, so no order larger than <see cref="Largest"/> can sell.
/// </summary>
/// <param name="Largest">
/// The most tickets any one shard can ever hold again: its count plus its gifts in transit, reserved tickets included.
/// An upper bound, which is what "no larger order can sell" needs.
/// </param>
/// <param name="Free">
/// Tickets the shards held that no commit in flight had reserved: a lower bound on what is left, as "enough tickets
/// are left, only not on one shard" needs. Reserved tickets are mostly about to be sold; counting them, a buyer was
/// told an order of 3 could still sell while the last 3 were committing to another buyer.
/// </param>
/// <remarks>
/// Tickets enter a shard as another shard's gift, as an operator's grant, or as its own gift taken back. A drained
/// shard refuses the first two for good: its drain is stored, a batch that commits the drain skips the take-ins queued
/// with it, a twin activation that read its row before the drain is fenced, and the drain is never undone. So from its
/// report on, a shard that said it was drained can only take its own gifts back: it never holds more than its count
/// and its gifts in transit then. A gift it sends later leaves before it can come back, and a grant the catalog has
/// pending or issues later is refused by every shard and withdrawn (which is also why pending grants are not unsold
/// once every shard is drained). <see cref="Free"/> of at least one order implies <see cref="Largest"/> of at least 1.
/// </remarks>
internal readonly record struct DrainedType(long Largest, long Free)
{
    /// <summary>The counts when every report says its shard was drained; null when any does not, or there are none.</summary>
    public static DrainedType? Of(IReadOnlyList<ShardSales> reports)
    {
        if (reports.Count == 0) return null;
        long largest = 0, free = 0;
        foreach (var report in reports)
        {
            if (!report.Retired) return null;
            largest = Math.Max(largest, report.Remaining + report.InTransit);
            free += Math.Max(0, report.Remaining - report.Reserved);
        }
        return new DrainedType(largest, free);
    }
}
