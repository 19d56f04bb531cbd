using System.Collections.Immutable;
using OrleansTickets.Orders;

namespace OrleansTickets.Dispatch;

/// <summary>
/// The activation's view of the type's shards: what each was last seen to hold, which are unavailable or retired, and
/// the routing it gives (a shard for a keyless order, candidates for a home's forward, a pull's receiver and donors).
/// </summary>
public sealed partial class PurchaseDispatcherGrain
{
    // What each shard of the type (by index) was last seen to hold: a hint for routing, never trusted for a sale.
    private long[] _remaining = [];
    // Deadlines and "unavailable until" marks are monotonic timestamps (see Now): a wall clock stepped back by NTP or
    // a resumed VM would stretch a buyer's patience, and keep a shard out of routing, for the length of the step.
    private long[] _unavailableUntil = [];

    // Shards a drain retired, as refreshes found them (for good: nothing un-drains a shard). They still sell and give
    // what they hold, but take nothing in, so a pull must not pick one as its receiver.
    private bool[] _retired = [];

    // Purchases in flight at each shard from this silo's dispatchers of the type, and the shards silent with them
    // (see ShardPurchaseWatch): skipped like unavailable ones while they stay silent.
    private ShardPurchaseWatch? _watch;

    private const int CandidatesPerCall = 8;

    // How many pulls one purchase may plan from a fresh view (ViewIsFresh) before it refreshes instead. A pull that fails
    // (its donors emptied by other buyers' pulls since the view was filled) leaves the view lowered by what it planned to
    // take (PullPlan.CountAsMoving) and its receiver at the count it answered with, so the next plan leans on other
    // donors (a spare it named, which the plan did not count on, may be named again); a refresh asks every shard of the
    // type. With 2,048 one-ticket shards, one view pull per purchase left most
    // refreshes to purchases whose one pull had failed; three cut the service's CPU per order by a third in cold A/Bs,
    // and eight gained little more (docs/benchmarks.md, fifty-eighth and fifty-ninth sessions; the festival, which
    // rarely gets here, was no slower for it). Each failed pull costs its gifts' commits, and what it gathered stays on
    // its receiver, where the next plan finds it.
    private const int MaxViewPulls = 3;

    // When the last refresh replaced the view with the shards' own counts; null before the first. A purchase plans a
    // pull from the view without refreshing first only within UnavailableFor of it, while the shards that refresh did
    // not hear are still marked unavailable: a pull names its donors, and asks them one after another, each for up to
    // 2 s, so a donor on a silo that froze since the view was filled held the buyer past its patience, to "outcome
    // unknown". Before the first refresh the view holds the blocks the shards started with, which after a sale (a silo
    // that joined late, an activation started afresh) are far fuller than the shards, and show none of them drained.
    private long? _viewRefreshedAt;

    /// <summary>Whether a pull may be planned from the view without a refresh first (see <c>_viewRefreshedAt</c>).</summary>
    private bool ViewIsFresh => _viewRefreshedAt is { } at && Now - at < Ticks(UnavailableFor);

    /// <summary>Whether shard <paramref name="index"/>'s "unavailable" mark, if any, was made at or before <paramref name="timestamp"/>.</summary>
    private bool MarkedBefore(int index, long timestamp) => _unavailableUntil[index] - Ticks(UnavailableFor) <= timestamp;

    private bool HomeFits(int homeIndex, int quantity) => homeIndex >= 0 && IsEligible(homeIndex, quantity, Now);

    /// <summary>
    /// Whether the view shows somewhere a keyed order could sell: the home itself, or <paramref name="candidates"/>
    /// (picked afresh) for it to forward to.
    /// </summary>
    private bool ViewHasRoom(int quantity, int homeIndex, int homeDatabase, out ImmutableArray<int> candidates)
    {
        candidates = PickCandidates(quantity, homeIndex, homeDatabase);
        return !candidates.IsEmpty || HomeFits(homeIndex, quantity);
    }

    /// <summary>
    /// Plans a pull over the view (<see cref="PullPlan"/>): <paramref name="receiver"/> pulls from
    /// <paramref name="donors"/> before it sells, and is <paramref name="avoid"/> only when no other shard can receive.
    /// False when the available shards together hold fewer than <paramref name="quantity"/>, or none can receive.
    /// </summary>
    private bool TryPlanPull(int quantity, int avoid, out int receiver, out ImmutableArray<int> donors)
    {
        var now = Now;
        // Silent shards neither receive nor give: a pull would wait on them. Marked out of routing for this moment only;
        // whether they are still silent is asked again at each pick.
        for (var index = 0; index < _unavailableUntil.Length; index++)
        {
            if (_watch!.IsSilent(index, now) && _unavailableUntil[index] <= now) _unavailableUntil[index] = now + 1;
        }
        if (!PullPlan.TryPlan(_remaining, _unavailableUntil, _retired, now, quantity, avoid, Random.Shared.Next(_remaining.Length), out receiver, out donors))
        {
            return false;
        }
        // The requests planning next (this reentrant grain's, while the pull runs) name other donors. A hint like the rest
        // of the view: the receiver's answer, other answers and the next refresh correct it.
        PullPlan.CountAsMoving(_remaining, receiver, donors, quantity);
        return true;
    }

    /// <summary>
    /// Takes the remaining count that the shard which sold an order reported with it: the home itself, or the shard it
    /// forwarded the order to. Without this a dispatcher of keyed purchases would learn of sales only from refusals and
    /// refreshes, and near the end would keep naming candidates that sold out long before. Returns the seller's index
    /// among this type's shards (-1 when the order id names none).
    /// </summary>
    private int ObserveSeller(OrderDetails order, long remaining)
    {
        var index = OrderId.ShardIndexOf(order.OrderId, _event!.Id, _type!.Id);
        if (index >= 0 && index < _remaining.Length) Observe(index, remaining);
        return index;
    }

    /// <summary>
    /// Lowers the view to the counts a home heard while it forwarded the order (<see cref="PurchaseResult.Sightings"/>),
    /// so that candidates that said they had no room are not named to the next buyers, who would each ask them again.
    /// Lowers only: heard before the answer came, a count may be older than another request's observation of the same
    /// shard since, and raising a shard that has sold out since would send buyers to ask it again. Raising is left to a
    /// seller's own count and to refreshes, which also undo a lowering that a gift since made wrong.
    /// </summary>
    private void ObserveSightings(PurchaseResult result)
    {
        if (result.Sightings.IsDefaultOrEmpty) return;
        foreach (var sighting in result.Sightings)
        {
            if (sighting.Index >= 0 && sighting.Index < _remaining.Length) Lower(sighting.Index, sighting.Sellable);
        }
    }


    /// <summary>Takes a shard's own report of its remaining tickets.</summary>
    private void Observe(int index, long remaining) => _remaining[index] = Math.Max(0, remaining);

    /// <summary>Lowers the view after a refusal: the shard has at most <paramref name="bound"/> left.</summary>
    private void Lower(int index, long bound) => _remaining[index] = Math.Min(_remaining[index], Math.Max(0, bound));

    private bool IsEligible(int index, int quantity, long now) =>
        _remaining[index] >= quantity && _unavailableUntil[index] <= now && !_watch!.IsSilent(index, now);

    /// <summary>A random eligible shard, scanning from a random start so load spreads evenly; -1 if none.</summary>
    private int PickShard(int quantity)
    {
        var now = Now;
        var count = _remaining.Length;
        var start = Random.Shared.Next(count);
        for (var step = 0; step < count; step++)
        {
            var index = (start + step) % count;
            if (IsEligible(index, quantity, now)) return index;
        }
        return -1;
    }

    /// <summary>
    /// Up to <see cref="CandidatesPerCall"/> shards the view says can take <paramref name="quantity"/>, from a random
    /// start, those on <paramref name="database"/> (the key's) first: the home forwards to one of those in one commit
    /// instead of two (InventoryShardGrain.Keys.cs).
    /// </summary>
    private ImmutableArray<int> PickCandidates(int quantity, int exclude, int database)
    {
        var now = Now;
        var count = _remaining.Length;
        var start = Random.Shared.Next(count);
        var picked = ImmutableArray.CreateBuilder<int>(CandidatesPerCall);
        Span<int> elsewhere = stackalloc int[CandidatesPerCall];
        var others = 0;
        for (var step = 0; step < count && picked.Count < CandidatesPerCall; step++)
        {
            var index = (start + step) % count;
            if (index == exclude || !IsEligible(index, quantity, now)) continue;
            if (_typeDatabases[index] == database) picked.Add(index);
            else if (others < CandidatesPerCall) elsewhere[others++] = index;
        }
        for (var i = 0; i < others && picked.Count < CandidatesPerCall; i++) picked.Add(elsewhere[i]);
        return picked.ToImmutable();
    }

    /// <summary>How many of the first <paramref name="candidates"/> are on <paramref name="database"/>.</summary>
    private int LocalCount(ImmutableArray<int> candidates, int database)
    {
        var local = 0;
        while (local < candidates.Length && _typeDatabases[candidates[local]] == database) local++;
        return local;
    }
}
