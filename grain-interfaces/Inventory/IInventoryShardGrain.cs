using OrleansTickets.Orders;
using OrleansTickets.Sales;

namespace OrleansTickets.Inventory;

/// <summary>
/// Owns one block of serials of one ticket type and sells from it, persisting every order in its shard database.
/// Keyed by <c>event/type/index</c> (see <see cref="Events.ShardAddress"/>).
/// </summary>
public interface IInventoryShardGrain : IGrainWithStringKey
{
    /// <summary>
    /// Sells tickets from this shard. When the request carries an idempotency key this shard may be the key's
    /// home, which records the key and may forward the order to one of the candidates.
    /// </summary>
    Task<PurchaseResult> Purchase(ShardPurchase purchase);

    /// <summary>
    /// Sells an order a key's home forwarded here (<see cref="ShardPurchase.ForwardedOrderId"/>, fresh) and records
    /// the home's key with it, in the same commit, while the home still holds the epoch it names
    /// (<see cref="ShardPurchase.Home"/>). A method of its own, so that a shard of a build without it fails the call
    /// instead of selling the order without the key.
    /// </summary>
    Task<PurchaseResult> PurchaseForHome(ShardPurchase purchase);

    /// <summary>
    /// Reads a committed order held by this shard, or null; throws <see cref="ShardUnavailableException"/> when its
    /// database cannot be read or the catalog cannot tell it where it lives yet, and <see cref="ShardBusyException"/>
    /// when other page loads keep its database's lookup connections busy. Ask only shards the event has. Cancelling
    /// <paramref name="cancellationToken"/> (a buyer who left the page) gives the lookup's place up, and on PostgreSQL
    /// stops its query; on SQLite, whose reads run synchronously, only a lookup still waiting for a connection stops.
    /// </summary>
    Task<OrderDetails?> GetOrder(string orderId, CancellationToken cancellationToken = default);

    /// <summary>This shard's exact committed sales and status.</summary>
    Task<ShardSales> GetSales();

    /// <summary>
    /// This shard's sales, as <see cref="GetSales"/> reports them, once the commit that takes the sales and gifts
    /// reserved here when it was asked has ended, or after <paramref name="longest"/>, whichever comes first; at once
    /// when nothing is reserved. For a dispatcher whose buyers found only reserved tickets: they learn as soon as the
    /// tickets sold or came free, instead of after a fixed pause.
    /// </summary>
    Task<ShardSales> GetSalesAfterCommit(TimeSpan longest);

    /// <summary>
    /// How many tickets this shard could sell at this moment, by its memory: unsold and not promised to a sale or gift
    /// in progress. -1 when it cannot say: it cannot load its state (its database was unreachable when it tried, or a
    /// newer activation fenced it) or is not a shard of any event. Asking a shard that is not active activates it, which claims its
    /// database row. The count <see cref="HoldForForward"/> answers, without holding anything: a reading for operators
    /// and tests, not a promise.
    /// </summary>
    Task<long> GetSellable();

    /// <summary>
    /// Asked by a home about to forward order <paramref name="orderId"/> here: says, as <see cref="GetSellable"/> does,
    /// how many tickets this shard could sell, and when that covers <paramref name="quantity"/>, holds that many for the
    /// order for a short while, so that buyers arriving meanwhile cannot take them before it comes. The hold ends when
    /// the order arrives, when <see cref="ReleaseHold"/> is called, or by itself after a couple of seconds. It is memory
    /// only, a better hint rather than a promise: nothing is written, and the order may still be refused.
    /// </summary>
    Task<long> HoldForForward(string orderId, int quantity);

    /// <summary>Ends the hold for <paramref name="orderId"/>, if any: its home will not forward it after all.</summary>
    Task ReleaseHold(string orderId);

    /// <summary>
    /// Escrow, donor side: gives up to <paramref name="maxQuantity"/> unsold serials to <paramref name="receiverKey"/>.
    /// The gift is durable here before it is delivered, and delivery is retried until the receiver took it in.
    /// </summary>
    /// <returns>How many serials the receiver has taken in by the time this returns (0 when none could be given).</returns>
    Task<long> GiveTickets(string transferId, string receiverKey, long maxQuantity);

    /// <summary>Escrow, receiver side: takes a transfer in, durably and at most once.</summary>
    Task<TransferOutcome> AcceptTransfer(TicketTransfer transfer);

    /// <summary>
    /// Told by a dispatcher's refresh, or the catalog's sales read, that the catalog saw this shard take in operators'
    /// grants of <paramref name="delivered"/> tickets in all. An activation whose <see cref="Sales.ShardSales.GrantedIn"/>
    /// counts fewer answers from before a take-in: if the database holds a newer activation's epoch, this one was
    /// replaced (a membership change), which only a commit of its own would tell it otherwise, and it stops as a fenced
    /// one does, so that the next call meets one that reads the database. If the epoch is its own, the database lost the
    /// take-in (restored from an older backup): it stays, and logs an error.
    /// </summary>
    /// <returns>Whether this activation stopped.</returns>
    Task<bool> StepDownIfBehind(long delivered);

    /// <summary>
    /// Stops taking tickets in and offers every unsold serial of this shard to the other shards of its type, e.g. before
    /// its database is retired. Sold tickets stay where they are. The result says what moved, what is still on its way
    /// and what is left; draining again is safe, and goes on where a drain cut short (by its time budget, or by its silo
    /// beginning to stop) left off.
    /// </summary>
    Task<DrainResult> Drain();
}
