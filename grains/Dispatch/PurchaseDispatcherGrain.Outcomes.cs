using Microsoft.Extensions.Logging;
using OrleansTickets.Inventory;
using OrleansTickets.Orders;

namespace OrleansTickets.Dispatch;

/// <summary>
/// Orders without a key whose answer was lost: the shard is asked again for the order, under the id this dispatcher
/// minted for it, until it says whether it made it.
/// </summary>
public sealed partial class PurchaseDispatcherGrain
{
    /// <summary>
    /// Asks shard <paramref name="index"/> again, naming the order id of <paramref name="purchase"/> as not fresh, until
    /// it answers with that order (<see cref="PurchaseStatus.Replayed"/>: made by the first message, or now), or refuses it
    /// for good (<see cref="PurchaseStatus.SoldOut"/>: nothing was sold, and nothing ever will be under that id, so
    /// another shard may sell); <see cref="PurchaseResult.Failed"/> when the buyer's patience ends first.
    /// </summary>
    /// <remarks>
    /// Invariant: a keyless buyer is sold at most one order per purchase, and is told of any order made. Without a key,
    /// only the shard can say what a message whose answer was lost did (its silo declared dead, or leaving, or slow
    /// past the patience): selling at another shard meanwhile could sell twice. The shard makes the order at most once,
    /// whichever of the two messages comes first or runs on which activation (see <c>SellForwardedAsync</c>): the
    /// first is delivered at most once; an ask again that meets it still running shares its answer, and one that finds
    /// neither the order nor room commits the id's refusal before it answers, which the first, arriving later, meets.
    /// An older activation still running the first message on a silo being declared dead cannot commit once the
    /// activation that answers here has claimed the shard. An exception or an unclear answer ("unavailable": its
    /// database could not be read, say) says nothing, and the shard is asked again after a pause, doubled each time up
    /// to 800 ms: a shard whose database is down answers "unavailable" at once, and every buyer in doubt asks it.
    /// Nothing is asked once the patience is over: a first call that timed out, or whose silo was declared dead only
    /// then (a crash, with liveness settings slower than the patience), has its buyer told "outcome unknown" at once.
    /// </remarks>
    private async Task<PurchaseResult> AskAgainAsync(int index, ShardPurchase purchase, long giveUpAt)
    {
        var again = purchase with { FreshOrderId = false };
        var pause = RetryPause * 5;
        while (Now < giveUpAt)
        {
            metrics.Paused(retry: true);
            await Task.Delay(pause);
            pause = TimeSpan.FromTicks(Math.Min(pause.Ticks * 2, (RetryPause * 80).Ticks));
            PurchaseResult answer;
            try
            {
                answer = await CallShardAsync(Shard(index), index, again, giveUpAt);
            }
            catch (Exception exception)
            {
                LogAskAgainFailed(_logger, exception, _type!.Id, index);
                continue;
            }
            if (answer.Status is PurchaseStatus.Created or PurchaseStatus.Replayed or PurchaseStatus.SoldOut) return answer;
        }
        return PurchaseResult.Failed;
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "A purchase of {TicketType} without a key: asking shard {Index} again for its order failed; asked again while the buyer's patience lasts")]
    private static partial void LogAskAgainFailed(ILogger logger, Exception exception, string ticketType, int index);
}
