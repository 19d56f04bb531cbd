using OrleansTickets.Sales;

namespace OrleansTickets.Tests.Sales;

/// <summary>
/// Counting a type's unsold tickets from shard reports taken at different moments, while a gift of 3 tickets moves
/// from donor D (10 of its own) to receiver R (5 of its own): every pairing of D's and R's moments counts 15.
/// </summary>
public sealed class ShardCountsTests
{
    private static readonly ShardSales DonorBefore = Report(0, remaining: 10);
    private static readonly ShardSales DonorInTransit = Report(0, remaining: 7, inTransit: 3);
    private static readonly ShardSales DonorSettled = Report(0, remaining: 7, settled: 3);
    private static readonly ShardSales ReceiverBefore = Report(1, remaining: 5);
    private static readonly ShardSales ReceiverAfter = Report(1, remaining: 8, takenIn: 3);

    public static TheoryData<string, ShardSales, ShardSales> Moments() => new()
    {
        { "donor before, receiver before", DonorBefore, ReceiverBefore },
        { "donor before, receiver after (plain sum counts the gift twice)", DonorBefore, ReceiverAfter },
        { "in transit, receiver before", DonorInTransit, ReceiverBefore },
        { "in transit, receiver after (twice)", DonorInTransit, ReceiverAfter },
        { "settled, receiver after", DonorSettled, ReceiverAfter },
        { "settled, receiver before (plain sum misses the gift)", DonorSettled, ReceiverBefore },
    };

    [Theory, MemberData(nameof(Moments))]
    public void Every_pairing_of_moments_counts_each_gift_once(string moments, ShardSales donor, ShardSales receiver)
    {
        Assert.True(ShardCounts.Unsold([donor, receiver]) == 15, moments);
    }

    [Fact]
    public void A_gift_taken_back_counts_once_and_sales_count_as_sold()
    {
        // D gave 3, the receiver refused them, D took them back (its own take-in and settling), then sold 2.
        var donor = Report(0, remaining: 8, takenIn: 3, settled: 3);
        Assert.Equal(13, ShardCounts.Unsold([donor, ReceiverBefore]));
    }

    [Fact]
    public void Totals_from_earlier_gifts_cancel_out()
    {
        // An earlier gift of 4 from R to D, long settled, sits in both reports' totals.
        var donor = Report(0, remaining: 14, takenIn: 4);
        var receiver = Report(1, remaining: 1, settled: 4);
        Assert.Equal(15, ShardCounts.Unsold([donor, receiver]));
    }

    [Fact]
    public void A_report_below_what_the_catalog_saw_its_shard_take_in_from_grants_is_behind_and_no_other()
    {
        var reports = new[] { Report(0, remaining: 5) with { GrantedIn = 2 }, Report(1, remaining: 5) with { GrantedIn = 3 }, Report(2, remaining: 5) };

        // Shard 0 took in 2 and the catalog saw 2; shard 1 reports 3 of the 4 the catalog saw (from before a take-in);
        // shard 2 is past the catalog's counts (none seen).
        Assert.Equal([1], ShardCounts.BehindGrants(reports, [2, 4]).Select(r => r.Index));
        // Surplus on one shard does not hide another's shortfall.
        Assert.Equal([1], ShardCounts.BehindGrants(reports, [0, 4, 0]).Select(r => r.Index));
        // A catalog that sent no counts asks nothing.
        Assert.Empty(ShardCounts.BehindGrants(reports, default));
        Assert.Empty(ShardCounts.BehindGrants(reports, []));
    }

    private static ShardSales Report(int index, long remaining, long inTransit = 0, long takenIn = 0, long settled = 0) =>
        new(index, Capacity: remaining, Sold: 0, remaining, ShardStatus.Open, inTransit, takenIn, settled);
}
