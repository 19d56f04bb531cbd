using System.Collections.Concurrent;
using OrleansTickets.Events;

namespace OrleansTickets.Inventory;

/// <summary>
/// Shards that lately left an order a home sent them straight (without asking for room first), or a question for
/// room, unanswered; shared by every home on the silo.
/// </summary>
/// <remarks>
/// A home sends a new key's order straight to a candidate on its own database (InventoryShardGrain.Keys.cs): a
/// question first would be one more round trip for every forward at the end of a sale. A candidate that does not
/// answer (its silo froze, or left without saying so) costs that buyer the order's time-out and then the
/// fallback's, since its order may have been made: the home reserves the key for that order, and the buyer's retries
/// replay it on that shard until it answers. A question's time-out costs nothing but time, so for
/// <see cref="AskFirstFor"/> after such a silence (renewed by every question it leaves unanswered) every home on the
/// silo asks that shard first again, and one buyer, not one per home, pays for finding out.
/// </remarks>
public sealed class SilentCandidates(TimeProvider clock)
{
    /// <summary>How long homes ask a shard that left an order unanswered before sending it one again.</summary>
    public static readonly TimeSpan AskFirstFor = TimeSpan.FromSeconds(10);

    // Shards are named by event definitions, not by buyers, but the memory is bounded all the same.
    private const int MaxEntries = 100_000;
    private readonly ConcurrentDictionary<ShardAddress, long> _silentAt = new();

    /// <summary>Records that <paramref name="shard"/> did not answer an order or a question sent to it.</summary>
    public void MarkSilent(ShardAddress shard)
    {
        if (_silentAt.Count < MaxEntries || _silentAt.ContainsKey(shard)) _silentAt[shard] = clock.GetTimestamp();
    }

    /// <summary>Whether <paramref name="shard"/> left an order unanswered within the last <see cref="AskFirstFor"/>.</summary>
    public bool WasSilentLately(ShardAddress shard)
    {
        // TryGetValue takes no lock; IsEmpty would take them all on the empty dictionary of a healthy sale.
        if (!_silentAt.TryGetValue(shard, out var at)) return false;
        if (clock.GetElapsedTime(at) < AskFirstFor) return true;
        _silentAt.TryRemove(KeyValuePair.Create(shard, at));
        return false;
    }
}
