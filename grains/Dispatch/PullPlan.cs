using System.Collections.Immutable;

namespace OrleansTickets.Dispatch;

/// <summary>
/// Plans a pull from a dispatcher's view of one ticket type's shards: the available shard with the most tickets (not
/// retired; an empty one if need be; and the one to avoid only when no other can) receives, and the next fullest give,
/// enough of them to cover the order plus <see cref="SpareDonors"/> more.
/// </summary>
/// <remarks>
/// <para>
/// Every dispatcher with the same view picks the same receiver and donors: ties go to the lower shard index. So
/// concurrent pulls gather tickets in one place instead of scattering them.
/// </para>
/// <para>
/// Pulls are planned at the end of a sale, by every buyer that no single shard can serve, after each refresh, over
/// every shard of the type (400 in the festival's general admission). So the plan walks the view a few times and
/// sorts nothing: each donor is the fullest one after the donor before it, in the order (most tickets, lowest index).
/// </para>
/// </remarks>
internal static class PullPlan
{
    /// <summary>Donors named beyond those that cover the order, in case some of them sold meanwhile.</summary>
    public const int SpareDonors = 2;

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
    /// <param name="receiver">The shard that pulls and sells; -1 when none can.</param>
    /// <param name="donors">The shards it pulls from, fullest first.</param>
    /// <remarks>
    /// A drained shard left holding tickets (its drain could not place them all) may be the fullest, but it refuses
    /// every gift: chosen as receiver, it sent each donor's tickets back until the buyer's patience ran out, every time.
    /// As a donor it gives like any other.
    /// </remarks>
    public static bool TryPlan(
        ReadOnlySpan<long> remaining, ReadOnlySpan<long> unavailableUntil, ReadOnlySpan<bool> retired, long now,
        int quantity, int avoid, out int receiver, out ImmutableArray<int> donors)
    {
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
        if (receiver < 0 || open < quantity) return false;

        var needed = quantity - remaining[receiver];
        var picked = ImmutableArray.CreateBuilder<int>();
        var spares = SpareDonors;
        // The last donor picked: the next is the fullest shard after it in the order (most tickets, lowest index).
        var (lastTickets, lastIndex) = (long.MaxValue, -1);
        while (needed > 0 || spares-- > 0)
        {
            var next = -1;
            for (var index = 0; index < remaining.Length; index++)
            {
                var tickets = remaining[index];
                if (index == receiver || tickets < 1 || unavailableUntil[index] > now) continue;
                if (tickets > lastTickets || (tickets == lastTickets && index <= lastIndex)) continue;
                // The scan goes up by index, so a tie keeps the lower index already found.
                if (next < 0 || tickets > remaining[next]) next = index;
            }
            if (next < 0) break;
            picked.Add(next);
            needed -= remaining[next];
            (lastTickets, lastIndex) = (remaining[next], next);
        }
        donors = picked.ToImmutable();
        return true;
    }

    /// <summary>Whether <paramref name="index"/> comes before <paramref name="best"/> as receiver.</summary>
    private static bool Before(int index, int best, ReadOnlySpan<long> remaining, int avoid)
    {
        if ((index == avoid) != (best == avoid)) return best == avoid;
        // Scanned up by index: a tie keeps the lower index already found.
        return remaining[index] > remaining[best];
    }
}
