using System.Collections.Immutable;
using OrleansTickets.Dispatch;
using OrleansTickets.Events;
using OrleansTickets.Inventory;
using OrleansTickets.Sales;

namespace OrleansTickets.Catalog;

/// <summary>
/// The event's sales report, counted from every shard and the grants still pending: each answer to
/// <see cref="GetSales"/> from a read that began after the question, page views' answers from one read up to a second
/// old, and for a second after a read that timed out, that failure at once instead of another read.
/// </summary>
public sealed partial class TicketEventGrain
{
    private static readonly TimeSpan RecentSalesAge = TimeSpan.FromSeconds(1);
    private EventSales? _recentSales;
    private DateTimeOffset _recentSalesDoneAt;
    private string? _recentFailure;
    private DateTimeOffset _recentFailureAt;

    // A shard whose silo froze answers only at the 30 s call timeout; a page read gives up sooner (503, try again).
    private static readonly TimeSpan SalesQuestionTimeout = TimeSpan.FromSeconds(5);

    /// <inheritdoc />
    /// <remarks>
    /// Not interleaved with the catalog's other calls, on purpose: a grant being delivered is then either still
    /// pending or already taken in by its shard, so the count holds each ticket once. One exception: an offer that
    /// timed out leaves its grant pending, and if the shard took it in after all, both count it until a later
    /// redelivery tick's offer is answered "accepted" and drops it (ticks come every second; a shard still slow times
    /// out again): a capacity reported too high meanwhile, never a ticket sold twice (the grant's serials are the
    /// shard's alone). The price is that a read waiting on a slow shard holds the catalog, for at most
    /// <see cref="SalesQuestionTimeout"/>.
    /// </remarks>
    public Task<EventSales?> GetSales() => ReadUnlessJustFailedAsync();

    /// <summary>
    /// Reads the event's sales from its shards, unless a read just failed: the reads queued behind a failed one (each
    /// front end keeps one of its <c>/sales</c> readers' reads queued here, and page views queue theirs) get its
    /// failure at once, a 503 to their callers, instead of each holding the catalog for the whole timeout again, with
    /// operators' additions and the grant timer waiting behind them all. Only a failure is shared that way: an answer
    /// to <see cref="GetSales"/> always comes from a read that began after the question (see <c>SharedSalesReads</c>).
    /// </summary>
    private async Task<EventSales?> ReadUnlessJustFailedAsync()
    {
        if (_recentFailure is not null && clock.GetUtcNow() - _recentFailureAt < RecentSalesAge) throw new TimeoutException(_recentFailure);
        try
        {
            return await ReadSalesAsync();
        }
        catch (TimeoutException exception)
        {
            (_recentFailure, _recentFailureAt) = (exception.Message, clock.GetUtcNow());
            throw;
        }
    }

    private async Task<EventSales?> ReadSalesAsync()
    {
        var definition = (await StoredAsync())?.Definition;
        if (definition is null) return null;
        var askedAt = clock.GetUtcNow();
        // One deadline for the whole read, not one per ticket type: an event whose types each have a silent shard
        // would otherwise hold the catalog that many times over.
        var giveUpAt = askedAt + SalesQuestionTimeout;
        var types = ImmutableArray.CreateBuilder<TicketTypeSales>(definition.TicketTypes.Length);
        foreach (var type in definition.TicketTypes)
        {
            var shards = await Task.WhenAll(Enumerable.Range(0, type.Shards).Select(i =>
                GrainFactory.GetGrain<IInventoryShardGrain>(new ShardAddress(definition.Id, type.Id, i).Key).GetSales()))
                .WaitAsync(TimeSpan.FromTicks(Math.Max(0, (giveUpAt - clock.GetUtcNow()).Ticks)));
            // Counted from the shards, which hold the truth once tickets move: a type's capacity is what its shards
            // hold plus what is between them (gifts in transit, grants not yet delivered), and all of that is unsold.
            // The shards answer one by one while gifts move, so each gift is counted once by ShardCounts.
            var sold = shards.Sum(s => s.Sold);
            // Once every shard has said it is drained, none ever takes a grant in again: a pending one will be withdrawn
            // at its next offer, and is not for sale meanwhile. The dispatchers' own rule, so that both leave it out alike.
            var drained = DrainedType.Of(shards) is not null;
            var unsold = ShardCounts.Unsold(shards) + (drained ? 0 : PendingOf(type.Id));
            // A grant this activation saw taken in was taken in before these questions went out (the read does not
            // interleave with deliveries), so its shard's answer now counts it; one that does not is from before the
            // take-in: an activation replaced by a newer one, which does not know so yet. It is told, as a dispatcher's
            // refresh tells it, so that a report read when no buyer comes is not "unknown" for as long as it lives.
            var delivered = _stored!.DeliveredTo(type.Id);
            // Only reports that say they are known: the others leave the type unknown anyway, and their activations
            // (never loaded, or fenced already) have nothing to step down from.
            var behind = ShardCounts.BehindGrants(shards.Where(s => s.Known), delivered);
            foreach (var shard in behind)
            {
                GrainFactory.GetGrain<IInventoryShardGrain>(new ShardAddress(definition.Id, type.Id, shard.Index).Key)
                    .StepDownIfBehind(delivered[shard.Index]).Ignore();
            }
            var missesGrants = behind.Count > 0;
            types.Add(new TicketTypeSales(type.Id, sold + unsold, sold, unsold, [.. shards], missesGrants));
        }
        // Dated by when it ended: the page views queued behind this read share it (see GetRecentSales).
        _recentSales = new EventSales(definition.Id, types.MoveToImmutable());
        _recentSalesDoneAt = clock.GetUtcNow();
        return _recentSales;
    }

    /// <inheritdoc />
    public async Task<EventSales?> GetRecentSales()
    {
        var now = clock.GetUtcNow();
        // Fresh for a second after the read that made it ended, not after it began: page views queue behind a read
        // (this grain does not interleave), and with reads of a second or more (many ticket types, a slow shard) none
        // would ever find the last one fresh, so each would run a whole read of its own, one after the other, until the
        // queue met the call timeout, with operators' additions and the grant timer waiting behind it.
        if (_recentSales is not null && now - _recentSalesDoneAt < RecentSalesAge) return _recentSales;
        return await ReadUnlessJustFailedAsync();
    }
}
