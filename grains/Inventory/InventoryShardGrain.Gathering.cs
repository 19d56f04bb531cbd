using Microsoft.Extensions.Logging;
using OrleansTickets.Diagnostics;
using OrleansTickets.Events;

namespace OrleansTickets.Inventory;

/// <summary>Gathering: a shard left with fewer tickets than one order may take hands them to a collector.</summary>
/// <remarks>
/// <para>
/// Why: at the end of a sale hundreds of shards would each hold one to three tickets. An order for more than its
/// shard holds then needs a pull, a chain of commits on the buyer's path, and buyers who ask for fewer tickets chase
/// fragments from shard to shard. Handed over as they appear, the fragments end up on a few shards that can serve
/// whole orders. The gift happens off the buyer's path, after the commit that left the remainder.
/// </para>
/// <para>
/// Collectors are the first <see cref="RemainderCollectors"/> shards of each type; shard i gives to shard
/// i mod <see cref="RemainderCollectors"/>. Four rather than one, so that the late orders of a big type commit on four
/// shards instead of queueing on one (one collector per type was measured first and gained nothing at 150,000
/// tickets; docs/benchmarks.md, twelfth session). Collectors never give, so a type of four shards or fewer does not
/// gather at all.
/// </para>
/// <para>
/// What keeps it exact: the gift is an escrow transfer (InventoryShardGrain.Transfers.cs). Its tickets are reserved
/// in the turn that decides the gift, so no sale can take them; the cut and the record of the gift are one fenced
/// commit; and until the collector holds them they count as in transit, which the dispatchers' sold-out verdict adds
/// in. A collector that is retired refuses, and the giver takes the tickets back. Of two activations of one shard
/// during a membership change, only the one holding the shard's epoch can commit, so the other's gift never happens
/// (and its reservation is released with its failed commit).
/// </para>
/// </remarks>
public sealed partial class InventoryShardGrain
{
    /// <summary>How many shards of a type collect the others' last tickets.</summary>
    public const int RemainderCollectors = 4;

    // Once per activation for a gift that was recorded: one the collector refused comes back, and giving it again would
    // loop. A gathering that recorded nothing (the collector could not answer, the commit failed, nothing was left
    // unreserved) clears it, so a later commit may gather what stayed here; otherwise a database that blinked at that
    // moment left this shard's last tickets scattered for the rest of the sale. A later activation may gather again,
    // which is harmless.
    private bool _gathered;

    /// <summary>
    /// Gives this shard's unreserved tickets to its collector when there are fewer than one order may take. Called
    /// after a commit, before its buyers are answered, so the remaining count those answers carry (which dispatchers
    /// take into their views after an unkeyed sale) already excludes the gift.
    /// </summary>
    private void GatherRemainder()
    {
        if (_gathered || _retired || _placement is null || _address.Index < RemainderCollectors) return;
        var remaining = Remaining;
        if (remaining <= 0 || remaining >= _placement.MaxPerOrder) return;
        _gathered = true;
        var collector = new ShardAddress(_address.EventId, _address.TicketTypeId, _address.Index % RemainderCollectors);
        // Held from this turn on, so the answers of the commit that left the remainder already exclude it.
        _pendingQuantity += remaining;
        _ = GatherAsync(collector, remaining);
    }

    private async Task GatherAsync(ShardAddress collector, long quantity)
    {
        // A gift recorded for a collector that cannot take it in (its silo not answering, its database down) would be
        // sellable by nobody until it could: the collector is asked first, and if it cannot, the tickets stay here to
        // be sold. A later commit of this shard may try again. The question is a buyer's wait (the tickets are held
        // while it is asked), so it gets the buyer path's limit, not a drain's.
        var ready = await CanTakeInNowAsync(collector, CrossShardTimeout);
        _pendingQuantity -= quantity;
        if (_retired)
        {
            // Drained while the question was out: the drain's walk could not see these tickets, so they go on, to any
            // shard that takes them, not only the collector.
            HandOnLater();
            return;
        }
        if (!ready)
        {
            _gathered = false;
            return;
        }
        metrics.TransferAsked(TransferReason.Gather);
        // Released and taken again by RecordGiftAsync in this same turn (it reserves before its first await), so no sale
        // slips in between; only what is still unreserved is given.
        var give = Math.Min(quantity, Remaining);
        if (give <= 0)
        {
            _gathered = false;
            return;
        }
        var record = RecordGiftAsync(Guid.NewGuid().ToString("N"), collector.Key, give);
        try
        {
            if (await record is not { } outgoing)
            {
                _gathered = false;
                return;
            }
            await DeliverAsync(outgoing);
        }
        catch (Exception exception)
        {
            // Nothing is lost: a recorded gift is delivered by the retry timer or the next activation.
            LogGatherFailed(_logger, exception, _address.Key, collector.Key);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Shard {Shard}: giving its last tickets to {Collector} failed")]
    private static partial void LogGatherFailed(ILogger logger, Exception exception, string shard, string collector);
}
