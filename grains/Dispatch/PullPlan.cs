using System.Collections.Immutable;

namespace OrleansTickets.Dispatch;

/// <summary>
/// Plans a pull from a dispatcher's view of one ticket type's shards: the available shard with the most tickets (not
/// retired; an empty one if need be; and the one to avoid only when no other can) receives, and the next fullest give,
/// enough of them to cover the order plus <see cref="SpareDonors"/> more.
/// </summary>
/// <remarks>
/// <para>
/// Every dispatcher with the same view picks the same receiver: ties go to the lower shard index. So concurrent pulls
/// gather tickets in one place instead of scattering them. Donors that tie are taken from a place in the index order
/// that each plan draws at random (<c>firstDonor</c>), so that concurrent pulls ask different shards. With one shared
/// order every pull asked the same donors in turn, the first took their tickets, and the others found them empty and
/// failed: with many shards of a ticket or two each, every order needs a pull, and the sale ran at one pull at a time.
/// </para>
/// <para>
/// Pulls are planned at the end of a sale, by every buyer that no single shard can serve, over every shard of the
/// type (400 in the festival's general admission). So the plan sorts nothing for an order of a few tickets: one walk
/// of the view finds the receiver, then each donor is the fullest shard after the donor before it, in the order (most
/// tickets, then from <c>firstDonor</c> up), one walk each.
/// </para>
/// </remarks>
internal static class PullPlan
{
    /// <summary>Donors named beyond those that cover the order, in case some of them sold meanwhile.</summary>
    public const int SpareDonors = 2;

    // Donors found by a walk each; any more come from one sort of the rest. A walk per donor is the cheapest way to the
    // few that an order of a handful needs, but a large order over many nearly dry shards would walk the whole view
    // once per donor (a hundred tickets from shards holding one each).
    private const int WalkedDonors = 8;

    /// <summary>
    /// Plans a pull of <paramref name="quantity"/> tickets; false when the available shards together hold fewer, or no
    /// shard can receive.
    /// </summary>
    /// <param name="remaining">The view: each shard's tickets by the last word from it.</param>
    /// <param name="unavailableUntil">Until when each shard is out of routing (a timestamp); available when at or before <paramref name="now"/>.</param>
    /// <param name="retired">Shards a drain retired: they give, but take nothing in, so none of them receives.</param>
    /// <param name="now">The current timestamp, in the units of <paramref name="unavailableUntil"/>.</param>
    /// <param name="quantity">The order's tickets.</param>
    /// <param name="avoid">A shard to pick as receiver only when no other can (the home of a keyed order, which forwards); -1 for none.</param>
    /// <param name="firstDonor">Where donors that hold as many tickets as each other start: the lowest index from it upwards, wrapping round, comes first.</param>
    /// <param name="receiver">The shard that pulls and sells; -1 when none can.</param>
    /// <param name="donors">The shards it pulls from, fullest first.</param>
    /// <remarks>
    /// <para>
    /// A drained shard left holding tickets (its drain could not place them all) may be the fullest, but it refuses
    /// every gift: chosen as receiver, it sent each donor's tickets back until the buyer's patience ran out, every time.
    /// As a donor it gives like any other.
    /// </para>
    /// <para>The view's counts are never negative (a dispatcher clamps them at 0): the sum of the available tickets relies on it.</para>
    /// </remarks>
    public static bool TryPlan(
        ReadOnlySpan<long> remaining, ReadOnlySpan<long> unavailableUntil, ReadOnlySpan<bool> retired, long now,
        int quantity, int avoid, int firstDonor, out int receiver, out ImmutableArray<int> donors)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(firstDonor);
        if (remaining.Length > 0) ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(firstDonor, remaining.Length);
        var order = new DonorOrder(remaining.Length, firstDonor);
        donors = [];
        receiver = -1;
        long open = 0;
        for (var index = 0; index < remaining.Length; index++)
        {
            if (unavailableUntil[index] > now) continue;
            open += remaining[index];
            // An empty shard will do when only drained ones hold tickets: it can take them in.
            if (retired[index]) continue;
            if (receiver < 0 || Before(index, receiver, remaining, avoid)) receiver = index;
        }
        if (receiver < 0 || open < quantity)
        {
            receiver = -1;
            return false;
        }

        var needed = quantity - remaining[receiver];
        var picked = ImmutableArray.CreateBuilder<int>();
        var spares = SpareDonors;
        // The last donor picked: the next is the fullest shard after it in the order (most tickets, then rank).
        var (lastTickets, lastIndex) = (long.MaxValue, -1);
        (long Tickets, int Index)[]? rest = null;
        var restAt = 0;
        while (true)
        {
            int next;
            if (picked.Count < WalkedDonors)
            {
                next = NextAfter(remaining, unavailableUntil, now, receiver, order, lastTickets, lastIndex);
            }
            else
            {
                rest ??= SortedAfter(remaining, unavailableUntil, now, receiver, order, lastTickets, lastIndex);
                next = restAt < rest.Length ? rest[restAt++].Index : -1;
            }
            if (next < 0 || (needed <= 0 && spares-- <= 0)) break;
            picked.Add(next);
            needed -= remaining[next];
            (lastTickets, lastIndex) = (remaining[next], next);
        }
        donors = picked.ToImmutable();
        return true;
    }

    /// <summary>
    /// Lowers the view by what a planned pull will take: the receiver's own tickets, which it reserves for the order,
    /// then each donor in turn by as many as the order still lacks (spares by none, as the donors before them cover
    /// it). So plans made next, while this pull runs, count neither, and name other donors than the ones it is emptying.
    /// </summary>
    public static void CountAsMoving(Span<long> remaining, int receiver, ImmutableArray<int> donors, int quantity)
    {
        var own = Math.Min(quantity, remaining[receiver]);
        remaining[receiver] -= own;
        var needed = quantity - own;
        foreach (var donor in donors)
        {
            if (needed <= 0) return;
            var given = Math.Min(needed, remaining[donor]);
            remaining[donor] -= given;
            needed -= given;
        }
    }

    /// <summary>The fullest donor after (<paramref name="lastTickets"/>, <paramref name="lastIndex"/>) in the order; -1 if none.</summary>
    private static int NextAfter(
        ReadOnlySpan<long> remaining, ReadOnlySpan<long> unavailableUntil, long now, int receiver, DonorOrder order, long lastTickets, int lastIndex)
    {
        var next = -1;
        for (var rank = 0; rank < remaining.Length; rank++)
        {
            var index = order.IndexAt(rank);
            if (!GivesAfter(index, remaining, unavailableUntil, now, receiver, order, lastTickets, lastIndex)) continue;
            // The scan goes up by rank, so a tie keeps the donor already found.
            if (next < 0 || remaining[index] > remaining[next]) next = index;
        }
        return next;
    }

    /// <summary>Every donor after (<paramref name="lastTickets"/>, <paramref name="lastIndex"/>), in the order.</summary>
    private static (long Tickets, int Index)[] SortedAfter(
        ReadOnlySpan<long> remaining, ReadOnlySpan<long> unavailableUntil, long now, int receiver, DonorOrder order, long lastTickets, int lastIndex)
    {
        var count = 0;
        for (var index = 0; index < remaining.Length; index++)
        {
            if (GivesAfter(index, remaining, unavailableUntil, now, receiver, order, lastTickets, lastIndex)) count++;
        }
        var sorted = new (long Tickets, int Index)[count];
        count = 0;
        for (var index = 0; index < remaining.Length; index++)
        {
            if (GivesAfter(index, remaining, unavailableUntil, now, receiver, order, lastTickets, lastIndex)) sorted[count++] = (remaining[index], index);
        }
        Array.Sort(sorted, (a, b) => a.Tickets != b.Tickets ? b.Tickets.CompareTo(a.Tickets) : order.RankOf(a.Index).CompareTo(order.RankOf(b.Index)));
        return sorted;
    }

    /// <summary>
    /// Whether shard <paramref name="index"/> can give (available, holding a ticket, not the receiver) and comes after
    /// (<paramref name="lastTickets"/>, <paramref name="lastIndex"/>) in the order (most tickets, then rank).
    /// </summary>
    private static bool GivesAfter(
        int index, ReadOnlySpan<long> remaining, ReadOnlySpan<long> unavailableUntil, long now, int receiver, DonorOrder order,
        long lastTickets, int lastIndex)
    {
        var tickets = remaining[index];
        if (index == receiver || tickets < 1 || unavailableUntil[index] > now) return false;
        return tickets < lastTickets || (tickets == lastTickets && order.RankOf(index) > order.RankOf(lastIndex));
    }

    /// <summary>Ranks shard indexes for donors' ties: <c>first</c> ranks 0, the indexes above it follow, then those below.</summary>
    private readonly record struct DonorOrder(int Shards, int First)
    {
        public int IndexAt(int rank) => rank < Shards - First ? First + rank : rank - (Shards - First);

        // -1 (no donor picked yet) ranks before every shard.
        public int RankOf(int index) => index < 0 ? -1 : index >= First ? index - First : index + (Shards - First);
    }

    /// <summary>Whether <paramref name="index"/> comes before <paramref name="best"/> as receiver.</summary>
    private static bool Before(int index, int best, ReadOnlySpan<long> remaining, int avoid)
    {
        if ((index == avoid) != (best == avoid)) return best == avoid;
        // Scanned up by index: a tie keeps the lower index already found.
        return remaining[index] > remaining[best];
    }
}
