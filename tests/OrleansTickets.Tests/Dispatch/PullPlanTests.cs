using OrleansTickets.Dispatch;

namespace OrleansTickets.Tests.Dispatch;

/// <summary>
/// How a dispatcher plans a pull when no single shard can take an order: which shard receives, and which give.
/// </summary>
public sealed class PullPlanTests
{
    private const long Now = 1_000;
    private const long Marked = Now + 1;

    [Fact]
    public void The_fullest_available_shard_receives_and_the_next_fullest_give_enough_plus_two_spares()
    {
        long[] remaining = [1, 3, 0, 2, 1, 1, 1, 2];
        long[] until = [0, 0, 0, 0, 0, Marked, 0, 0];

        Assert.True(Plan(remaining, until, quantity: 6, out var receiver, out var donors));

        Assert.Equal(1, receiver);
        // 3 needed beyond the receiver's own: shards 3 and 7 (2 each, the lower index first), then two spares of 1;
        // shard 5 is out of routing.
        Assert.Equal([3, 7, 0, 4], donors);
    }

    [Fact]
    public void Too_few_tickets_across_the_available_shards_plan_nothing()
    {
        long[] remaining = [1, 1, 5];
        long[] until = [0, 0, Marked];

        Assert.False(Plan(remaining, until, quantity: 3, out var receiver, out var donors));
        Assert.Equal(-1, receiver);
        Assert.Empty(donors);
    }

    [Fact]
    public void The_shard_to_avoid_receives_only_when_no_other_can()
    {
        long[] remaining = [4, 0, 1];

        Assert.True(Plan(remaining, [0, 0, 0], quantity: 3, out var receiver, out var donors, avoid: 0));
        Assert.Equal(2, receiver);
        Assert.Equal([0], donors);

        Assert.True(Plan(remaining, [0, Marked, Marked], quantity: 3, out receiver, out donors, avoid: 0));
        Assert.Equal(0, receiver);
        Assert.Empty(donors);
    }

    [Fact]
    public void A_retired_shard_gives_but_never_receives_so_an_empty_shard_may()
    {
        long[] remaining = [0, 3, 0, 2];
        bool[] retired = [false, true, false, true];

        Assert.True(Plan(remaining, [0, 0, 0, 0], quantity: 4, out var receiver, out var donors, retired: retired));

        Assert.Equal(0, receiver);
        Assert.Equal([1, 3], donors);
    }

    [Fact]
    public void No_shard_that_may_receive_plans_nothing()
    {
        Assert.False(Plan([2, 2], [0, 0], quantity: 1, out var receiver, out _, retired: [true, true]));
        Assert.Equal(-1, receiver);
    }

    [Fact]
    public void Donors_that_tie_are_taken_from_the_first_donor_up_wrapping_round_while_the_receiver_stays()
    {
        long[] remaining = [1, 1, 1, 1, 1, 1];

        // 2 needed beyond the receiver's own, then the two spares: from shard 4 up, round to 1 (0 receives).
        Assert.True(Plan(remaining, new long[6], quantity: 3, out var receiver, out var donors, firstDonor: 4));
        Assert.Equal(0, receiver);
        Assert.Equal([4, 5, 1, 2], donors);

        Assert.True(Plan(remaining, new long[6], quantity: 3, out receiver, out donors, firstDonor: 2));
        Assert.Equal(0, receiver);
        Assert.Equal([2, 3, 4, 5], donors);
    }

    [Fact]
    public void A_fuller_donor_comes_before_those_that_tie_wherever_they_start()
    {
        long[] remaining = [3, 1, 1, 2, 1];

        Assert.True(Plan(remaining, new long[5], quantity: 6, out var receiver, out var donors, firstDonor: 2));

        Assert.Equal(0, receiver);
        Assert.Equal([3, 2, 4, 1], donors);
    }

    [Fact]
    public void A_planned_pull_counts_its_tickets_as_gone_from_its_donors_so_the_next_plan_names_others()
    {
        long[] remaining = [2, 1, 1, 1, 1, 1, 1, 1];

        Assert.True(Plan(remaining, new long[8], quantity: 4, out var receiver, out var donors));
        Assert.Equal([1, 2, 3, 4], donors);
        PullPlan.CountAsMoving(remaining, receiver, [.. donors], quantity: 4);

        // The receiver keeps its own 2 for the order and lacked 2 more: the first two donors give them, and the spares
        // keep theirs.
        Assert.Equal([0, 0, 0, 1, 1, 1, 1, 1], remaining);
        Assert.True(Plan(remaining, new long[8], quantity: 4, out receiver, out donors));
        Assert.Equal(3, receiver);
        Assert.Equal([4, 5, 6, 7], donors);
    }

    [Fact]
    public void A_donor_the_view_says_holds_less_than_is_lacking_gives_all_it_holds_and_the_next_the_rest()
    {
        long[] remaining = [3, 2, 1, 4, 1];

        PullPlan.CountAsMoving(remaining, receiver: 3, donors: [0, 1, 2, 4], quantity: 9);

        // The receiver's own 4, then the 5 lacking: all 3 of the first donor and 2 of the second; the rest keep theirs.
        Assert.Equal([0, 0, 1, 0, 1], remaining);

        // A view whose donors hold less than the order lacks (they sold meanwhile, say) lowers each to nothing.
        long[] scarce = [1, 1, 5];
        PullPlan.CountAsMoving(scarce, receiver: 2, donors: [0, 1], quantity: 9);
        Assert.Equal([0, 0, 0], scarce);
    }

    [Fact]
    public void Any_view_gets_the_plan_of_a_stable_sort_by_tickets()
    {
        // The plan walks the view instead of sorting it, up to a sort of the rest for large orders; these views hold
        // the ties, empty, retired and unavailable shards that make the two differ if either is wrong.
        var seed = Environment.TickCount;
        var random = new Random(seed);
        for (var view = 0; view < 25_000; view++)
        {
            // One view in five is a large order over many nearly dry shards: more donors than the plan walks to.
            var large = view % 5 == 0;
            var shards = large ? random.Next(20, 80) : random.Next(1, 24);
            var remaining = Enumerable.Range(0, shards).Select(_ => (long)random.Next(0, large ? 3 : 5) * random.Next(0, 2)).ToArray();
            var until = Enumerable.Range(0, shards).Select(_ => random.Next(4) == 0 ? Marked : Now - random.Next(2)).ToArray();
            var retired = Enumerable.Range(0, shards).Select(_ => random.Next(6) == 0).ToArray();
            var quantity = large ? random.Next(9, 60) : random.Next(1, 9);
            var avoid = random.Next(-1, shards);
            var firstDonor = random.Next(shards);

            var planned = PullPlan.TryPlan(remaining, until, retired, Now, quantity, avoid, firstDonor, out var receiver, out var donors);
            var expected = Sorted(remaining, until, retired, quantity, avoid, firstDonor, out var expectedReceiver, out var expectedDonors);

            var context = $"seed {seed}, view {view}: remaining [{string.Join(", ", remaining)}], unavailable " +
                $"[{string.Join(", ", until.Select(u => u > Now ? 1 : 0))}], retired [{string.Join(", ", retired.Select(r => r ? 1 : 0))}], " +
                $"quantity {quantity}, avoid {avoid}, first donor {firstDonor}";
            Assert.True(expected == planned, context);
            Assert.True(expectedReceiver == receiver, $"{context}: receiver {receiver}, expected {expectedReceiver}");
            Assert.True(expectedDonors.SequenceEqual(donors), $"{context}: donors [{string.Join(", ", donors)}], expected [{string.Join(", ", expectedDonors)}]");
        }
    }

    /// <summary>
    /// The plan as first written, by sorting: the fullest receives (the lowest index on ties), the next fullest give
    /// (on ties, from <paramref name="firstDonor"/> up, wrapping round).
    /// </summary>
    private static bool Sorted(long[] remaining, long[] until, bool[] retired, int quantity, int avoid, int firstDonor, out int receiver, out List<int> donors)
    {
        var indexes = Enumerable.Range(0, remaining.Length);
        var open = indexes.Where(i => remaining[i] >= 1 && until[i] <= Now).OrderByDescending(i => remaining[i])
            .ThenBy(i => (i - firstDonor + remaining.Length) % remaining.Length).ToList();
        receiver = indexes.Where(i => !retired[i] && until[i] <= Now).OrderBy(i => i == avoid).ThenByDescending(i => remaining[i]).FirstOrDefault(-1);
        donors = [];
        if (receiver < 0 || open.Sum(i => remaining[i]) < quantity)
        {
            receiver = -1;
            return false;
        }
        var needed = quantity - remaining[receiver];
        var spares = PullPlan.SpareDonors;
        foreach (var index in open)
        {
            if (index == receiver) continue;
            if (needed <= 0 && spares-- <= 0) break;
            donors.Add(index);
            needed -= remaining[index];
        }
        return true;
    }

    private static bool Plan(long[] remaining, long[] until, int quantity, out int receiver, out int[] donors, int avoid = -1, bool[]? retired = null,
        int firstDonor = 0)
    {
        var planned = PullPlan.TryPlan(remaining, until, retired ?? new bool[remaining.Length], Now, quantity, avoid, firstDonor, out receiver, out var picked);
        donors = [.. picked];
        return planned;
    }
}
